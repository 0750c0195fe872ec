/**
 * `node --import tsx bench/hardening/run.ts [--only NAME,…] [--after] [--label LABEL]`:
 * replays the attacks of the hardening issue against `wachtpost serve` from dist/ (run
 * `npm run build` first), each on a fresh server, all on loopback with a Knot upstream,
 * and prints what each did (memory, slots, answers). JSON in
 * bench/results/hardening-LABEL.json. `--after` adds the settings only the hardened build
 * knows (see scenarios.ts); without it the run works on older builds too, for the figures
 * before.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { stopAll, wachtpostVersion } from '../throughput/peers.js';
import { SCENARIOS, type Figures } from './scenarios.js';
import { startUpstream } from './servers.js';

const { values } = parseArgs({
  options: { only: { type: 'string' }, after: { type: 'boolean', default: false }, label: { type: 'string' } },
  strict: true,
});
const names = values.only === undefined ? Object.keys(SCENARIOS) : values.only.split(',');
for (const name of names) if (!(name in SCENARIOS)) throw new Error(`unknown scenario "${name}"; known: ${Object.keys(SCENARIOS).join(', ')}`);
const label = values.label ?? (values.after ? 'after' : 'before');

const dir = await mkdtemp(join(tmpdir(), 'wachtpost-hardening-'));
const cleanup = async (): Promise<void> => {
  await stopAll();
  await rm(dir, { recursive: true, force: true });
};
process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));

const results: Record<string, Figures | { error: string }> = {};
try {
  const knot = await startUpstream(dir);
  for (const name of names) {
    process.stderr.write(`${name} …\n`);
    try {
      results[name] = await SCENARIOS[name]!({ dir, knot, after: values.after });
    } catch (error) {
      results[name] = { error: (error as Error).message };
    }
    process.stdout.write(`\n## ${name}\n`);
    for (const [key, value] of Object.entries(results[name]!)) process.stdout.write(`- ${key}: ${value}\n`);
  }
} finally {
  await cleanup();
}
const out = fileURLToPath(new URL('../results/', import.meta.url));
await mkdir(out, { recursive: true });
await writeFile(join(out, `hardening-${label}.json`), `${JSON.stringify({ version: wachtpostVersion(), label, at: new Date().toISOString(), results }, null, 2)}\n`);
