import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { Cluster } from 'ioredis';
import { eventually, freePort, tempDir } from './env.ts';

const exec = promisify(execFile);

/** A throw-away Redis Cluster of `masters` nodes (no replicas) on loopback ports, in a temp dir. */
export interface LocalRedisCluster {
  readonly ports: readonly number[];
  /** Seed URLs for PULSE_REDIS_URL (PULSE_REDIS_CLUSTER=true). */
  readonly url: string;
  /** Which master (port) serves the slot of `key`. */
  masterOf(key: string): Promise<number>;
  /** A cluster client (the caller quits it). */
  client(): Cluster;
  stop(): Promise<void>;
}

/**
 * Starts `redis-server --cluster-enabled yes` `masters` times and joins them with
 * `redis-cli --cluster create`, then waits until every node reports `cluster_state:ok`.
 */
export async function startRedisCluster(masters = 3): Promise<LocalRedisCluster> {
  const dir = tempDir('pulse-redis-cluster-');
  const ports: number[] = [];
  const children: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all(children.map((c) => new Promise<void>((resolve) => {
      if (c.exitCode !== null || c.signalCode !== null) return resolve();
      c.once('exit', () => resolve());
      c.kill('SIGKILL');
    })));
    dir.remove();
  };
  try {
    for (let i = 0; i < masters; i++) {
      const port = await freePort();
      const nodeDir = join(dir.path, String(port));
      mkdirSync(nodeDir);
      const child = spawn('redis-server', [
        '--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf',
        '--cluster-node-timeout', '5000', '--dir', nodeDir, '--save', '', '--appendonly', 'no', '--logfile', join(nodeDir, 'log'),
      ], { stdio: 'ignore' });
      children.push(child);
      ports.push(port);
    }
    for (const port of ports) {
      await eventually(async () => ((await cli(port, 'ping')).trim() === 'PONG' ? true : undefined), 10_000, `redis-server on ${port}`);
    }
    await exec('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-yes'], { timeout: 30_000 });
    for (const port of ports) {
      await eventually(async () => ((await cli(port, 'cluster', 'info')).includes('cluster_state:ok') ? true : undefined), 20_000, `cluster_state:ok on ${port}`);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    ports,
    url: ports.map((p) => `redis://127.0.0.1:${p}`).join(','),
    masterOf: async (key) => {
      const slot = Number((await cli(ports[0] ?? 0, 'cluster', 'keyslot', key)).trim());
      return ownerOf(slot, ports);
    },
    client: () => new Cluster(ports.map((port) => ({ host: '127.0.0.1', port }))),
    stop,
  };
}

async function cli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await exec('redis-cli', ['-p', String(port), ...args], { timeout: 10_000 });
  return stdout;
}

/** Which port serves `slot`: the node whose own line of `CLUSTER NODES` lists a range holding it. */
async function ownerOf(slot: number, ports: readonly number[]): Promise<number> {
  for (const port of ports) {
    const me = (await cli(port, 'cluster', 'nodes')).split('\n').find((l) => l.includes('myself'));
    for (const range of me?.split(' ').slice(8) ?? []) {
      const [lo, hi] = range.split('-').map(Number);
      if (lo !== undefined && slot >= lo && slot <= (hi ?? lo)) return port;
    }
  }
  throw new Error(`no node serves slot ${slot}`);
}
