import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { buildResolverChain, type ResolverChain } from '../../src/server/resolver-chain.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The order the README's Architecture section draws (`access → canary → …`). */
function readmeOrder(): string[] {
  const readme = readFileSync(`${ROOT}README.md`, 'utf8');
  const drawn = /The chain, from `src\/server\/resolver-chain\.ts`:\s*```\s*\n([^\n]+)\n```/.exec(readme);
  if (drawn === null) throw new Error('README has no drawing of the chain');
  return drawn[1]!.split('→').map((name) => name.trim());
}

/** The order resolver-chain.ts's own comment lists, one stage per line (`*   name   why`). */
function commentOrder(): string[] {
  const source = readFileSync(`${ROOT}src/server/resolver-chain.ts`, 'utf8');
  const comment = source.slice(source.indexOf('The order of the list below is the'), source.indexOf('*/', source.indexOf('The order of the list below is the')));
  return [...comment.matchAll(/^ \*   ([a-z]+) {2,}/gm)].map((match) => match[1]!);
}

let built: ResolverChain | null = null;
afterEach(async () => {
  for (const stage of built?.stages ?? []) await stage.close();
  built = null;
});

describe('the resolver chain', () => {
  it('runs its stages in the order the README and its own comment document', () => {
    built = buildResolverChain(loadConfig({ text: '', overrides: { upstream: ['127.0.0.1:5300'] } }));
    const names = built.stages.map((stage) => stage.name);
    expect(names).toEqual(['access', 'scope', 'canary', 'policy', 'cache', 'coalesce', 'tag', 'upstream']);
    expect(readmeOrder()).toEqual(names);
    expect(commentOrder()).toEqual(names);
    expect(built.head).toBe(built.stages[0]);
  });

  it('leaves out canary, policy and tag when detection is off', () => {
    built = buildResolverChain(loadConfig({ text: 'detection: { enabled: false }\n', overrides: { upstream: ['127.0.0.1:5300'] } }));
    expect(built.stages.map((stage) => stage.name)).toEqual(['access', 'scope', 'cache', 'coalesce', 'upstream']);
  });
});
