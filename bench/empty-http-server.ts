// Ceiling of the collector rows (child process): fastify answering `POST /v1/batch` with
// 200 {"success":true} after parsing the JSON body (bodyLimit 512 KB) and doing nothing else (no
// auth, no validation, no publish). Prints {"port": N} once listening; exits on SIGTERM or when
// stdin closes (the bench died).
import Fastify from 'fastify';

const app = Fastify({ logger: false, bodyLimit: 512 * 1024 });
app.post('/v1/batch', (_req, reply) => { void reply.send({ success: true }); });
try {
  await app.listen({ host: '127.0.0.1', port: 0 });
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
}
const address = app.server.address();
process.stdout.write(`${JSON.stringify({ port: typeof address === 'object' && address !== null ? address.port : 0 })}\n`);
const stop = () => { void app.close().then(() => process.exit(0)); };
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.resume();
