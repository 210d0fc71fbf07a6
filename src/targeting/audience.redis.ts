import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Command } from 'ioredis';
import { identifierKey, type Identifier } from '../identity/identifier.ts';
import { defineScript, execPipeline, type Script, type RedisClient } from '../infra/redis.ts';
import { tenantPrefix } from '../profiles/keys.ts';
import { byPriority } from '../profiles/model.ts';
import type { Audience, AudienceReader, AudienceRecord, AudienceSegment } from './store.ts';

const LOOKUP_FILE = new URL('./lookup.lua', import.meta.url);
const LOOKUP_LUA = readFileSync(LOOKUP_FILE, 'utf8');
const LOOKUP_SHA = createHash('sha1').update(LOOKUP_LUA).digest('hex');

/** Lookups of one tenant waiting for the next flush, and whom to answer. */
interface Batch {
  readonly prefix: string;
  readonly args: (string | number)[];
  readonly waiters: { readonly count: number; readonly resolve: (r: (AudienceRecord | undefined)[]) => void; readonly reject: (e: unknown) => void }[];
  count: number;
}

/**
 * Audience lookups: lookup.lua answers many lookups per call. The lookups of concurrent calls
 * (GetAudience, EnrichBidRequest, near-cache misses) made in the same tick go to Redis together,
 * as one script call per tenant (at most CHUNK lookups each), sent straight to the connection:
 * ioredis' auto-pipelining would add a Pipeline, a setImmediate hop and about as much CPU again
 * to every lookup, and one script call answers a tick's lookups with fewer Redis commands.
 * A batch of more than CHUNK lookups (BatchGetAudience) is one pipeline of script calls.
 */
export class RedisAudienceReader implements AudienceReader {
  readonly #redis: RedisClient;
  readonly #namespace: string;
  readonly #lookup: Script;
  readonly #batches = new Map<string, Batch>();
  #flushScheduled = false;

  constructor(redis: RedisClient, namespace: string) {
    this.#redis = redis;
    this.#namespace = namespace;
    this.#lookup = defineScript(redis, 'pulseLookup', LOOKUP_FILE, 1);
  }

  async audience(tenant: string, identifiers: readonly Identifier[]): Promise<Audience | undefined> {
    const [record] = await this.records(tenant, [identifiers]);
    return record === undefined ? undefined : { profileId: record.profileId, segments: record.segments };
  }

  async records(tenant: string, lookups: readonly (readonly Identifier[])[]): Promise<(AudienceRecord | undefined)[]> {
    const prefix = tenantPrefix(this.#namespace, tenant);
    if (lookups.length === 0) return [];
    if (lookups.length <= CHUNK) {
      return new Promise((resolve, reject) => {
        let batch = this.#batches.get(prefix);
        if (batch === undefined || batch.count + lookups.length > CHUNK) {
          if (batch !== undefined) this.#send(batch);
          batch = { prefix, args: [], waiters: [], count: 0 };
          this.#batches.set(prefix, batch);
        }
        for (const ids of lookups) pushLookup(batch.args, ids);
        batch.count += lookups.length;
        batch.waiters.push({ count: lookups.length, resolve, reject });
        if (!this.#flushScheduled) {
          this.#flushScheduled = true;
          process.nextTick(() => this.#flush());
        }
      });
    }
    // Chunks keep each script call short (Redis runs one script at a time), in one round trip.
    const pipeline = this.#redis.pipeline();
    for (let i = 0; i < lookups.length; i += CHUNK) {
      const args: (string | number)[] = [];
      for (const ids of lookups.slice(i, i + CHUNK)) pushLookup(args, ids);
      this.#lookup.queue(pipeline, [prefix], args);
    }
    return (await execPipeline(pipeline)).flatMap((chunk) => (chunk as string[][]).map(decode));
  }

  #flush(): void {
    this.#flushScheduled = false;
    const batches = [...this.#batches.values()];
    this.#batches.clear();
    for (const b of batches) this.#send(b);
  }

  #send(batch: Batch): void {
    if (this.#batches.get(batch.prefix) === batch) this.#batches.delete(batch.prefix);
    this.#evalLookup(batch.prefix, batch.args).then((rows) => {
      let at = 0;
      for (const w of batch.waiters) {
        const mine: (AudienceRecord | undefined)[] = [];
        for (let i = 0; i < w.count; i++) mine.push(decode(rows[at + i] ?? []));
        at += w.count;
        w.resolve(mine);
      }
    }, (err: unknown) => {
      for (const w of batch.waiters) w.reject(err);
    });
  }

  /** EVALSHA of lookup.lua, and EVAL when this Redis does not have the script yet. */
  async #evalLookup(prefix: string, args: readonly (string | number)[]): Promise<string[][]> {
    try {
      return await this.#command('evalsha', [LOOKUP_SHA, 1, prefix, ...args]);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return this.#command('eval', [LOOKUP_LUA, 1, prefix, ...args]);
    }
  }

  async #command(name: 'evalsha' | 'eval', args: (string | number)[]): Promise<string[][]> {
    const command = new Command(name, args, { replyEncoding: 'utf8' });
    void this.#redis.sendCommand(command);
    return (await command.promise) as string[][];
  }
}

/** One lookup's script arguments: the number of identifiers, then each `type:id` in priority order. */
function pushLookup(args: (string | number)[], ids: readonly Identifier[]): void {
  args.push(ids.length);
  for (const id of byPriority(ids)) args.push(identifierKey(id));
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
export function storedConsentOf(json: string | undefined): AudienceRecord['storedConsent'] {
  if (json === undefined || json === '') return undefined;
  try {
    const v = JSON.parse(json) as { tcString?: unknown; gdprApplies?: unknown };
    return typeof v.tcString === 'string' ? { tcString: v.tcString, gdprApplies: v.gdprApplies !== false } : undefined;
  } catch {
    return undefined;
  }
}
