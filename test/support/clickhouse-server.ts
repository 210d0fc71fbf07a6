import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, closeSync, constants, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { connect } from 'node:net';
import { delimiter, join } from 'node:path';
import { freePort, tempDir } from './env.ts';

/** A running throw-away ClickHouse server, or why there is none. */
export type ClickHouseServer = { url: string; stop(): Promise<void> } | { skipped: string };

const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;
const PORT_ATTEMPTS = 3;

/**
 * Starts Debian's `clickhouse-server` (18.16 here) as a child process on free loopback ports, with
 * its own config, data and logs in a temp dir that stop() removes. Skips where the binary is missing,
 * and where a Docker engine is reachable: there the server transport runs against a container.
 */
export async function startClickHouseServer(): Promise<ClickHouseServer> {
  if (await dockerReachable()) return { skipped: 'a Docker engine is reachable: the containerised server covers this transport' };
  const bin = findBinary('clickhouse-server');
  if (bin === undefined) return { skipped: 'clickhouse-server is not installed (Debian package clickhouse-server)' };
  // The ports are free when picked but not reserved: another process may take one before the server binds it.
  for (let attempt = 1; ; attempt++) {
    const dir = tempDir('pulse-clickhouse-');
    try {
      return await launch(bin, dir);
    } catch (err) {
      dir.remove();
      if (!(err instanceof PortTakenError) || attempt === PORT_ATTEMPTS) throw err;
    }
  }
}

class PortTakenError extends Error {}

async function launch(bin: string, dir: { path: string; remove: () => void }): Promise<{ url: string; stop(): Promise<void> }> {
  const httpPort = await freePort();
  let tcpPort = await freePort();
  while (tcpPort === httpPort) tcpPort = await freePort();
  const configFile = writeConfig(dir.path, httpPort, tcpPort);
  const out = openSync(join(dir.path, 'stdout.log'), 'a');
  let child: ChildProcess;
  try {
    child = spawn(bin, [`--config-file=${configFile}`], { cwd: dir.path, stdio: ['ignore', out, out] });
  } finally {
    closeSync(out);
  }
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => resolve(`exited with ${signal ?? `code ${code}`}`));
    child.once('error', (err) => resolve(`failed to start: ${err.message}`));
  });
  // A test process that dies without stop() must not leave the server behind.
  const killOnExit = (): void => void child.kill('SIGKILL');
  process.once('exit', killOnExit);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      process.removeListener('exit', killOnExit);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
        await exited;
        clearTimeout(timer);
      }
      dir.remove();
    })();
    return stopping;
  };

  const url = `http://127.0.0.1:${httpPort}`;
  const ready = await Promise.race([waitForPing(url, () => child.exitCode !== null || child.signalCode !== null), exited]);
  if (ready === true) return { url, stop };
  const logs = logTail(dir.path);
  await stop();
  const why = ready === false ? `did not answer ${url}/ping within ${START_TIMEOUT_MS} ms` : ready;
  const message = `clickhouse-server ${why}\n${logs}`;
  throw /Address already in use/i.test(logs) ? new PortTakenError(message) : new Error(message);
}

/** The smallest config 18.16 starts with; interserver HTTP is off because no port is configured. */
function writeConfig(dir: string, httpPort: number, tcpPort: number): string {
  for (const sub of ['data', 'tmp', 'user_files']) mkdirSync(join(dir, sub));
  const p = (name: string): string => xml(join(dir, name));
  const configFile = join(dir, 'config.xml');
  writeFileSync(configFile, `<?xml version="1.0"?>
<yandex>
  <logger>
    <level>information</level>
    <log>${p('server.log')}</log>
    <errorlog>${p('server.err.log')}</errorlog>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>${httpPort}</http_port>
  <tcp_port>${tcpPort}</tcp_port>
  <path>${p('data')}/</path>
  <tmp_path>${p('tmp')}/</tmp_path>
  <user_files_path>${p('user_files')}/</user_files_path>
  <users_config>${p('users.xml')}</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>67108864</mark_cache_size>
  <uncompressed_cache_size>67108864</uncompressed_cache_size>
</yandex>
`);
  writeFileSync(join(dir, 'users.xml'), `<?xml version="1.0"?>
<yandex>
  <profiles><default/></profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas><default/></quotas>
</yandex>
`);
  return configFile;
}

/** true once the server answers `GET /ping` with `Ok.`; false when it has gone or START_TIMEOUT_MS has passed. */
async function waitForPing(url: string, gone: () => boolean): Promise<boolean> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline && !gone()) {
    if ((await ping(url)) === 'Ok.') return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

/** One request without keep-alive: the server waits for open connections when it shuts down. */
function ping(url: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = get(`${url}/ping`, { agent: false, timeout: 1_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve(res.statusCode === 200 ? body.trim() : undefined));
      res.on('error', () => resolve(undefined));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
  });
}

function logTail(dir: string): string {
  return ['stdout.log', 'server.err.log']
    .map((name) => join(dir, name))
    .filter((file) => existsSync(file))
    .map((file) => readFileSync(file, 'utf8').split('\n').slice(-20).join('\n'))
    .join('\n');
}

/** Debian installs the server in /usr/sbin, which a non-root PATH may lack. */
function findBinary(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter((d) => d !== ''), '/usr/sbin', '/usr/bin'];
  for (const d of dirs) {
    const file = join(d, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Whether a Docker engine accepts connections at DOCKER_HOST or the default socket. */
function dockerReachable(): Promise<boolean> {
  const host = process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock';
  let target: { path: string } | { host: string; port: number };
  if (host.startsWith('unix://')) {
    target = { path: host.slice('unix://'.length) };
  } else if (host.startsWith('tcp://')) {
    const u = new URL(host.replace(/^tcp:/, 'http:'));
    target = { host: u.hostname, port: Number(u.port || 2375) };
  } else {
    return Promise.resolve(false);
  }
  if ('path' in target && !existsSync(target.path)) return Promise.resolve(false);
  return new Promise((resolve) => {
    const socket = connect(target);
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
