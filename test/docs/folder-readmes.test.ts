import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';

/**
 * Every folder of src/ has a README.md (what it does, settings, metrics, tests), and what a
 * README names still exists: its modules, the settings, the metrics and the test files. A
 * module renamed, a setting dropped or a test moved without its README fails here.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SRC = join(ROOT, 'src');

const FOLDERS = readdirSync(SRC, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();

const DEFAULTS: unknown = loadConfig({ text: '', overrides: { upstream: ['127.0.0.1:5300'] } });

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesUnder(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

/** The source text of src/, the READMEs left out (they must not vouch for themselves). */
const SOURCE = filesUnder(SRC)
  .filter((file) => !file.endsWith('.md'))
  .map((file) => readFileSync(file, 'utf8'))
  .join('\n');

function readme(folder: string): string {
  return readFileSync(join(SRC, folder, 'README.md'), 'utf8');
}

/** The text of every `code span`, across line breaks. */
function codeSpans(text: string): string[] {
  return [...text.matchAll(/`([^`]+)`/g)].map((match) => match[1]!);
}

const DOTTED = /^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$/;
const FILE_NAME = /\.(ts|js|mjs|cjs|c|node|gyp|json|ya?ml|md|html|css|svg|mmdb|sqlite)$/;

/**
 * Settings named as dotted paths whose first part is a top-level setting (`cache.max_entries`,
 * `policy.sinkhole.listen`); file names (`log.ts`) and fields of other things (`device.id`)
 * are not settings.
 */
function settingsNamed(text: string): string[] {
  const topLevel = Object.keys(DEFAULTS as object);
  return codeSpans(text).filter((span) => DOTTED.test(span) && !FILE_NAME.test(span) && topLevel.includes(span.split('.')[0]!));
}

function isSetting(path: string): boolean {
  let node: unknown = DEFAULTS;
  for (const part of path.split('.')) {
    if (typeof node !== 'object' || node === null || Array.isArray(node) || !Object.hasOwn(node, part)) return false;
    node = (node as Record<string, unknown>)[part];
  }
  return true;
}

function metricsNamed(text: string): string[] {
  return [...new Set(text.match(/\bwachtpost_[a-z0-9_]+/g) ?? [])];
}

/** Paths into test/ (`test/integration/soc.test.ts`, `test/integration/`), a sentence's full stop left off. */
function testPathsNamed(text: string): string[] {
  return [...new Set(text.match(/(?<![\w./-])test\/[\w./-]*[\w/]/g) ?? [])];
}

/** `name.ts` without a folder: a module of the README's own folder. */
function modulesNamed(text: string): string[] {
  return codeSpans(text).filter((span) => /^[\w-]+\.ts$/.test(span));
}

/** `folder/name.ts`: a module of another folder of src/, or a file of test/ or bench/. */
function pathsNamed(text: string): string[] {
  return codeSpans(text).filter((span) => /^[\w-]+(\/[\w.-]+)+\.ts$/.test(span));
}

describe('a README in every folder of src/', () => {
  it('finds the folders', () => {
    expect(FOLDERS).toEqual(expect.arrayContaining(['cache', 'pipeline', 'server', 'wire']));
  });

  describe.each(FOLDERS)('src/%s/README.md', (folder) => {
    const dir = join(SRC, folder);
    const exists = existsSync(join(dir, 'README.md'));
    const text = exists ? readme(folder) : '';

    it('exists', () => {
      expect(exists, `src/${folder}/README.md`).toBe(true);
    });

    it('names every module of the folder', () => {
      const modules = readdirSync(dir).filter((name) => name.endsWith('.ts'));
      const missing = modules.filter((name) => !text.includes(`\`${name}\``));
      expect(missing, `modules of src/${folder}/ the README does not name`).toEqual([]);
    });

    it('names no module the folder does not have', () => {
      const gone = modulesNamed(text).filter((name) => !existsSync(join(dir, name)));
      expect(gone, `modules named but not in src/${folder}/ (write other folders' as folder/name.ts)`).toEqual([]);
    });

    it("names other folders' modules, tests and benchmarks that exist", () => {
      const gone = pathsNamed(text).filter((path) => !existsSync(/^(test|bench)\//.test(path) ? join(ROOT, path) : join(SRC, path)));
      expect(gone).toEqual([]);
    });

    it('names only settings the configuration has', () => {
      const unknown = settingsNamed(text).filter((path) => !isSetting(path));
      expect(unknown).toEqual([]);
    });

    it('names only metrics the code registers', () => {
      const unknown = metricsNamed(text).filter((metric) => !SOURCE.includes(metric));
      expect(unknown).toEqual([]);
    });

    it('names its tests, and only paths that exist', () => {
      const paths = testPathsNamed(text);
      expect(paths.length, 'test paths named').toBeGreaterThan(0);
      expect(paths.filter((path) => !existsSync(join(ROOT, path)))).toEqual([]);
    });
  });
});

describe('the checks themselves', () => {
  it('recognise settings, metrics, test paths and module references', () => {
    const sample = [
      '`cache.max_entries` and `policy.sinkhole.listen`, not `log.ts`, `device.id` or `mask.icloud.com`;',
      '`cache.no_such_setting`; `wachtpost_cache_hits_total{rcode}`; see test/wire/request.test.ts.',
      '`answer.ts`, `server/resolver-chain.ts`',
    ].join('\n');
    expect(settingsNamed(sample)).toEqual(['cache.max_entries', 'policy.sinkhole.listen', 'cache.no_such_setting']);
    expect(settingsNamed(sample).map(isSetting)).toEqual([true, true, false]);
    expect(metricsNamed(sample)).toEqual(['wachtpost_cache_hits_total']);
    expect(testPathsNamed(sample)).toEqual(['test/wire/request.test.ts']);
    expect(modulesNamed(sample)).toEqual(['log.ts', 'answer.ts']);
    expect(pathsNamed(sample)).toEqual(['server/resolver-chain.ts']);
  });

  it('src/metrics/README.md names every metric registered in src/metrics/', () => {
    const registered = filesUnder(join(SRC, 'metrics'))
      .filter((file) => file.endsWith('.ts'))
      .flatMap((file) => [...readFileSync(file, 'utf8').matchAll(/'(wachtpost_[a-z0-9_]+)'/g)].map((match) => match[1]!));
    expect(registered.length).toBeGreaterThan(20);
    const named = metricsNamed(readme('metrics'));
    expect(registered.filter((metric) => !named.includes(metric)), relative(ROOT, join(SRC, 'metrics', 'README.md'))).toEqual([]);
  });
});
