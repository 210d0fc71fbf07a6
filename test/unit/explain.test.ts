import t from 'tap';
import { explain, type Explanation } from '../../src/segments/explain.ts';
import { evaluate, validateRule, type Rule } from '../../src/segments/rule.ts';
import { parseRuleText } from '../../src/segments/rule-text.ts';
import { factsFor, Generator } from './rule-generator.ts';

const MIN = 60_000;
const DAY = 24 * 60 * MIN;
const NOW = Date.UTC(2024, 4, 1, 12);

void t.test('each condition with its result, text and observed value', async (t) => {
  const rule = parseRuleText('plan = "pro" and (count(Purchase where category = "shoes") in last 7 days >= 2 or sum(Purchase.revenue) in last 30 days >= 100) and not segment(churned) and nickname exists');
  const events = [
    { event: 'Purchase', at: NOW - 2 * DAY, properties: { category: 'shoes', revenue: 80 } },
    { event: 'Purchase', at: NOW - 10 * DAY, properties: { category: 'shoes', revenue: 30 } },
  ];
  const facts = factsFor([rule], events, { now: NOW, traits: { plan: 'pro' }, segments: new Set(['churned']) });
  const e = explain(rule, facts);
  t.strictSame(e, {
    all: [
      { condition: { trait: 'plan', op: 'eq', value: 'pro' }, text: 'plan = "pro"', result: true, observed: 'pro' },
      {
        any: [
          { condition: (rule as { all: { any: Rule[] }[] }).all[1]?.any[0], text: 'count(Purchase where category = "shoes") in last 7 days >= 2', result: false, observed: 1 },
          { condition: (rule as { all: { any: Rule[] }[] }).all[1]?.any[1], text: 'sum(Purchase.revenue) in last 30 days >= 100', result: true, observed: 110 },
        ],
        result: true,
      },
      { not: { condition: { segment: 'churned' }, text: 'segment(churned)', result: true, observed: true }, result: false },
      { condition: { trait: 'nickname', op: 'exists' }, text: 'nickname exists', result: false, observed: undefined },
    ],
    result: false,
  }, 'every child is explained, even after the first false one');
});

void t.test('observed values per kind', async (t) => {
  const observed = (text: string, events: { event: string; at: number; properties?: Record<string, number> }[] = [], lastSeen?: number) => {
    const rule = parseRuleText(text);
    const e = explain(rule, factsFor([rule], events, { now: NOW, ...(lastSeen === undefined ? {} : { lastSeen }) }));
    return 'condition' in e ? e.observed : 'not a condition';
  };
  t.equal(observed('min(P.v) in last 1 day < 3'), null, 'min of nothing');
  t.equal(observed('max(P.v) > 3', [{ event: 'P', at: NOW, properties: { v: 4 } }]), 4);
  t.equal(observed('never(P) in last 1 day', [{ event: 'P', at: NOW - MIN }]), 1, 'not_did shows the count');
  t.equal(observed('last seen within 1 day', [], NOW - 5 * MIN), NOW - 5 * MIN);
  t.equal(observed('last(P) within 1 day'), null, 'never seen');
  t.strictSame(observed('sequence(A, B) within 1 hour', [{ event: 'A', at: NOW - 30 * MIN }, { event: 'B', at: NOW - 10 * MIN }]), [NOW - 30 * MIN, NOW - 10 * MIN], 'the matched times');
  t.equal(observed('sequence(A, B) within 1 hour', [{ event: 'B', at: NOW - 30 * MIN }]), null);
  t.equal(observed('segment(x)'), false);
  t.equal(observed('d before 1 day ago'), undefined, 'missing trait');
});

void t.test('the root result is evaluate(); groups agree with their children', async (t) => {
  const g = new Generator(99);
  for (let i = 0; i < 300; i++) {
    const rule = validateRule(g.rule());
    const events = Array.from({ length: 6 }, () => ({ event: g.pick(['Purchase', 'count', 'Add To Cart', 'x1']), at: NOW - g.int(0, 3000) * MIN, properties: { plan: 'pro', age: g.int(0, 3) } }));
    const facts = factsFor([rule], events, { now: NOW, traits: { plan: 'pro', age: 30, signup_at: '2024-01-31', count: [1, 'pro'] }, segments: new Set(['churned']) });
    const e = explain(rule, facts);
    t.equal(e.result, evaluate(rule, facts), `rule ${i}`);
    const check = (x: Explanation): boolean => {
      if ('all' in x) return x.all.every(check) && x.result === x.all.every((c) => c.result);
      if ('any' in x) return x.any.every(check) && x.result === x.any.some((c) => c.result);
      if ('not' in x) return check(x.not) && x.result === !x.not.result;
      return true;
    };
    t.ok(check(e), `rule ${i}: consistent tree`);
  }
});
