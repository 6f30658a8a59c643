/**
 * The baseline of the gateway benches: a bare uWebSockets.js server that echoes every frame, on the
 * same native build, the same machine and the same sockets. What the gateway does beyond this (JWT,
 * JSON, zod, Redis, topics) is what the ratio measures.
 */
import { loadNativeUws } from '../../shared/uws.js';

const uws = loadNativeUws();
const app = uws.App();
app.ws('/*', {
  maxPayloadLength: 64 * 1024,
  idleTimeout: 120,
  message: (ws, message, isBinary) => {
    ws.send(message, isBinary);
  },
});
app.listen('127.0.0.1', 0, (token) => {
  if (!token) {
    console.error('echo server could not listen');
    process.exit(1);
  }
  process.send?.({ port: uws.us_socket_local_port(token) });
});
process.on('SIGTERM', () => process.exit(0));
