import type { Redis } from 'ioredis';
import { identifierKey, type Identifier } from '../identity/identifier.ts';
import { defineScript, type Script } from '../infra/redis.ts';
import { tenantPrefix } from '../profiles/keys.ts';
import { byPriority } from '../profiles/model.ts';
import type { Audience, AudienceReader } from './store.ts';

/** Audience lookups in one Redis round trip (lookup.lua). */
export class RedisAudienceReader implements AudienceReader {
  readonly #namespace: string;
  readonly #lookup: Script;

  constructor(redis: Redis, namespace: string) {
    this.#namespace = namespace;
    this.#lookup = defineScript(redis, 'pulseLookup', new URL('./lookup.lua', import.meta.url), 1);
  }

  async audience(tenant: string, identifiers: readonly Identifier[]): Promise<Audience | undefined> {
    const flat = (await this.#lookup.run([tenantPrefix(this.#namespace, tenant)], byPriority(identifiers).map(identifierKey))) as string[];
    const [profileId] = flat;
    if (profileId === undefined) return undefined;
    const segments: { id: string; name: string }[] = [];
    for (let i = 1; i + 1 < flat.length; i += 2) segments.push({ id: flat[i] ?? '', name: flat[i + 1] ?? '' });
    segments.sort((a, b) => a.id.localeCompare(b.id));
    return { profileId, segments };
  }
}
