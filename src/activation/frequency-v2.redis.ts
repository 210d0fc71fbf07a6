import { parseIdentifierKey } from '../identity/identifier.ts';
import type { RedisClient, Script } from '../infra/redis.ts';
import { frequencySuffix, identifierTag, profileKeys } from '../profiles/keys.ts';
import { profileSlotScript } from '../profiles/profile-slot.ts';
import { followMoved } from '../segments/features-v2.redis.ts';
import { decodeImpressions, RedisFrequencyStore } from './frequency.redis.ts';
import { MAX_WINDOW_MS, type CapImpression } from './frequency.ts';
import type { FrequencyStore, ImpressionRecord } from './store.ts';

/*
 * Frequency capping on the per-profile layout (src/profiles/per-profile-layout.md §1, §6, step 7; not wired
 * yet). A profile's impressions live in its own slot, `{<tenant>:<pid>}:fc:<scope>:<target>`
 * (listed in `:fckeys`, so a merge moves them); an identifier's in the identifier's slot,
 * `{<tenant>:i:<h8>}:fc:i:<type>:<id>:<scope>:<target>`. record-impression-v2.lua runs once per
 * slot a record's subjects are in (subjects whose identifiers hash alike share a slot, and then
 * one call and one `fcimp:<impressionId>`), and a record is counted when any slot counted it.
 * Caps stay in the tenant's slot, as in RedisFrequencyStore.
 */

/** Where a subject's impressions live: its slot's prefix, whether that is a profile's, and the key part after `<prefix>fc:`. */
interface SubjectSlot {
  readonly kind: 'p' | 'i';
  readonly prefix: string;
  readonly part: (target: string) => string;
}

export class FrequencyStoreV2 extends RedisFrequencyStore implements FrequencyStore {
  readonly #redis: RedisClient;
  readonly #namespace: string;
  readonly #record: Script;

  constructor(redis: RedisClient, namespace: string) {
    super(redis, namespace);
    this.#redis = redis;
    this.#namespace = namespace;
    this.#record = profileSlotScript(redis, 'pulseRecordImpressionV2', new URL('./record-impression-v2.lua', import.meta.url));
  }

  /** `p:<pid>` (impressionSubjects) or `i:<type>:<id>`. */
  #slot(tenant: string, subject: string): SubjectSlot {
    if (subject.startsWith('p:')) return { kind: 'p', prefix: profileKeys(this.#namespace, tenant, subject.slice(2)).prefix, part: (target) => target };
    if (!subject.startsWith('i:')) throw new Error(`invalid frequency subject ${JSON.stringify(subject)}`);
    const { type, id } = parseIdentifierKey(subject.slice(2));
    // frequencySuffix is `fc:<subject>:<target>`: the identifier stays in the key, its slot only has its hash.
    return { kind: 'i', prefix: identifierTag(this.#namespace, tenant, type, id), part: (target) => frequencySuffix(subject, target).slice('fc:'.length) };
  }

  override async recordImpressions(tenant: string, records: readonly ImpressionRecord[], now: number): Promise<boolean[]> {
    return Promise.all(records.map(async (r) => {
      const calls = new Map<string, { kind: 'p' | 'i'; pid: string; zsets: string[] }>();
      for (const s of r.subjects) {
        const slot = this.#slot(tenant, s);
        const call = calls.get(slot.prefix) ?? { kind: slot.kind, pid: s.slice(2), zsets: [] };
        call.zsets.push(...r.targets.map(slot.part));
        calls.set(slot.prefix, call);
      }
      const args = [r.impressionId, r.at, `${r.channel}|${r.impressionId}`, MAX_WINDOW_MS, now - MAX_WINDOW_MS];
      const counted = await Promise.all([...calls].map(async ([prefix, c]) => {
        if (c.kind === 'i') return (await this.#record.run([prefix], ['i', ...args, ...c.zsets])) === 1;
        // A profile merged (or being merged) into another answers `moved`: counted there (§3.3).
        const { answer } = await followMoved(c.pid, (pid) => this.#record.run([profileKeys(this.#namespace, tenant, pid).prefix], ['p', ...args, ...c.zsets]));
        return answer === 1;
      }));
      return counted.some((x) => x);
    }));
  }

  override async impressions(tenant: string, subjects: readonly string[], targets: readonly string[], since: number): Promise<Map<string, CapImpression[]>> {
    const out = new Map<string, CapImpression[]>();
    if (subjects.length === 0 || targets.length === 0) return out;
    const slots = subjects.map((s) => this.#slot(tenant, s));
    const read = await Promise.all(targets.map((t) => Promise.all(slots.map((s) => this.#redis.zrangebyscore(`${s.prefix}fc:${s.part(t)}`, `(${since}`, '+inf', 'WITHSCORES')))));
    targets.forEach((target, n) => {
      const list = out.get(target) ?? [];
      for (const flat of read[n] ?? []) decodeImpressions(flat, list);
      out.set(target, list);
    });
    return out;
  }
}
