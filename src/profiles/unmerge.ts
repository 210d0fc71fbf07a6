import { randomUUID } from 'node:crypto';
import { EVENT_TYPES, type EventType, type PulseEvent } from '../collection/event.ts';
import { CONSENT_TRAIT } from '../collection/normalize.ts';
import { PulseError } from '../errors.ts';
import { identifierKey, parseIdentifierKey, type Identifier } from '../identity/identifier.ts';
import type { Logger } from '../infra/log.ts';
import type { Metrics } from '../infra/metrics.ts';
import type { JsonObject } from '../json.ts';
import type { ConsentSettings } from '../privacy/consent.ts';
import { consentGate } from '../privacy/gate.ts';
import type { EventFeature } from '../segments/features.ts';
import type { TimedChange } from '../segments/realtime.ts';
import type { EventChange } from '../segments/dependencies.ts';
import { chDateTime } from '../warehouse/schema.ts';
import { byPriority } from './model.ts';

/** Side A keeps the profile id and the identifiers not split off; side B is the new profile. */
export type Side = 'a' | 'b';

/** A profile as the unmerge reads it, atomically. */
export interface ProfileSnapshot {
  readonly profileId: string;
  readonly version: number;
  /** Events applied to it (its own and those of every profile merged into it). */
  readonly events: number;
  /** `type:id`, sorted. */
  readonly identifiers: readonly string[];
  /** Stored traits as stored (JSON text), to record what the unmerge changed. */
  readonly traits: Readonly<Record<string, string>>;
}

/** An `events` row as stored (JSON columns still text). */
export interface StoredEvent {
  readonly messageId: string;
  readonly type: string;
  readonly event: string;
  readonly userId: string;
  readonly anonymousId: string;
  readonly at: number;
  readonly properties: string;
  readonly traits: string;
  readonly context: string;
  /** `type:id`; empty for rows written before the column existed. */
  readonly identifiers: readonly string[];
  readonly profileId: string;
}

/** A past merge: `merged` was folded into `survivor`, moving `identifiers`. */
export interface PastMerge {
  readonly merged: string;
  readonly survivor: string;
  readonly identifiers: readonly string[];
}

/** The `profile_merges` row of an unmerge (outcome `unmerged`). */
export interface UnmergeRecord {
  readonly tenant: string;
  readonly profileId: string;
  readonly splitProfileId: string;
  readonly identifiers: readonly string[];
  readonly unmergeId: string;
  readonly at: number;
  readonly reason: string;
}

/** What the unmerge reads from and writes to the warehouse. */
export interface UnmergeHistory {
  /** Every merge that folded a profile into `profileId`, directly or through others. */
  merges(tenant: string, profileId: string): Promise<PastMerge[]>;
  /** The events stored under any of the profile ids, one row per messageId, in time order. */
  events(tenant: string, profileIds: readonly string[]): Promise<StoredEvent[]>;
  /** Moves events stored under `from` to profile `to`. */
  reattribute(tenant: string, from: readonly string[], to: string, messageIds: readonly string[]): Promise<void>;
  record(row: UnmergeRecord): Promise<void>;
  /** Appends `trait_history` rows (see unmergeTraitRows). */
  traitHistory(rows: readonly Record<string, unknown>[]): Promise<void>;
}

/** What the swap installs. */
export interface SwapRequest {
  readonly profileId: string;
  readonly expectedVersion: number;
  readonly newProfileId: string;
  readonly now: number;
  readonly consentTrait: string;
  /** `type:id` of the identifiers moving to the new profile. */
  readonly split: readonly string[];
  /** Merged-away profile ids that should read as the new profile from now on. */
  readonly repoint: readonly string[];
  /** Message ids of the events replayed onto the new profile (its de-dup state on the per-profile layout). */
  readonly moved?: readonly string[];
}

export type SwapOutcome =
  | { readonly kind: 'ok'; readonly versionA: number; readonly versionB: number }
  | { readonly kind: 'changed' }
  | { readonly kind: 'merged'; readonly into: string }
  | { readonly kind: 'moved'; readonly identifier: string }
  | { readonly kind: 'exists' };

/** Where both sides are rebuilt before they replace the profile. */
export interface UnmergeScratch {
  /** Its namespace (keys it leaves behind when the unmerge dies expire within the hour). */
  readonly namespace: string;
  /**
   * Replays events onto the side's scratch profile; idempotent per messageId. `profileId`: the
   * profile the side becomes (the profile's id for `a`, the new one for `b`); the per-profile
   * layout replays under it, to stay in its slot.
   */
  replay(side: Side, events: readonly PulseEvent[], features: readonly EventFeature[], now: number, profileId?: string): Promise<void>;
  /** Installs both sides atomically, if the profile is still at the expected version. */
  swap(req: SwapRequest): Promise<SwapOutcome>;
  /** Deletes what is left of the scratch space. */
  discard(): Promise<void>;
}

/** What the unmerge reads from and writes to the profile store. */
export interface UnmergeState {
  /** The live profile (following merges), or undefined. */
  snapshot(tenant: string, profileId: string): Promise<ProfileSnapshot | undefined>;
  scratch(tenant: string): UnmergeScratch;
  /**
   * Points the de-dup keys of the events that moved at their new profile (a no-op on the per-profile
   * layout, whose swap gives the new profile their de-dup entries, SwapRequest.moved).
   */
  repointDedup(tenant: string, messageIds: readonly string[], profileId: string): Promise<void>;
  /** Stored traits (JSON text) of profiles. */
  traits(tenant: string, profileIds: readonly string[]): Promise<Map<string, Record<string, string>>>;
}

/** The message on `<namespace>.changes.<tenant>.profile` for an unmerge. */
export interface UnmergeMessage {
  readonly kind: 'unmerge';
  /** The profile that kept its id. */
  readonly profileId: string;
  /** The profile the identifiers were split off to. */
  readonly splitProfileId: string;
  /** Both, for consumers that invalidate by the ids a message names. */
  readonly profileIds: readonly string[];
  /** `type:id` of the identifiers that moved. */
  readonly identifiers: readonly string[];
  readonly at: string;
  readonly unmergeId: string;
  readonly events: { readonly profile: number; readonly split: number };
}

/** What an unmerge did. */
export interface UnmergeResult {
  readonly profileId: string;
  readonly splitProfileId: string;
  readonly profileIdentifiers: readonly Identifier[];
  readonly splitIdentifiers: readonly Identifier[];
  readonly unmergeId: string;
  /** Events replayed onto each side. */
  readonly eventsProfile: number;
  readonly eventsSplit: number;
  /**
   * Stored events not replayed: refused by the tenant's consent policy as it is now, or with none
   * of the profile's identifiers (left behind by an earlier unmerge whose warehouse step failed).
   */
  readonly eventsSkipped: number;
  readonly segmentChanges: readonly TimedChange[];
  /** Rebuilds it took (a rebuild is redone when an event changed the profile meanwhile). */
  readonly attempts: number;
  /** Steps after the split that failed (the split itself holds). */
  readonly warnings: readonly string[];
}

export interface UnmergeDeps {
  readonly state: UnmergeState;
  readonly history: UnmergeHistory;
  /** The tenant's event features (those its segment rules read). */
  features(tenant: string): Promise<readonly EventFeature[]>;
  /** Re-evaluates every segment of the profiles and writes membership (and its history). */
  evaluate(tenant: string, targets: ReadonlyMap<string, readonly EventChange[] | 'all'>): Promise<TimedChange[]>;
  publishSegmentChanges(tenant: string, changes: readonly TimedChange[]): Promise<void>;
  publishProfileChange(tenant: string, message: UnmergeMessage): Promise<void>;
  /** Adds profiles to the tenant's profile index (segment backfills walk it). */
  indexProfiles(tenant: string, profileIds: readonly string[]): Promise<void>;
  readonly consent: ConsentSettings;
  readonly log: Logger;
  /** Unmerges count in `pulse_profile_merges_total{outcome="unmerged"}`. */
  readonly metrics?: Pick<Metrics, 'profileMerges'>;
  readonly now?: () => number;
  /** How long to wait for events the profile counts but the warehouse does not hold yet (default 10 s). */
  readonly historyWaitMs?: number;
  /** Rebuilds before giving up on a profile that keeps changing (default 5). */
  readonly maxAttempts?: number;
  /** The new profile's id (default randomUUID; tests choose one). */
  readonly newProfileId?: () => string;
}

export interface UnmergeOptions {
  /** Go on when the warehouse holds fewer events than the profile counts (those are lost to both sides). */
  readonly allowPartialHistory: boolean;
  /** Who asked (key fingerprint), for the audit row. */
  readonly keyId: string;
}

/**
 * Pure: which side an event belongs to. Its identifiers are taken in the order apply-event.lua
 * takes them (byPriority); the first that belongs to either side decides, the way the first owned
 * identifier anchors the profile an event lands on. An event always lands on a profile holding one
 * of its identifiers and merges keep them together, so an event with none of them is not this
 * profile's (an earlier unmerge took its identifiers away): undefined.
 */
export function sideOf(identifiers: readonly string[], a: ReadonlySet<string>, b: ReadonlySet<string>): Side | undefined {
  for (const idf of byPriority(identifiers.map(parseIdentifierKey))) {
    const key = identifierKey(idf);
    if (a.has(key)) return 'a';
    if (b.has(key)) return 'b';
  }
  return undefined;
}

/**
 * Pure: the stored row as the PulseEvent the processor applied. Rows written before the
 * `identifiers` column get theirs from userId, anonymousId and context.externalIds (an alias's
 * previousId is then missing). Undefined for a row that is not an event Pulse could have applied.
 */
export function storedEvent(row: StoredEvent): PulseEvent | undefined {
  if (!(EVENT_TYPES as readonly string[]).includes(row.type)) return undefined;
  const context = parseObject(row.context);
  let identifiers = row.identifiers.map(parseIdentifierKey);
  if (identifiers.length === 0) {
    if (row.userId !== '') identifiers.push({ type: 'user_id', id: row.userId });
    if (row.anonymousId !== '') identifiers.push({ type: 'anonymous_id', id: row.anonymousId });
    const ext = context['externalIds'];
    if (Array.isArray(ext)) {
      for (const x of ext) {
        if (x !== null && typeof x === 'object' && !Array.isArray(x) && typeof x['type'] === 'string' && typeof x['id'] === 'string') identifiers.push({ type: x['type'], id: x['id'] });
      }
    }
    identifiers = identifiers.filter((x, i) => identifiers.findIndex((y) => y.type === x.type && y.id === x.id) === i);
  }
  return {
    type: row.type as EventType, messageId: row.messageId, timestamp: row.at,
    userId: row.userId === '' ? undefined : row.userId, anonymousId: row.anonymousId === '' ? undefined : row.anonymousId,
    event: row.event, properties: parseObject(row.properties), traits: parseObject(row.traits), context, identifiers, extra: {},
  };
}

function parseObject(text: string): JsonObject {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as JsonObject) : {};
  } catch {
    return {};
  }
}

/**
 * Pure: checks the identifiers to split off against the profile's; returns them as `type:id`.
 * FAILED_PRECONDITION names the first one the profile does not hold, or says that none would stay.
 */
export function checkSplit(split: readonly Identifier[], profileIdentifiers: readonly string[]): string[] {
  const held = new Set(profileIdentifiers);
  const keys = [...new Set(split.map(identifierKey))];
  split.forEach((idf, i) => {
    if (!held.has(identifierKey(idf))) {
      throw new PulseError('FAILED_PRECONDITION', `split[${i}]: this ${idf.type} is not an identifier of the profile`, { field: `split[${i}]` });
    }
  });
  if (keys.length >= held.size) {
    throw new PulseError('FAILED_PRECONDITION', 'split: lists every identifier of the profile; at least one must stay with it', { field: 'split' });
  }
  return keys.sort();
}

/**
 * Pure: `trait_history` rows for what an unmerge changed: on the profile, every stored trait whose
 * value changed or that is gone (value `null`); on the new profile, every trait. Source `unmerge`,
 * message id the unmerge's, so "what was this trait at time T" stays answerable.
 */
export function unmergeTraitRows(tenant: string, u: {
  profileId: string; before: Readonly<Record<string, string>>; after: Readonly<Record<string, string>>;
  splitProfileId: string; split: Readonly<Record<string, string>>; unmergeId: string; keyId: string; at: number;
}): Record<string, unknown>[] {
  const row = (profileId: string, trait: string, value: string) => ({
    tenant, profile_id: profileId, trait, value, source: 'unmerge', key_id: u.keyId, message_id: u.unmergeId, at: chDateTime(u.at),
  });
  const changed = [...new Set([...Object.keys(u.before), ...Object.keys(u.after)])].sort()
    .filter((k) => u.before[k] !== u.after[k])
    .map((k) => row(u.profileId, k, u.after[k] ?? 'null'));
  return [...changed, ...Object.keys(u.split).sort().map((k) => row(u.splitProfileId, k, u.split[k] ?? 'null'))];
}

/**
 * Pure: merged-away profiles every identifier of which went to the split-off side: their ids read
 * as the new profile from now on (an old id kept by a partner still finds the right person).
 */
export function repointed(merges: readonly PastMerge[], split: ReadonlySet<string>): string[] {
  return merges.filter((m) => m.identifiers.length > 0 && m.identifiers.every((i) => split.has(i))).map((m) => m.merged);
}

/**
 * UnmergeProfile: splits identifiers off a profile into a new one and rebuilds both from the
 * events in the warehouse. See `unmerge` for what is guaranteed.
 */
export class ProfileUnmerger {
  readonly #deps: UnmergeDeps;

  constructor(deps: UnmergeDeps) {
    this.#deps = deps;
  }

  /**
   * Rebuild and swap, then the follow-ups. The swap happens only if the profile is still at the
   * version whose events were all found in the warehouse: an event applied meanwhile makes it
   * rebuild again (events already replayed are skipped), so neither side loses an event applied
   * before the swap; every event after it lands by the split identity graph, and one carrying
   * identifiers of both sides is refused the merge (reason `unmerged`).
   */
  async unmerge(tenant: string, profileId: string, split: readonly Identifier[], options: UnmergeOptions): Promise<UnmergeResult> {
    const d = this.#deps;
    const now = d.now ?? Date.now;
    const maxAttempts = d.maxAttempts ?? 5;
    const historyWaitMs = d.historyWaitMs ?? 10_000;
    let historyDeadline = now() + historyWaitMs;
    const newProfileId = (d.newProfileId ?? randomUUID)();
    const features = await d.features(tenant);
    let pid = profileId;
    // Made once the profile is found; a new one when the profile turns out merged into another.
    let scratch: UnmergeScratch | undefined;
    let assigned = new Map<string, Side>();
    let attempts = 0;
    try {
      for (;;) {
        const snap = await d.state.snapshot(tenant, pid);
        if (snap === undefined) throw new PulseError('NOT_FOUND', 'no profile for these identifiers');
        pid = snap.profileId;
        const splitKeys = checkSplit(split, snap.identifiers);
        const bSet = new Set(splitKeys);
        const aSet = new Set(snap.identifiers.filter((i) => !bSet.has(i)));
        const merges = await d.history.merges(tenant, pid);
        const rows = await d.history.events(tenant, [pid, ...merges.map((m) => m.merged)]);
        if (rows.length < snap.events && !options.allowPartialHistory) {
          if (now() < historyDeadline) {
            // Events the processor applied but has not written to the warehouse yet.
            await new Promise((r) => setTimeout(r, 200));
            continue;
          }
          throw new PulseError('FAILED_PRECONDITION', `the warehouse holds ${rows.length} of the ${snap.events} events of this profile, so neither side could be rebuilt completely; retry later, or allow a partial history`);
        }
        attempts++;
        const events = rows.flatMap((r) => storedEvent(r) ?? []);
        const sides = new Map<string, Side>();
        for (const e of events) {
          const side = sideOf(e.identifiers.map(identifierKey), aSet, bSet);
          if (side !== undefined) sides.set(e.messageId, side);
        }
        // A side change of an event already replayed (new identifiers joined meanwhile): start over.
        if (scratch !== undefined && [...assigned].some(([mid, side]) => sides.get(mid) !== side)) {
          await scratch.discard();
          scratch = undefined;
        }
        scratch ??= d.state.scratch(tenant);
        assigned = sides;
        const gate = consentGate(tenant, events.filter((e) => sides.has(e.messageId)).map((event) => ({ event })), d.consent);
        const allowed = gate.allowed.map((g) => g.profileEvent);
        const bySide = { a: allowed.filter((e) => sides.get(e.messageId) === 'a'), b: allowed.filter((e) => sides.get(e.messageId) === 'b') };
        const at = now();
        await Promise.all([scratch.replay('a', bySide.a, features, at, pid), scratch.replay('b', bySide.b, features, at, newProfileId)]);
        const movedIds = bySide.b.map((e) => e.messageId);
        const outcome = await scratch.swap({
          profileId: pid, expectedVersion: snap.version, newProfileId, now: at, consentTrait: CONSENT_TRAIT, split: splitKeys,
          repoint: repointed(merges, bSet), moved: movedIds,
        });
        if (outcome.kind === 'moved') throw new PulseError('FAILED_PRECONDITION', `split: an identifier (${parseIdentifierKey(outcome.identifier).type}) left the profile during the unmerge`, { field: 'split' });
        if (outcome.kind === 'exists') throw new PulseError('INTERNAL', 'new profile id already taken');
        if (outcome.kind === 'merged') {
          pid = outcome.into;
          // Side A is rebuilt for the profile it was merged into (the per-profile layout replays in its slot).
          await scratch.discard();
          scratch = undefined;
          assigned = new Map();
          continue;
        }
        if (outcome.kind === 'changed') {
          if (attempts >= maxAttempts) throw new PulseError('UNAVAILABLE', `the profile kept changing during ${attempts} rebuilds; retry`);
          historyDeadline = now() + historyWaitMs;
          continue;
        }
        const unmergeId = `unmerge:${newProfileId}`;
        const follow = await this.#followUps(tenant, {
          pid, newProfileId, unmergeId, splitKeys, movedIds, traitsBefore: snap.traits, from: [pid, ...merges.map((m) => m.merged)], at, keyId: options.keyId,
          counts: { profile: bySide.a.length, split: bySide.b.length },
        });
        return {
          profileId: pid, splitProfileId: newProfileId, unmergeId,
          profileIdentifiers: [...aSet].sort().map(parseIdentifierKey), splitIdentifiers: splitKeys.map(parseIdentifierKey),
          eventsProfile: bySide.a.length, eventsSplit: bySide.b.length, eventsSkipped: events.length - bySide.a.length - bySide.b.length,
          segmentChanges: follow.changes, attempts, warnings: follow.failed,
        };
      }
    } finally {
      // Its keys expire anyway: a failure here must not fail an unmerge that happened.
      await scratch?.discard().catch((err: unknown) => d.log.warn({ err, tenant, scratch: scratch?.namespace }, 'unmerge: scratch keys left to expire'));
    }
  }

  /**
   * What follows a swap: de-dup keys, the profile index, segments, the warehouse and the change
   * message. The split already holds, so a failing step is logged and reported, not thrown.
   */
  async #followUps(tenant: string, s: {
    pid: string; newProfileId: string; unmergeId: string; traitsBefore: Readonly<Record<string, string>>; splitKeys: readonly string[]; movedIds: readonly string[]; from: readonly string[]; at: number; keyId: string;
    counts: { profile: number; split: number };
  }): Promise<{ changes: TimedChange[]; failed: string[] }> {
    const d = this.#deps;
    const failed: string[] = [];
    const step = async <T>(what: string, fn: () => Promise<T>, fallback: T): Promise<T> => {
      try {
        return await fn();
      } catch (err) {
        d.log.error({ err, tenant, profile: s.pid, split: s.newProfileId }, `unmerge: ${what} failed`);
        failed.push(`${what} failed: ${err instanceof Error ? err.message : String(err)}`);
        return fallback;
      }
    };
    await step('re-pointing de-dup keys', () => d.state.repointDedup(tenant, s.movedIds, s.newProfileId), undefined);
    await step('indexing the new profile', () => d.indexProfiles(tenant, [s.newProfileId]), undefined);
    const changes = await step('segment evaluation', () => d.evaluate(tenant, new Map([[s.pid, 'all'], [s.newProfileId, 'all']])), []);
    if (changes.length > 0) await step('publishing segment changes', () => d.publishSegmentChanges(tenant, changes), undefined);
    await step('moving events in the warehouse', () => d.history.reattribute(tenant, s.from, s.newProfileId, s.movedIds), undefined);
    await step('recording trait history', async () => {
      const after = await d.state.traits(tenant, [s.pid, s.newProfileId]);
      await d.history.traitHistory(unmergeTraitRows(tenant, {
        profileId: s.pid, before: s.traitsBefore, after: after.get(s.pid) ?? {}, splitProfileId: s.newProfileId, split: after.get(s.newProfileId) ?? {},
        unmergeId: s.unmergeId, keyId: s.keyId, at: s.at,
      }));
    }, undefined);
    await step('recording the unmerge', () => d.history.record({
      tenant, profileId: s.pid, splitProfileId: s.newProfileId, identifiers: s.splitKeys, unmergeId: s.unmergeId, at: s.at,
      reason: `UnmergeProfile by key ${s.keyId}`,
    }), undefined);
    await step('publishing the profile change', () => d.publishProfileChange(tenant, {
      kind: 'unmerge', profileId: s.pid, splitProfileId: s.newProfileId, profileIds: [s.pid, s.newProfileId], identifiers: s.splitKeys,
      at: new Date(s.at).toISOString(), unmergeId: s.unmergeId, events: s.counts,
    }), undefined);
    d.metrics?.profileMerges.inc({ outcome: 'unmerged' });
    d.log.info({ tenant, profile: s.pid, split: s.newProfileId, events: s.counts, segmentChanges: changes.length, failed: failed.length }, 'profile unmerged');
    return { changes, failed };
  }
}
