// The life of a bench server in a child process: listen on a free loopback port, print
// {"port": N} for startEmptyServer (bench/h2load.ts), exit on SIGTERM or when stdin closes (the
// bench died).
import * as grpc from '@grpc/grpc-js';

export function serveChild(server: grpc.Server): void {
  server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
    if (err) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    process.stdout.write(`${JSON.stringify({ port })}\n`);
  });
  const stop = () => { server.forceShutdown(); process.exit(0); };
  process.on('SIGTERM', stop);
  process.stdin.on('end', stop);
  process.stdin.resume();
}
