import { readFileSync } from 'node:fs';

/** Environment variable holding the RADIUS shared secret when no file is configured. */
export const RADIUS_SECRET_ENV = 'WACHTPOST_RADIUS_SECRET';
/** RFC 2865 §3 asks for at least 16 octets; a shorter secret makes the authenticator guessable. */
export const MIN_SECRET_LENGTH = 16;

/**
 * The shared secret: the file's contents (surrounding whitespace dropped, as editors add a
 * newline) or the environment variable. Errors name where the secret was looked for, never
 * the secret.
 */
export function sharedSecret(file: string, env: NodeJS.ProcessEnv = process.env): Buffer {
  const where = file === '' ? RADIUS_SECRET_ENV : file;
  let text: string;
  if (file === '') {
    text = env[RADIUS_SECRET_ENV] ?? '';
  } else {
    try {
      text = readFileSync(file, 'utf8').trim();
    } catch (error) {
      throw new Error(`cannot read the RADIUS secret file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  }
  if (text.length < MIN_SECRET_LENGTH) {
    throw new Error(`identity.radius.listen is set, but ${where} holds no RADIUS shared secret of ${MIN_SECRET_LENGTH}+ characters`);
  }
  return Buffer.from(text, 'utf8');
}
