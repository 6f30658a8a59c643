/**
 * `npm run build`: compiles the product (not tests, benches or test helpers) to `dist/` with
 * tsconfig.build.json, then copies every file the code reads at run time beside the compiled one
 * (Lua scripts and includes, migrations, the pages), so `import.meta.url`-relative reads work from
 * `dist/` unchanged. `--out-dir DIR` builds elsewhere (the build test does; keep DIR inside the
 * repository so `node_modules` is found).
 */
import { spawnSync } from 'node:child_process';
import { cpSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({ options: { 'out-dir': { type: 'string', default: 'dist' } } });
const outDir = resolve(root, values['out-dir']);
/** The folders tsconfig.build.json compiles; their non-TypeScript files are the run-time assets. */
const PRODUCT = ['bin', 'gateway', 'admission', 'inventory', 'settlement', 'shared'];

// A clean tree: a file deleted from the source must not live on in dist/.
rmSync(outDir, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const built = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', outDir], { stdio: 'inherit' });
if (built.status !== 0) process.exit(built.status ?? 1);

let copied = 0;
for (const dir of PRODUCT) {
  for (const path of readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })) {
    const from = join(root, dir, path);
    if (path.endsWith('.ts') || !statSync(from).isFile()) continue;
    cpSync(from, join(outDir, dir, path));
    copied++;
  }
}
console.log(`built ${relative(root, outDir) || '.'}: compiled the product and copied ${copied} run-time files (Lua, migrations, pages)`);
