import type { Json, JsonObject } from '../json.ts';
import { PulseError } from '../errors.ts';

/**
 * A segment rule: a condition tree. Leaves compare a trait or count an event; `all`, `any` and
 * `not` combine them.
 */
export type Rule =
  | { readonly all: readonly Rule[] }
  | { readonly any: readonly Rule[] }
  | { readonly not: Rule }
  | TraitCondition
  | EventCondition;

/** `{"trait": "plan", "op": "eq", "value": "pro"}`; `exists` takes no value. */
export type TraitCondition =
  | { readonly trait: string; readonly op: 'eq' | 'neq'; readonly value: Json }
  | { readonly trait: string; readonly op: 'exists' };

/** `{"event": "Purchase", "op": "gte", "count": 2}`: the person did the event at least N times. */
export interface EventCondition {
  readonly event: string;
  readonly op: 'gte';
  readonly count: number;
}

/** What a rule is evaluated against. */
export interface ProfileFacts {
  readonly traits: JsonObject;
  readonly eventCounts: Readonly<Record<string, number>>;
}

const MAX_DEPTH = 16;
const MAX_NODES = 256;

/** Parses and validates a rule given as JSON text; INVALID_ARGUMENT names the place (`rule.all[1].op`). */
export function parseRule(text: string): Rule {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new PulseError('INVALID_ARGUMENT', `rule: not valid JSON (${(err as Error).message})`, { field: 'rule' });
  }
  const counter = { nodes: 0 };
  return validate(data, 'rule', 0, counter);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function validate(node: unknown, at: string, depth: number, counter: { nodes: number }): Rule {
  const bad = (msg: string, where = at): never => {
    throw new PulseError('INVALID_ARGUMENT', `${where}: ${msg}`, { field: where });
  };
  if (++counter.nodes > MAX_NODES) bad(`more than ${MAX_NODES} conditions`);
  if (depth > MAX_DEPTH) bad(`nested deeper than ${MAX_DEPTH}`);
  if (!isObject(node)) return bad('must be an object');
  const keys = Object.keys(node);
  const only = (allowed: readonly string[]) => {
    for (const k of keys) if (!allowed.includes(k)) bad(`unknown key ${JSON.stringify(k)} (allowed: ${allowed.join(', ')})`);
  };
  if ('all' in node || 'any' in node) {
    const kind = 'all' in node ? 'all' : 'any';
    only([kind]);
    const list = node[kind];
    if (!Array.isArray(list) || list.length === 0) return bad('must be a non-empty list', `${at}.${kind}`);
    const children = list.map((c, i) => validate(c, `${at}.${kind}[${i}]`, depth + 1, counter));
    return kind === 'all' ? { all: children } : { any: children };
  }
  if ('not' in node) {
    only(['not']);
    return { not: validate(node['not'], `${at}.not`, depth + 1, counter) };
  }
  if ('trait' in node) {
    const trait = node['trait'];
    if (typeof trait !== 'string' || trait === '' || trait.length > 256) bad('must be a trait name (1-256 characters)', `${at}.trait`);
    const op = node['op'];
    if (op === 'exists') {
      only(['trait', 'op']);
      return { trait: trait as string, op };
    }
    if (op !== 'eq' && op !== 'neq') return bad('must be one of eq, neq, exists', `${at}.op`);
    only(['trait', 'op', 'value']);
    if (!('value' in node)) bad('required for eq and neq', `${at}.value`);
    return { trait: trait as string, op, value: node['value'] as Json };
  }
  if ('event' in node) {
    only(['event', 'op', 'count']);
    const event = node['event'];
    if (typeof event !== 'string' || event === '' || event.length > 256) bad('must be an event name (1-256 characters)', `${at}.event`);
    if (node['op'] !== 'gte') bad('must be gte (did the event at least `count` times)', `${at}.op`);
    const count = node['count'];
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 1) bad('must be an integer >= 1', `${at}.count`);
    return { event: event as string, op: 'gte', count: count as number };
  }
  return bad('must have one of all, any, not, trait, event');
}

/** True when the facts satisfy the rule. Pure and total. */
export function evaluate(rule: Rule, facts: ProfileFacts): boolean {
  if ('all' in rule) return rule.all.every((r) => evaluate(r, facts));
  if ('any' in rule) return rule.any.some((r) => evaluate(r, facts));
  if ('not' in rule) return !evaluate(rule.not, facts);
  if ('trait' in rule) {
    const has = Object.hasOwn(facts.traits, rule.trait);
    if (rule.op === 'exists') return has && facts.traits[rule.trait] !== null;
    const equal = has && jsonEqual(facts.traits[rule.trait] ?? null, rule.value);
    return rule.op === 'eq' ? equal : !equal;
  }
  return (facts.eventCounts[rule.event] ?? 0) >= rule.count;
}

/** Structural equality of JSON values (object key order ignored). */
export function jsonEqual(a: Json, b: Json): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i] ?? null));
  }
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k] ?? null, b[k] ?? null));
}
