import { createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { Ajv } from 'ajv';
import { keyId, parsePublicKey } from '../config/public-key.js';
import { ConfigError, YamlSource, deepFreeze } from '../config/yaml-source.js';
import { PublicEndpointSchema, endpointProblems, loadPublicEndpoints } from './bypass-endpoints.js';
import { CatalogueInfoFields, loadCatalogueInfo } from './catalogue-info.js';
import { AppSchema } from './catalogue-schema.js';
import { Claims, appProblems, loadShippedApps, type CatalogueRelease } from './catalogue.js';
import { OwnerSchema } from './owners-schema.js';
import { indexOwners, loadOwners } from './owners.js';

/** Names the envelope and is signed with the payload, so a signature can never be read as one over another format. */
export const BUNDLE_FORMAT = 'wachtpost-catalogue-bundle/1';

/**
 * What a bundle carries: one catalogue release whole. The watch list is not in it: which
 * countries are flagged is the operator's policy, not the publisher's data.
 */
const BundlePayloadSchema = Type.Object(
  {
    ...CatalogueInfoFields,
    owners: Type.Array(OwnerSchema, { minItems: 1 }),
    endpoints: Type.Array(PublicEndpointSchema, { description: 'Public DNS-over-HTTPS resolvers, as geo/doh-endpoints.yaml lists them' }),
    apps: Type.Array(AppSchema, { minItems: 1 }),
  },
  { additionalProperties: false },
);

export type BundlePayload = Static<typeof BundlePayloadSchema>;

const validate = new Ajv({ allErrors: true, useDefaults: true, strict: true }).compile<BundlePayload>(BundlePayloadSchema);

/** A bundle that is not one, is not signed by a configured key, or does not match its signature. */
export class BundleError extends Error {
  override readonly name = 'BundleError';
}

/** A verified, validated bundle and the key that signed it. */
export interface OpenedBundle extends CatalogueRelease {
  readonly keyId: string;
}

/**
 * The payload for a catalogue directory laid out as geo/ (apps/, owners.yaml,
 * catalogue.yaml, doh-endpoints.yaml), loaded with the loaders the server uses, so a
 * publisher cannot sign what a server would refuse. Apps are sorted by id, so the same
 * files always give the same bundle.
 */
export function bundlePayload(dir: string): BundlePayload {
  const owners = loadOwners(join(dir, 'owners.yaml'));
  const { apps } = loadShippedApps(join(dir, 'apps'), owners);
  const info = loadCatalogueInfo(join(dir, 'catalogue.yaml'));
  return {
    version: info.version,
    description: info.description,
    owners: [...owners.list],
    endpoints: [...loadPublicEndpoints(join(dir, 'doh-endpoints.yaml'))],
    apps: [...apps].sort((a, b) => (a.id < b.id ? -1 : 1)),
  };
}

/**
 * The bundle file: a JSON envelope holding the payload and an Ed25519 signature over the
 * format name and the payload's canonical serialisation (see canonicalJson), with the id
 * of the key that made it. Pretty-printed, so problems can be reported by line.
 */
export function signBundle(payload: BundlePayload, privateKey: KeyObject): string {
  if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'ed25519') {
    throw new BundleError(`the signing key is a ${privateKey.asymmetricKeyType ?? 'symmetric'} ${privateKey.type} key; bundles are signed with an Ed25519 private key`);
  }
  const signature = { algorithm: 'ed25519', key: keyId(createPublicKey(privateKey)), value: sign(null, signedBytes(payload), privateKey).toString('base64') };
  return `${JSON.stringify({ format: BUNDLE_FORMAT, signature, payload: JSON.parse(canonicalJson(payload)) as unknown }, null, 1)}\n`;
}

/** Reads and opens a bundle file (see openBundle). */
export function readBundle(file: string, keys: readonly string[]): OpenedBundle {
  return openBundle(readBundleText(file), file, keys);
}

export function readBundleText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new BundleError(`${file}: cannot read the catalogue bundle: ${(error as Error).message}`);
  }
}

/**
 * Checks a bundle's signature against the configured public keys, then validates its
 * content with the loaders the files in geo/ go through, so a broken bundle is refused
 * even when it is signed. BundleError says what is wrong with the envelope or the
 * signature in one line; ConfigError lists content problems by line.
 */
export function openBundle(text: string, file: string, keys: readonly string[]): OpenedBundle {
  const { payload, signature } = envelopeOf(text, file);
  if (keys.length === 0) throw new BundleError(`${file}: no key to check its signature against: detection.catalogue_keys is empty`);
  const candidates = keys.map(parsePublicKey);
  const key = candidates.find((candidate) => keyId(candidate) === signature.key);
  if (key === undefined) {
    throw new BundleError(`${file}: signed by key ${signature.key}, which is not in detection.catalogue_keys (${candidates.map(keyId).join(', ')})`);
  }
  if (!verifies(payload, key, signature.value)) {
    throw new BundleError(`${file}: the signature of key ${signature.key} does not match the content: the bundle was changed after it was signed`);
  }
  const source = YamlSource.parse(text, file);
  if (!validate(payload)) throw new ConfigError(source.schemaProblems(validate.errors ?? [], ['payload']), file);
  const owners = indexOwners(payload.owners, source, ['payload', 'owners']);
  const claims = new Claims();
  const problems = [
    ...payload.apps.flatMap((app, i) => appProblems(app, source, ['payload', 'apps', String(i)], claims, 'shipped', owners)),
    ...endpointProblems(payload.endpoints, source, ['payload', 'endpoints']),
  ];
  if (problems.length > 0) throw new ConfigError(problems, file);
  return {
    apps: deepFreeze(payload.apps),
    claims,
    owners,
    info: Object.freeze({ version: payload.version, description: payload.description }),
    endpoints: deepFreeze(payload.endpoints),
    keyId: signature.key,
  };
}

interface Envelope {
  payload: Record<string, unknown>;
  signature: { key: string; value: string };
}

/** The envelope's parts, or a BundleError for anything that is not a signed bundle of this format. */
function envelopeOf(text: string, file: string): Envelope {
  let envelope: unknown;
  try {
    envelope = JSON.parse(text);
  } catch {
    throw new BundleError(`${file}: not a catalogue bundle: not JSON`);
  }
  if (!isRecord(envelope) || typeof envelope.format !== 'string') throw new BundleError(`${file}: not a catalogue bundle: no "format"`);
  if (envelope.format !== BUNDLE_FORMAT) throw new BundleError(`${file}: a bundle of format "${envelope.format}", which this version does not read (it reads ${BUNDLE_FORMAT})`);
  const extra = Object.keys(envelope).find((key) => !['format', 'signature', 'payload'].includes(key));
  if (extra !== undefined) throw new BundleError(`${file}: not a catalogue bundle: unexpected field "${extra}" outside the signed payload`);
  if (!isRecord(envelope.payload)) throw new BundleError(`${file}: not a catalogue bundle: no "payload"`);
  const { signature } = envelope;
  if (signature === undefined) throw new BundleError(`${file}: the bundle is not signed`);
  if (!isRecord(signature) || signature.algorithm !== 'ed25519' || typeof signature.key !== 'string' || typeof signature.value !== 'string') {
    throw new BundleError(`${file}: "signature" is not an Ed25519 signature with the key id and value`);
  }
  return { payload: envelope.payload, signature: { key: signature.key, value: signature.value } };
}

function verifies(payload: unknown, key: KeyObject, base64: string): boolean {
  try {
    return verify(null, signedBytes(payload), key, Buffer.from(base64, 'base64'));
  } catch {
    return false; // a signature of the wrong length
  }
}

/** What the signature covers: the format name, a newline, and the payload's canonical JSON. */
function signedBytes(payload: unknown): Buffer {
  return Buffer.from(`${BUNDLE_FORMAT}\n${canonicalJson(payload)}`);
}

/**
 * JSON with every object's keys sorted and no whitespace: one text for one value, however
 * the file was laid out, so the signature covers exactly what the server reads and uses.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (isRecord(value)) {
    return `{${Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
