import { createHash, createPublicKey, type KeyObject } from 'node:crypto';

/**
 * An Ed25519 public key as the configuration gives it: a PEM block ("-----BEGIN PUBLIC
 * KEY-----") or the base64 of its DER SubjectPublicKeyInfo (what `wachtpost catalogue
 * bundle` prints). Throws on anything else.
 */
export function parsePublicKey(text: string): KeyObject {
  const trimmed = text.trim();
  let key: KeyObject;
  try {
    key = trimmed.startsWith('-----BEGIN')
      ? createPublicKey({ key: trimmed, format: 'pem' })
      : createPublicKey({ key: base64(trimmed), format: 'der', type: 'spki' });
  } catch {
    throw new Error('is not a public key: give a PEM block or the base64 of a DER SubjectPublicKeyInfo');
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`is a ${key.asymmetricKeyType ?? 'unknown'} key; catalogue bundles are signed with Ed25519`);
  return key;
}

/** Names a key in messages and bundles: the first 16 hex digits of the SHA-256 of its DER SubjectPublicKeyInfo. */
export function keyId(key: KeyObject): string {
  return createHash('sha256').update(spki(key)).digest('hex').slice(0, 16);
}

/** The key in the base64 form the configuration accepts. */
export function publicKeyText(key: KeyObject): string {
  return spki(key).toString('base64');
}

function spki(key: KeyObject): Buffer {
  return key.export({ format: 'der', type: 'spki' });
}

function base64(text: string): Buffer {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) throw new Error('not base64');
  return Buffer.from(text, 'base64');
}
