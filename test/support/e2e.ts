import * as grpc from '@grpc/grpc-js';
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import type { ApiKey } from '../../src/auth/keys.ts';
import { loadPulseGrpc, type PulseGrpc } from '../../src/infra/proto.ts';
import { cleanupNamespace, NATS_URL, REDIS_URL, tempDir, uniqueNamespace } from './env.ts';
import { bearer, callUnary, grpcClients, runCli, startPulseProcess, type PulseProcess } from './pulse-process.ts';

type Services = PulseGrpc['pulse']['v1'];
/** Names of the pulse.v1 services (the package also holds message types). */
export type ServiceName = { [K in keyof Services]: Services[K] extends { service: grpc.ServiceDefinition } ? K : never }[keyof Services];

/** What an e2e test file runs against. */
export interface E2eOptions {
  /** Prefix of the namespace, which is unique to the file. */
  readonly prefix: string;
  /** PULSE_API_KEYS; absent: `pulse start` creates an admin key under the data dir and prints it. */
  readonly keys?: readonly ApiKey[];
  /** Further PULSE_* settings; a function when they depend on what an earlier `t.before` made. */
  readonly env?: Record<string, string> | (() => Record<string, string>);
}

/** A real `pulse start` under its own namespace and data dir, and clients of it. */
export interface E2e {
  readonly ns: string;
  /** The running process (the latest one after `restart`). */
  readonly pulse: PulseProcess;
  readonly nc: NatsConnection;
  /** A connection to the shared Redis, for reading the keys under `ns`. */
  readonly redis: Redis;
  /** Promise-returning Targeting, Profile and Segment calls (see `grpcClients`). */
  readonly clients: ReturnType<typeof grpcClients>;
  /** The client of one pulse.v1 service, made once. */
  service<K extends ServiceName>(name: K): InstanceType<Services[K]>;
  /** A unary call of a pulse.v1 service with `authorization: Bearer <key>`. */
  call<Res>(service: ServiceName, method: string, req: unknown, key: string | undefined): Promise<Res>;
  /**
   * Publishes one event, or a batch as one `{"batch": [...]}` message, to `<ns>.events.<tenant>`
   * as JSON; `Nats-Msg-Id` is `msgID`, else a single event's messageId.
   */
  publish(tenant: string, payload: Record<string, unknown> | readonly Record<string, unknown>[], options?: { msgID?: string }): Promise<void>;
  /** Runs a `pulse` CLI command against the running process's settings. */
  cli(args: readonly string[]): ReturnType<typeof runCli>;
  /** The Prometheus text at /metrics. */
  metrics(): Promise<string>;
  /**
   * Starts `pulse start` again with the same namespace, data dir and settings, once the last one
   * stopped: the clients made so far are closed, the next ones reach the new process.
   */
  restart(): Promise<PulseProcess>;
}

/** The part of a tap test this needs. */
interface Lifecycle {
  before(fn: () => Promise<void>): void;
  teardown(fn: () => Promise<void>): void;
}

/**
 * Registers on `t` a `before` that starts `pulse start` under a unique namespace and data dir and
 * connects to NATS, and a teardown that closes every client, kills every process it started and
 * deletes the namespace's streams, keys and data dir. The handle is usable once the `before` ran.
 */
export function startE2e(t: Lifecycle, options: E2eOptions): E2e {
  const ns = uniqueNamespace(options.prefix);
  const dir = tempDir();
  const processes: PulseProcess[] = [];
  let nc: NatsConnection | undefined;
  let js: JetStreamClient | undefined;
  let redis: Redis | undefined;
  let clients: ReturnType<typeof grpcClients> | undefined;
  let services = new Map<ServiceName, grpc.Client>();
  let vars: Record<string, string> = {};

  const started = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`${what}: pulse did not start`);
    return value;
  };
  const pulse = () => started(processes[processes.length - 1], 'pulse');
  const closeClients = () => {
    clients?.close();
    clients = undefined;
    for (const c of services.values()) c.close();
    services = new Map();
  };
  const service = <K extends ServiceName>(name: K): InstanceType<Services[K]> => {
    let client = services.get(name);
    if (client === undefined) {
      client = new (loadPulseGrpc().pulse.v1[name])(`127.0.0.1:${pulse().grpcPort}`, grpc.credentials.createInsecure());
      services.set(name, client);
    }
    return client as InstanceType<Services[K]>;
  };
  const restart = async (): Promise<PulseProcess> => {
    closeClients();
    const next = await startPulseProcess(vars);
    processes.push(next);
    return next;
  };

  t.before(async () => {
    const env = typeof options.env === 'function' ? options.env() : options.env;
    vars = {
      PULSE_NAMESPACE: ns, PULSE_DATA_DIR: dir.path,
      ...(options.keys === undefined ? {} : { PULSE_API_KEYS: JSON.stringify(options.keys) }),
      ...env,
    };
    await restart();
    nc = await connect({ servers: NATS_URL });
    js = jetstream(nc);
  });

  t.teardown(async () => {
    closeClients();
    await redis?.quit();
    await nc?.close();
    for (const p of processes) await p.stop('SIGKILL');
    await cleanupNamespace(ns);
    dir.remove();
  });

  return {
    ns,
    get pulse() { return pulse(); },
    get nc() { return started(nc, 'nc'); },
    get redis() { return (redis ??= new Redis(REDIS_URL)); },
    get clients() { return (clients ??= grpcClients(pulse().grpcPort)); },
    service,
    call: <Res>(name: ServiceName, method: string, req: unknown, key: string | undefined) => callUnary<Res>(service(name), method, req, bearer(key)),
    publish: async (tenant, payload, opts = {}) => {
      const h = headers();
      h.set('Content-Type', 'application/json');
      const single = Array.isArray(payload) ? undefined : (payload as Record<string, unknown>);
      const messageId = single?.['messageId'];
      const msgID = opts.msgID ?? (typeof messageId === 'string' ? messageId : undefined);
      const body = JSON.stringify(single ?? { batch: payload });
      await started(js, 'publish').publish(`${ns}.events.${tenant}`, body, msgID === undefined ? { headers: h } : { headers: h, msgID });
    },
    cli: (args) => runCli(args, pulse().env),
    metrics: async () => (await fetch(`http://127.0.0.1:${pulse().httpPort}/metrics`)).text(),
    restart,
  };
}
