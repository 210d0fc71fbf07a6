import t from 'tap';
import { bidRequestProblem } from '../../src/targeting/openrtb-check.ts';
import { schemaProblem } from '../../src/targeting/openrtb.ts';
import { FIXTURES, multiMutations, singleMutations, type Json } from '../support/openrtb-mutations.ts';

// parseBidRequest checks requests with bidRequestProblem, a hand-written check that must give the
// answer of the zod schema (the declaration and reference): the same first problem, at the same
// path, in the same words. Compared here on every fixture under thousands of mutations: each field
// the schema knows (and some it does not) deleted or replaced by values of every JSON type, one at
// a time and several at once.

function compare(doc: Json, label: string, mismatches: string[]): void {
  const parsed = JSON.parse(JSON.stringify(doc)) as Record<string, unknown>;
  const fast = bidRequestProblem(parsed);
  const reference = schemaProblem(parsed);
  const shown = (p: typeof fast): string => (p === undefined ? 'none' : `${p.path.join('.')}: ${p.message}`);
  if (shown(fast) !== shown(reference)) {
    mismatches.push(`${label}: check ${shown(fast)} vs schema ${shown(reference)}`);
  }
}

void t.test('the check and the schema agree on every fixture, one mutation at a time', async (t) => {
  let compared = 0;
  for (const name of FIXTURES) {
    const mismatches: string[] = [];
    for (const { doc, label } of singleMutations(name)) {
      compare(doc, label, mismatches);
      compared += 1;
    }
    t.strictSame(mismatches.slice(0, 20), [], `${name}: ${mismatches.length} disagreements`);
  }
  t.ok(compared > 10_000, `${compared} mutated requests compared`);
});

void t.test('the check and the schema agree under several mutations at once', async (t) => {
  const mismatches: string[] = [];
  let refused = 0;
  for (const { doc, label } of multiMutations(20261129, 3000)) {
    if (bidRequestProblem(JSON.parse(JSON.stringify(doc)) as Record<string, unknown>) !== undefined) refused += 1;
    compare(doc, label, mismatches);
  }
  t.strictSame(mismatches.slice(0, 20), [], `${mismatches.length} disagreements in 3000 requests`);
  t.ok(refused > 1000 && refused < 3000, `both accepted and refused requests were compared (${refused} refused)`);
});
