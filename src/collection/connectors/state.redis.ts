import { randomBytes } from 'node:crypto';
import { PulseError } from '../../errors.ts';
import { defineScript, type Script, type RedisClient } from '../../infra/redis.ts';
import { tenantKeys } from '../../profiles/keys.ts';
import { connectorStatusSchema, emptyStatus, syncStateSchema, type ConnectorStatus, type SyncState } from './model.ts';
import type { ConnectorStore, StoredConnector } from './store.ts';

/**
 * Connector state in Redis: the hash `<ns>:{<tenant>}:connector:<id>` (fields `state`, `status`,
 * `next`) and its lease `...:lock`, both under the tenant's hash tag so the fenced write is one
 * slot on Redis Cluster.
 */
export class RedisConnectorStore implements ConnectorStore {
  readonly #redis: RedisClient;
  readonly #namespace: string;
  readonly #script: Script;

  constructor(redis: RedisClient, namespace: string) {
    this.#redis = redis;
    this.#namespace = namespace;
    this.#script = defineScript(redis, 'pulseConnectorState', new URL('./connector-state.lua', import.meta.url), 2);
  }

  /** The hash key of a connector; tenant and id are validated before they become part of it. */
  key(tenant: string, id: string): string {
    return tenantKeys(this.#namespace, tenant).connector(id);
  }

  async read(tenant: string, id: string): Promise<StoredConnector> {
    const [state = null, status = null, next = null] = await this.#redis.hmget(this.key(tenant, id), 'state', 'status', 'next');
    let parsedState: SyncState = {};
    if (state !== null) {
      const r = syncStateSchema.safeParse(safeJson(state));
      if (!r.success) throw new PulseError('INTERNAL', `the stored cursor of connector ${id} is unreadable; inspect or delete it with redis-cli`);
      parsedState = r.data;
    }
    // The status is informational: an unreadable one starts over rather than stopping syncs.
    const s = status === null ? undefined : connectorStatusSchema.safeParse(safeJson(status));
    return {
      state: parsedState,
      status: s?.success === true ? s.data : emptyStatus(),
      nextRunAt: next === null || !/^\d+$/.test(next) ? undefined : Number(next),
    };
  }

  async acquire(tenant: string, id: string, ttlMs: number): Promise<string | undefined> {
    const lease = randomBytes(12).toString('hex');
    const ok = await this.#redis.set(tenantKeys(this.#namespace, tenant).connectorLock(id), lease, 'PX', ttlMs, 'NX');
    return ok === 'OK' ? lease : undefined;
  }

  write(tenant: string, id: string, lease: string, ttlMs: number, update: { state?: SyncState; status?: ConnectorStatus }): Promise<boolean> {
    return this.#fenced('write', tenant, id, lease, ttlMs, update);
  }

  release(tenant: string, id: string, lease: string, update: { state?: SyncState; status?: ConnectorStatus }): Promise<boolean> {
    return this.#fenced('release', tenant, id, lease, 0, update);
  }

  async setNextRun(tenant: string, id: string, at: number | undefined): Promise<void> {
    const key = this.key(tenant, id);
    if (at === undefined || !Number.isFinite(at)) await this.#redis.hdel(key, 'next');
    else await this.#redis.hset(key, 'next', String(Math.round(at)));
  }

  async #fenced(op: 'write' | 'release', tenant: string, id: string, lease: string, ttlMs: number, update: { state?: SyncState; status?: ConnectorStatus }): Promise<boolean> {
    const keys = tenantKeys(this.#namespace, tenant);
    const fields: string[] = [];
    if (update.state !== undefined) fields.push('state', JSON.stringify(update.state));
    if (update.status !== undefined) fields.push('status', JSON.stringify(update.status));
    const written = await this.#script.run([keys.connector(id), keys.connectorLock(id)], [op, lease, Math.max(1, Math.round(ttlMs)), ...fields]);
    return written === 1;
  }
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}
