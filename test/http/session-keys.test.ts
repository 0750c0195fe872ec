import { mkdtemp, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadSessionKeys } from '../../src/http/session-keys.js';
import { MAX_SIGNED_OUT, SessionCookies } from '../../src/http/sessions.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wachtpost-session-keys-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('loadSessionKeys', () => {
  it('creates a missing file with one random key, readable by its owner only, and reads the same key again', async () => {
    const file = join(dir, 'session.keys');
    const [key] = loadSessionKeys(file);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(key!.length).toBeGreaterThanOrEqual(32);
    expect(loadSessionKeys(file)).toEqual([key]);
    expect(await readFile(file, 'utf8')).toMatch(/^# .*\n[A-Za-z0-9_-]{43}\n$/);
  });

  it('reads every key in order, skipping blank lines and comments', async () => {
    const file = join(dir, 'keys');
    await writeFile(file, `# rotated 2026-12-01\n${'n'.repeat(40)}\n\n  ${'o'.repeat(32)}  \n`);
    expect(loadSessionKeys(file).map(String)).toEqual(['n'.repeat(40), 'o'.repeat(32)]);
  });

  it('refuses a short key naming the file and line, never the key', async () => {
    const file = join(dir, 'keys');
    await writeFile(file, `${'n'.repeat(40)}\nshort-secret-value\n`);
    expect(() => loadSessionKeys(file)).toThrow(new RegExp(`^${file}:2: a session key needs at least 32 characters$`));
  });

  it('refuses a file without keys and one that cannot be read', async () => {
    const file = join(dir, 'keys');
    await writeFile(file, '# nothing yet\n');
    expect(() => loadSessionKeys(file)).toThrow(/holds no session key/);
    await mkdir(join(dir, 'a-directory'));
    expect(() => loadSessionKeys(join(dir, 'a-directory'))).toThrow(/cannot read the session keys file .*EISDIR/);
    expect(() => loadSessionKeys(join(dir, 'missing-dir', 'keys'))).toThrow(/cannot create the session keys file .*ENOENT/);
  });

  it('gives a process-long random key for an empty path', () => {
    const [one] = loadSessionKeys('');
    const [two] = loadSessionKeys('');
    expect(one!.length).toBe(32);
    expect(one!.equals(two!)).toBe(false);
  });
});

describe('SessionCookies', () => {
  it(`remembers at most ${MAX_SIGNED_OUT.toLocaleString('en')} sign-outs, forgetting the oldest first`, () => {
    const clock = { now: 1_000_000 };
    const cookies = new SessionCookies([Buffer.from('k'.repeat(32))], 60_000, () => clock.now);
    const token = 'a'.repeat(64);
    const issued = Array.from({ length: MAX_SIGNED_OUT + 1 }, () => cookies.issue(token));
    for (const value of issued) cookies.signOut(cookies.read(value)!);
    expect(cookies.read(issued[0])).not.toBeNull();
    expect(cookies.read(issued[1])).toBeNull();
    expect(cookies.read(issued[MAX_SIGNED_OUT])).toBeNull();
    // Expired entries go first, whatever the count.
    clock.now += 61_000;
    const late = cookies.issue(token);
    cookies.signOut(cookies.read(late)!);
    expect(cookies.read(late)).toBeNull();
    expect(cookies.read(cookies.issue(token))).not.toBeNull();
  });
});
