import { CONSENT_TRAIT } from '../collection/normalize.ts';
import type { RedisClient, Script } from '../infra/redis.ts';
import { profileKeys } from '../profiles/keys.ts';
import { byPriority, orderToken } from '../profiles/model.ts';
import { profileSlotScript } from '../profiles/profile-slot.ts';
import type { ProfileStore } from '../profiles/store.ts';
import { followMoved } from '../segments/features-v2.redis.ts';
import type { ConsentRefusal, ConsentStore } from './store.ts';

/**
 * Consent refusals on the per-profile layout (src/profiles/per-profile-layout.md §6): the event's
 * identifiers are resolved to their profile (the first identifier, by priority, that has one, as
 * record-refusal.lua walks them), then record-refusal-v2.lua writes the consent trait in that
 * profile's slot, following `moved` when the profile was merged meanwhile. Refusals go out
 * concurrently (auto-pipelining groups them per node); none creates a profile or links an identifier.
 */
export class RedisConsentStoreV2 implements ConsentStore {
  readonly #namespace: string;
  readonly #record: Script;
  readonly #profiles: Pick<ProfileStore, 'resolve'>;

  constructor(redis: RedisClient, namespace: string, profiles: Pick<ProfileStore, 'resolve'>) {
    this.#namespace = namespace;
    this.#profiles = profiles;
    this.#record = profileSlotScript(redis, 'pulseRecordRefusalV2', new URL('./record-refusal-v2.lua', import.meta.url));
  }

  async recordRefusals(tenant: string, refusals: readonly ConsentRefusal[]): Promise<{ found: number; changed: string[] }> {
    const answers = await Promise.all(refusals.map(async (r) => {
      const owner = await this.#profiles.resolve(tenant, byPriority(r.event.identifiers));
      if (owner === undefined) return null;
      const { answer } = await followMoved(owner, (pid) => this.#record.run([profileKeys(this.#namespace, tenant, pid).prefix], [orderToken(r.event), CONSENT_TRAIT, JSON.stringify(r.record)]));
      return answer as [string, number] | null;
    }));
    const found = answers.filter((a): a is [string, number] => Array.isArray(a));
    return { found: found.length, changed: [...new Set(found.filter(([, changed]) => changed === 1).map(([pid]) => pid))] };
  }
}

