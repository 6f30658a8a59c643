// A k6 VU's thread: worker threads do not inherit tsx's hooks (Node 20), so tsx and the shim's own
// hooks are registered here, then the VU runs (vu.ts).
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

registerTsx();
register('./hooks.mjs', import.meta.url);
await import('./vu.ts');
