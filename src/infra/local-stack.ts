import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';

/** True when something accepts TCP connections on host:port within `timeoutMs`. */
export function probe(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => { socket.destroy(); resolve(ok); };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** A local server Pulse can run when none answers. */
interface LocalServer {
  readonly name: string;
  readonly binary: string;
  readonly debianPackage: string;
  args(dataDir: string, port: number): string[];
}

const SERVERS = {
  nats: {
    name: 'NATS (JetStream)', binary: 'nats-server', debianPackage: 'nats-server',
    args: (dir: string, port: number) => ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', join(dir, 'nats')],
  },
  redis: {
    name: 'Redis', binary: 'redis-server', debianPackage: 'redis-server',
    args: (dir: string, port: number) => ['--bind', '127.0.0.1', '--port', String(port), '--dir', join(dir, 'redis'), '--appendonly', 'yes', '--save', ''],
  },
} satisfies Record<string, LocalServer>;

/** Raised when a server is missing and cannot be installed here; the message has the command. */
export class StackError extends Error {
  override readonly name = 'StackError';
}

function which(binary: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${binary}`], { stdio: 'ignore' }).status === 0;
}

function install(server: LocalServer, log: (line: string) => void): void {
  const command = `apt-get update && apt-get install -y ${server.debianPackage}`;
  if (process.getuid?.() !== 0) {
    throw new StackError(`${server.name} is not running and ${server.binary} is not installed. Install it with:\n  sudo ${command}\nor point PULSE_${server === SERVERS.nats ? 'NATS' : 'REDIS'}_URL at a running server.`);
  }
  log(`installing ${server.debianPackage} (apt-get)...`);
  for (const args of [['update', '-qq'], ['install', '-y', '-qq', server.debianPackage]]) {
    const r = spawnSync('apt-get', args, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (r.status !== 0) throw new StackError(`installing ${server.debianPackage} failed; run: ${command}`);
  }
}

/**
 * Makes sure a server answers on 127.0.0.1:port: uses the one already listening, otherwise
 * starts a local one with data under `dataDir` (installing its Debian package when missing and
 * running as root). Returns the started child, or undefined when an existing server was used.
 * With `keepRunning` the server outlives this process (`pulse stack up`).
 */
export async function ensureLocalServer(
  kind: keyof typeof SERVERS, port: number, dataDir: string, options: { keepRunning: boolean; log: (line: string) => void },
): Promise<ChildProcess | undefined> {
  if (await probe('127.0.0.1', port)) return undefined;
  const server: LocalServer = SERVERS[kind];
  if (!which(server.binary)) install(server, options.log);
  mkdirSync(join(dataDir, kind), { recursive: true });
  const logFd = openSync(join(dataDir, `${kind}.log`), 'a');
  // Its own process group: a Ctrl-C at the terminal reaches Pulse, which drains before it stops
  // the server, instead of killing the server under the drain.
  const child = spawn(server.binary, server.args(dataDir, port), { stdio: ['ignore', logFd, logFd], detached: true });
  if (options.keepRunning) child.unref();
  for (let i = 0; i < 100; i++) {
    if (await probe('127.0.0.1', port)) {
      options.log(`started ${server.name} on 127.0.0.1:${port} (data in ${join(dataDir, kind)}, log ${join(dataDir, `${kind}.log`)})`);
      return child;
    }
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new StackError(`${server.name} did not start on port ${port}; see ${join(dataDir, `${kind}.log`)}`);
}
