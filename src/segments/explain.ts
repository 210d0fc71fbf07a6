import type { Json } from '../json.ts';
import { observe, type Condition, type ProfileFacts, type Rule } from './rule.ts';
import { printRule } from './rule-text.ts';

/**
 * A rule annotated with each node's result; conditions also carry their text form and what they
 * observed (see Observation). Every node is evaluated, so a false `all` still shows each child.
 */
export type Explanation =
  | { readonly all: readonly Explanation[]; readonly result: boolean }
  | { readonly any: readonly Explanation[]; readonly result: boolean }
  | { readonly not: Explanation; readonly result: boolean }
  | { readonly condition: Condition; readonly text: string; readonly result: boolean; readonly observed: Json | undefined };

/** Why the facts do or do not satisfy the rule; `result` of the root equals evaluate(rule, facts). */
export function explain(rule: Rule, facts: ProfileFacts): Explanation {
  if ('all' in rule) {
    const all = rule.all.map((r) => explain(r, facts));
    return { all, result: all.every((e) => e.result) };
  }
  if ('any' in rule) {
    const any = rule.any.map((r) => explain(r, facts));
    return { any, result: any.some((e) => e.result) };
  }
  if ('not' in rule) {
    const not = explain(rule.not, facts);
    return { not, result: !not.result };
  }
  const { result, observed } = observe(rule, facts);
  return { condition: rule, text: printRule(rule), result, observed };
}
