import { createHash } from 'node:crypto';
import { canonicalJson, conditions, segmentReferences } from './rule.ts';
import type { CompiledSegment, SegmentDefinition } from './model.ts';

/** What one applied event changed on a profile, as far as rules can see. */
export interface EventChange {
  /** The name as counted (track name, `$page`, `$identify` ...). */
  readonly event: string;
  /** Trait names the event set. */
  readonly traits: readonly string[];
}

/** Which segments read what: built once per definitions version, asked once per profile. */
export interface DependencyIndex {
  /** The segments whose value the changes may affect, plus every segment referring to one of them, in definition order. */
  affected(changes: readonly EventChange[]): CompiledSegment[];
}

/**
 * Indexes segments by the event names and traits their conditions read. Recency of any event
 * reads `lastSeen`, which every event may move, so such segments are always affected.
 */
export function dependencyIndex(segments: readonly CompiledSegment[]): DependencyIndex {
  const byEvent = new Map<string, Set<number>>();
  const byTrait = new Map<string, Set<number>>();
  const always = new Set<number>();
  const referrers = new Map<string, number[]>();
  const add = (map: Map<string, Set<number>>, key: string, i: number) => {
    const set = map.get(key) ?? new Set<number>();
    set.add(i);
    map.set(key, set);
  };
  segments.forEach((s, i) => {
    for (const c of conditions(s.rule)) {
      if ('trait' in c) add(byTrait, c.trait, i);
      else if ('event' in c) add(byEvent, c.event, i);
      else if ('not_did' in c) add(byEvent, c.not_did, i);
      else if ('recency' in c) {
        if (c.recency.event === undefined) always.add(i);
        else add(byEvent, c.recency.event, i);
      } else if ('sequence' in c) {
        for (const step of c.sequence) add(byEvent, typeof step === 'string' ? step : step.event, i);
      }
    }
    for (const r of segmentReferences(s.rule)) referrers.set(r.segment, [...(referrers.get(r.segment) ?? []), i]);
  });
  return {
    affected(changes) {
      const hit = new Set(always);
      for (const change of changes) {
        for (const i of byEvent.get(change.event) ?? []) hit.add(i);
        for (const t of change.traits) for (const i of byTrait.get(t) ?? []) hit.add(i);
      }
      const queue = [...hit];
      while (queue.length > 0) {
        const i = queue.pop() as number;
        for (const j of referrers.get((segments[i] as CompiledSegment).id) ?? []) {
          if (!hit.has(j)) {
            hit.add(j);
            queue.push(j);
          }
        }
      }
      return segments.filter((_, i) => hit.has(i));
    },
  };
}

/** A fingerprint of definitions (ids and rules): a profile last fully evaluated under another one is evaluated fully again. */
export function definitionsFingerprint(defs: readonly SegmentDefinition[]): string {
  const canonical = canonicalJson([...defs].map((d) => [d.id, d.rule]).sort((a, b) => ((a[0] as string) < (b[0] as string) ? -1 : 1)));
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}
