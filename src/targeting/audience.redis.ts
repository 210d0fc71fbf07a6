import { identifierKey, type Identifier } from '../identity/identifier.ts';
import { defineScript, execPipeline, type Script, type RedisClient } from '../infra/redis.ts';
import { tenantPrefix } from '../profiles/keys.ts';
import { byPriority } from '../profiles/model.ts';
import type { Audience, AudienceReader, AudienceRecord, AudienceSegment } from './store.ts';

/** Audience lookups: lookup.lua answers many lookups per call; a batch is one round trip. */
export class RedisAudienceReader implements AudienceReader {
  readonly #redis: RedisClient;
  readonly #namespace: string;
  readonly #lookup: Script;

  constructor(redis: RedisClient, namespace: string) {
    this.#redis = redis;
    this.#namespace = namespace;
    this.#lookup = defineScript(redis, 'pulseLookup', new URL('./lookup.lua', import.meta.url), 1);
  }

  async audience(tenant: string, identifiers: readonly Identifier[]): Promise<Audience | undefined> {
    const [record] = await this.records(tenant, [identifiers]);
    return record === undefined ? undefined : { profileId: record.profileId, segments: record.segments };
  }

  async records(tenant: string, lookups: readonly (readonly Identifier[])[]): Promise<(AudienceRecord | undefined)[]> {
    const prefix = tenantPrefix(this.#namespace, tenant);
    const args = (chunk: readonly (readonly Identifier[])[]): (string | number)[] =>
      chunk.flatMap((ids) => [ids.length, ...byPriority(ids).map(identifierKey)]);
    if (lookups.length <= CHUNK) return ((await this.#lookup.run([prefix], args(lookups))) as string[][]).map(decode);
    // Chunks keep each script call short (Redis runs one script at a time), in one round trip.
    const pipeline = this.#redis.pipeline();
    for (let i = 0; i < lookups.length; i += CHUNK) this.#lookup.queue(pipeline, [prefix], args(lookups.slice(i, i + CHUNK)));
    return (await execPipeline(pipeline)).flatMap((chunk) => (chunk as string[][]).map(decode));
  }
}

/** Lookups per script call. */
const CHUNK = 250;

function decode(flat: readonly string[]): AudienceRecord | undefined {
  const [profileId, consent] = flat;
  if (profileId === undefined) return undefined;
  const segments: AudienceSegment[] = [];
  for (let i = 2; i + 2 < flat.length; i += 3) {
    const id = flat[i] ?? '';
    const name = flat[i + 1] ?? '';
    const taxonomyId = flat[i + 2] ?? '';
    segments.push(taxonomyId === '' ? { id, name } : { id, name, taxonomyId });
  }
  segments.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { profileId, segments, storedConsent: storedConsentOf(consent) };
}

/** The TC string of a stored `$consent` record; a record that does not parse is no consent. */
function storedConsentOf(json: string | undefined): AudienceRecord['storedConsent'] {
  if (json === undefined || json === '') return undefined;
  try {
    const v = JSON.parse(json) as { tcString?: unknown; gdprApplies?: unknown };
    return typeof v.tcString === 'string' ? { tcString: v.tcString, gdprApplies: v.gdprApplies !== false } : undefined;
  } catch {
    return undefined;
  }
}
