import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ReloadWatcher } from '../../src/server/reload-watcher.js';
import { writeFileAtomically } from '../../src/tagging/atomic-file.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let watcher: ReloadWatcher | null = null;
afterEach(() => watcher?.close());

/** A watcher over `paths` and a way to wait for its next call (or give up after 5 s). */
function watching(paths: string[]): { calls: () => number; next: () => Promise<number> } {
  let calls = 0;
  watcher = new ReloadWatcher(paths, () => calls++);
  return {
    calls: () => calls,
    next: async () => {
      const before = calls;
      for (let waited = 0; calls === before && waited < 5000; waited += 50) await sleep(50);
      return calls - before;
    },
  };
}

describe('ReloadWatcher', () => {
  it('follows a file replaced by rename again and again, as atomic writers replace it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wachtpost-watch-'));
    const file = join(dir, 'catalogue.bundle');
    await writeFile(file, 'one');
    const { next } = watching([file]);
    writeFileAtomically(file, 'two');
    expect(await next()).toBe(1);
    writeFileAtomically(file, 'three');
    expect(await next()).toBe(1);
  });

  it('notices a file that appears after it started', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wachtpost-watch-'));
    const { next } = watching([join(dir, 'local-rules.yaml')]);
    await writeFile(join(dir, 'local-rules.yaml'), 'rules: []\n');
    expect(await next()).toBe(1);
  });

  it('ignores other files beside a watched file, but not changes inside a watched directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wachtpost-watch-'));
    const apps = join(dir, 'apps');
    await mkdir(apps);
    await writeFile(join(dir, 'owners.yaml'), 'owners: []\n');
    const { calls, next } = watching([join(dir, 'owners.yaml'), apps]);
    // The history database often shares a directory with the files watched: its writes must not reload.
    await writeFile(join(dir, 'history.sqlite'), 'x');
    await sleep(800);
    expect(calls()).toBe(0);
    await writeFile(join(apps, 'new-app.yaml'), 'id: x\n');
    expect(await next()).toBe(1);
  });
});
