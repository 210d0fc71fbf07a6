import type { Json, JsonObject } from '../../src/json.ts';
import { features, featureOccurrence, type FeatureData } from '../../src/segments/features.ts';
import { TIME_UNITS, type ProfileFacts, type Rule } from '../../src/segments/rule.ts';

/** A small seeded PRNG (mulberry32), so a failing generated case can be replayed. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random canonical rules, property filters and JSON values. */
export class Generator {
  readonly #r: () => number;

  constructor(seed: number) {
    this.#r = random(seed);
  }

  int(lo: number, hi: number): number {
    return lo + Math.floor(this.#r() * (hi - lo + 1));
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)] as T;
  }

  chance(p: number): boolean {
    return this.#r() < p;
  }

  /** Names that need quoting as well as plain ones. */
  name(): string {
    return this.pick(['plan', 'age', 'signup_at', '$page', 'Purchase', 'count', 'first name', 'Add To Cart', 'a"b', 'back\\slash', 'é', 'tab\there', 'x1', '_y', 'not', 'days', '0lead', 'a-b', 'line\nbreak', '\u2028']);
  }

  number(): number {
    return this.pick([0, 1, 2, 7, -1, -250, 1.5, -3.25, 0.001, 1e21, 123456789, 2 ** 53]);
  }

  string(): string {
    return this.pick(['', 'pro', 'free', 'a "quoted" word', 'back\\slash', 'ünïcødé', '😀', '\u0001\u001f', 'line\nbreak', '2024-01-31', 'and', '{[]}']);
  }

  json(depth = 0): Json {
    const kind = this.int(0, depth > 2 ? 3 : 5);
    switch (kind) {
      case 0: return this.string();
      case 1: return this.number();
      case 2: return this.pick([true, false]);
      case 3: return null;
      case 4: return Array.from({ length: this.int(0, 3) }, () => this.json(depth + 1));
      default: {
        const o: JsonObject = {};
        for (let i = this.int(0, 3); i > 0; i--) o[this.string()] = this.json(depth + 1);
        return o;
      }
    }
  }

  date(): string | number {
    return this.pick(['2024-01-31', '2024-02-29T12:00:00Z', '2023-12-31T23:59:59.999+02:00', '1999-01-01 00:00', 1_714_564_800_000, 0, -86_400_000]);
  }

  unit(): (typeof TIME_UNITS)[number] {
    return this.pick(TIME_UNITS);
  }

  duration(): { last: number; unit: (typeof TIME_UNITS)[number] } {
    return { last: this.pick([1, 2, 7, 30, 10_000]), unit: this.unit() };
  }

  window(): Record<string, unknown> {
    return this.chance(0.7) ? this.duration() : this.pick([{ from: '2024-01-01', to: '2024-02-01' }, { from: '2023-12-31T23:00:00Z', to: '2024-01-01T01:00:00+01:00' }]);
  }

  fieldTest(relative: boolean): Record<string, unknown> {
    const op = this.pick(['eq', 'neq', 'in', 'not_in', 'contains', 'gt', 'gte', 'lt', 'lte', 'between', 'exists', 'not_exists', 'before', 'after']);
    switch (op) {
      case 'exists':
      case 'not_exists':
        return { op };
      case 'in':
      case 'not_in':
        return { op, value: Array.from({ length: this.int(1, 3) }, () => this.json(1)) };
      case 'gt':
      case 'gte':
      case 'lt':
      case 'lte':
        return { op, value: this.chance(0.5) ? this.number() : this.string() };
      case 'between': {
        if (this.chance(0.5)) {
          const [a, b] = [this.number(), this.number()].sort((x, y) => x - y);
          return { op, value: [a, b] };
        }
        const [a, b] = [this.string(), this.string()].sort();
        return { op, value: [a, b] };
      }
      case 'before':
      case 'after':
        if (relative && this.chance(0.5)) {
          return { op, relative: this.chance(0.5) ? { ago: this.pick([0, 1, 30]), unit: this.unit() } : { from_now: this.pick([1, 7]), unit: this.unit() } };
        }
        return { op, value: this.date() };
      default:
        return { op, value: this.json() };
    }
  }

  filter(depth: number): Record<string, unknown> {
    if (depth < 3 && this.chance(0.3)) {
      const kind = this.pick(['all', 'any', 'not']);
      if (kind === 'not') return { not: this.filter(depth + 1) };
      return { [kind]: Array.from({ length: this.int(1, 3) }, () => this.filter(depth + 1)) };
    }
    return { property: this.name(), ...this.fieldTest(false) };
  }

  scope(): Record<string, unknown> {
    return { ...(this.chance(0.4) ? { where: this.filter(0) } : {}), ...(this.chance(0.6) ? { window: this.window() } : {}) };
  }

  condition(): Record<string, unknown> {
    switch (this.int(0, 6)) {
      case 0:
      case 1:
        return { trait: this.name(), ...this.fieldTest(true) };
      case 2: {
        const aggregate = this.chance(0.5) ? { aggregate: { fn: this.pick(['sum', 'min', 'max']), property: this.name() } } : {};
        const count = !('aggregate' in aggregate);
        const amount = () => (count ? this.pick([0, 1, 2, 10]) : this.number());
        let comparison: Record<string, unknown>;
        if (this.chance(0.2)) {
          const [a, b] = [amount(), amount()].sort((x, y) => x - y);
          comparison = { op: 'between', value: [a, b] };
        } else {
          const op = this.pick(['gte', 'gt', 'eq', 'lte', 'lt']);
          // count eq 0 is written never(...): the canonical tree has no such event condition.
          comparison = { op, value: count && op === 'eq' ? this.pick([1, 3]) : amount() };
        }
        return { event: this.name(), ...this.scope(), ...aggregate, ...comparison };
      }
      case 3:
        return { not_did: this.name(), ...this.scope() };
      case 4: {
        const event = this.chance(0.5) ? { event: this.name(), ...(this.chance(0.5) ? { where: this.filter(0) } : {}) } : {};
        return { recency: { within: this.duration(), ...event } };
      }
      case 5:
        return {
          sequence: Array.from({ length: this.int(2, 4) }, () => (this.chance(0.6) ? this.name() : { event: this.name(), where: this.filter(1) })),
          ...(this.chance(0.6) ? { within: this.duration() } : {}),
          ...(this.chance(0.4) ? { window: this.window() } : {}),
        };
      default:
        return { segment: this.pick(['pro-buyers', 'churned', '0', 'a_b', 'not', 'all']) };
    }
  }

  rule(depth = 0): Record<string, unknown> {
    if (depth < 4 && this.chance(0.45)) {
      const kind = this.pick(['all', 'any', 'not']);
      if (kind === 'not') return { not: this.rule(depth + 1) };
      return { [kind]: Array.from({ length: this.int(1, 4) }, () => this.rule(depth + 1)) };
    }
    return this.condition();
  }
}

/** A raw event as a store sees it. */
export interface TestEvent {
  readonly event: string;
  readonly at: number;
  readonly properties?: JsonObject;
}

/**
 * Facts as a store would build them for `rules` from a list of events: every feature with all its
 * occurrences (sorted) and totals, all-time counts by name, last seen.
 */
export function factsFor(rules: readonly Rule[], events: readonly TestEvent[], over: Partial<ProfileFacts> & { now: number }): ProfileFacts {
  const data = new Map<string, FeatureData>();
  for (const f of features(...rules)) {
    const occurrences = events
      .flatMap((e) => featureOccurrence(f, e.event, e.properties ?? {}, e.at) ?? [])
      .sort((a, b) => a.at - b.at);
    const values = occurrences.flatMap((o) => (o.value === undefined ? [] : [o.value]));
    data.set(f.id, {
      occurrences,
      total: {
        count: occurrences.length,
        sum: values.reduce((s, v) => s + v, 0),
        min: values.length === 0 ? undefined : Math.min(...values),
        max: values.length === 0 ? undefined : Math.max(...values),
        first: occurrences[0]?.at,
        last: occurrences.at(-1)?.at,
      },
    });
  }
  const eventCounts: Record<string, number> = {};
  for (const e of events) eventCounts[e.event] = (eventCounts[e.event] ?? 0) + 1;
  const lastSeen = events.length === 0 ? undefined : Math.max(...events.map((e) => e.at));
  return { traits: {}, eventCounts, lastSeen, features: data, segments: new Set(), ...over };
}
