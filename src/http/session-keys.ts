import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';

/** Shortest key accepted: 32 characters of a random base64url string are 192 bits. */
export const MIN_KEY_LENGTH = 32;

/**
 * The keys that sign dashboard session cookies, from `api.session_keys_file`: one per line,
 * the first signs and all verify, so a new first line rotates the key without signing anyone
 * out, and removing a line ends the sessions it signed. A missing file is created with one
 * random key (mode 0600); instances that share the file share their sessions. An empty path
 * gives a key that lives as long as the process (sign-ins end at a restart).
 * Errors name the file and line, never a key.
 */
export function loadSessionKeys(file: string): Buffer[] {
  if (file === '') return [randomBytes(32)];
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`cannot read the session keys file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    text = createKeysFile(file);
  }
  const keys: Buffer[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    if (line.length < MIN_KEY_LENGTH) throw new Error(`${file}:${index + 1}: a session key needs at least ${MIN_KEY_LENGTH} characters`);
    keys.push(Buffer.from(line, 'utf8'));
  });
  if (keys.length === 0) throw new Error(`${file} holds no session key (one per line, the first signs)`);
  return keys;
}

/** Writes a new keys file; when another instance created it first, reads theirs. */
function createKeysFile(file: string): string {
  const text = `# Keys that sign dashboard sessions: the first signs, all verify.\n${randomBytes(32).toString('base64url')}\n`;
  try {
    writeFileSync(file, text, { mode: 0o600, flag: 'wx' });
    return text;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return readFileSync(file, 'utf8');
    throw new Error(`cannot create the session keys file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}
