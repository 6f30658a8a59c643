/** The Stripe stand-in as a child process of a bench, on a free port it reports over IPC. */
import { startStandIn } from '../../settlement/stripe-stand-in/server.js';

const standIn = await startStandIn({ port: 0, host: '127.0.0.1' });
process.send?.({ port: standIn.port });
process.on('SIGTERM', () => void standIn.close().then(() => process.exit(0)));
