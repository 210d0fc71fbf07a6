import { z } from 'zod';
import { defineScript, execPipeline, type Script, type RedisClient } from '../infra/redis.ts';
import { tenantKeys } from '../profiles/keys.ts';
import { checkTaxonomy, noSharing, sharingAgreement, type SharingAgreement, type SharingChange, type SharingStore } from './sharing.ts';

const stored = z.object({ all: z.boolean(), segmentIds: z.array(z.string()) });

/** Agreements in the tenant's `sharing` hash: partner id -> `{all, segmentIds}` JSON. */
export class RedisSharingStore implements SharingStore {
  readonly #redis: RedisClient;
  readonly #namespace: string;
  readonly #set: Script;

  constructor(redis: RedisClient, namespace: string) {
    this.#redis = redis;
    this.#namespace = namespace;
    this.#set = defineScript(redis, 'pulseSharingSet', new URL('./sharing-set.lua', import.meta.url), 1);
  }

  async get(tenant: string, partner: string): Promise<SharingAgreement> {
    const raw = await this.#redis.hget(this.#key(tenant), partner);
    return raw === null ? noSharing(partner) : decode(partner, raw);
  }

  async list(tenant: string): Promise<SharingAgreement[]> {
    const all = await this.#redis.hgetall(this.#key(tenant));
    return Object.entries(all).map(([partner, raw]) => decode(partner, raw)).sort((a, b) => a.partner.localeCompare(b.partner));
  }

  async set(tenant: string, agreement: SharingAgreement, keyId: string): Promise<SharingChange> {
    const after = sharingAgreement(agreement);
    const previous = (await this.#set.run([this.#key(tenant)], [after.partner, JSON.stringify({ all: after.all, segmentIds: after.segmentIds })])) as string | null;
    return { tenant, partner: after.partner, before: previous === null ? noSharing(after.partner) : decode(after.partner, previous), after, keyId, at: Date.now() };
  }

  async setTaxonomy(tenant: string, segmentId: string, taxonomyId: string): Promise<void> {
    checkTaxonomy(segmentId, taxonomyId);
    const keys = tenantKeys(this.#namespace, tenant);
    const write = this.#redis.multi();
    if (taxonomyId === '') write.hdel(keys.segtaxonomy, segmentId);
    else write.hset(keys.segtaxonomy, segmentId, taxonomyId);
    await execPipeline(write.incr(keys.catalogVersion));
  }

  #key(tenant: string): string {
    return tenantKeys(this.#namespace, tenant).sharing;
  }
}

function decode(partner: string, raw: string): SharingAgreement {
  const v = stored.parse(JSON.parse(raw));
  return { partner, all: v.all, segmentIds: v.segmentIds };
}
