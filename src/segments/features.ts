import type { Json, JsonObject } from '../json.ts';
import { conditions, durationMs, featureId, featureKeys, matchesFilter, type Condition, type PropertyFilter, type Rule, type Window } from './rule.ts';

/** An event feature: one aggregate stream the store keeps per profile, derived from the rules. */
export interface EventFeature {
  /** Stable hash of {event, where, property}: the same definition gives the same id (see featureId). */
  readonly id: string;
  /** Event name as counted (track name, or $page, $identify ...). */
  readonly event: string;
  /** Which occurrences count; absent = all of them. Apply with matchesFilter (or featureOccurrence). */
  readonly where: PropertyFilter | undefined;
  /** The numeric property aggregated by sum/min/max (e.g. "revenue"). */
  readonly property: string | undefined;
  /** How far back any rule looks at it ('all' = ever). */
  readonly horizonMs: number | 'all';
  /**
   * How far back individual occurrences are read (<= horizonMs): 0 when rules only read the
   * all-time `total`, 'all' for absolute ranges and sequences without a relative window.
   */
  readonly occurrenceHorizonMs: number | 'all';
}

/** One matching occurrence: its event time and the feature's property as a finite number. */
export interface Occurrence {
  readonly at: number;
  readonly value: number | undefined;
}

/** All-time aggregates of a feature (sum/min/max over occurrences whose value is a number). */
export interface FeatureTotals {
  readonly count: number;
  readonly sum: number;
  readonly min: number | undefined;
  readonly max: number | undefined;
  readonly first: number | undefined;
  readonly last: number | undefined;
}

/** What the store returns for one feature of one profile. */
export interface FeatureData {
  /** Sorted by time; at least those inside occurrenceHorizonMs (more are harmless). */
  readonly occurrences: readonly Occurrence[];
  /** All-time, read by conditions without a window. */
  readonly total: FeatureTotals;
}

type Horizon = number | 'all';

function wider(a: Horizon, b: Horizon): Horizon {
  return a === 'all' || b === 'all' ? 'all' : Math.max(a, b);
}

function windowHorizon(window: Window | undefined): { horizon: Horizon; occurrences: Horizon } {
  if (window === undefined) return { horizon: 'all', occurrences: 0 };
  if ('last' in window) return { horizon: durationMs(window), occurrences: durationMs(window) };
  return { horizon: 'all', occurrences: 'all' };
}

/** How far back a condition looks at its features, in total and occurrence by occurrence. */
function horizons(c: Condition): { horizon: Horizon; occurrences: Horizon } {
  if ('recency' in c) return { horizon: durationMs(c.recency.within), occurrences: durationMs(c.recency.within) };
  if ('sequence' in c) {
    // A sequence reads occurrences one by one, so without a relative window it needs them all.
    const w = windowHorizon(c.window);
    return w.occurrences === 0 ? { horizon: 'all', occurrences: 'all' } : w;
  }
  if ('event' in c || 'not_did' in c) return windowHorizon(c.window);
  return { horizon: 0, occurrences: 0 };
}

/**
 * The EventFeatures rules need, each once, in order of first use; horizons are the widest any
 * condition uses. All-time unfiltered counts read `eventCounts` and need no feature.
 */
export function features(...rules: readonly Rule[]): EventFeature[] {
  const found = new Map<string, EventFeature>();
  for (const c of rules.flatMap(conditions)) {
    const h = horizons(c);
    for (const key of featureKeys(c)) {
      const id = featureId(key.event, key.where, key.property);
      const seen = found.get(id);
      found.set(id, {
        id,
        event: key.event,
        where: key.where,
        property: key.property,
        horizonMs: seen === undefined ? h.horizon : wider(seen.horizonMs, h.horizon),
        occurrenceHorizonMs: seen === undefined ? h.occurrences : wider(seen.occurrenceHorizonMs, h.occurrences),
      });
    }
  }
  return [...found.values()];
}

/** The occurrence an event makes for a feature (`at` = event time), or undefined when it does not match. */
export function featureOccurrence(feature: EventFeature, event: string, properties: JsonObject, at: number): Occurrence | undefined {
  if (event !== feature.event) return undefined;
  if (feature.where !== undefined && !matchesFilter(feature.where, properties)) return undefined;
  if (feature.property === undefined) return { at, value: undefined };
  const v: Json | undefined = Object.hasOwn(properties, feature.property) ? properties[feature.property] : undefined;
  return { at, value: typeof v === 'number' && Number.isFinite(v) ? v : undefined };
}
