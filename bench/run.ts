/** `npm run bench`: every *.bench.ts under bench/, in path order, one after another. */
import { readdir } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join, relative } from 'node:path';

const root = fileURLToPath(new URL('.', import.meta.url));
const files = (await readdir(root, { recursive: true }))
  .filter((file) => file.endsWith('.bench.ts'))
  .sort();
for (const file of files) {
  process.stdout.write(`\n# ${relative(root, join(root, file))}\n`);
  await import(pathToFileURL(join(root, file)).href);
}
