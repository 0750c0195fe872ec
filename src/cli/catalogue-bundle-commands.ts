import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadConfig } from '../config/load.js';
import { keyId, publicKeyText } from '../config/public-key.js';
import type { Config } from '../config/schema.js';
import { ConfigError } from '../config/yaml-source.js';
import { Policy } from '../policy/policy.js';
import { writeFileAtomically } from '../tagging/atomic-file.js';
import { BundleError, bundlePayload, openBundle, readBundle, readBundleText, signBundle, type OpenedBundle } from '../tagging/catalogue-bundle.js';
import { compareVersions } from '../tagging/catalogue-info.js';
import { catalogueIsBundle, loadDetection } from '../tagging/detection.js';
import { SHIPPED } from '../tagging/shipped-data.js';
import { parseCommand, UsageError } from './usage.js';

/** `wachtpost catalogue bundle --key PRIVATE.pem [--dir DIR] -o FILE`: the publisher signs a catalogue directory laid out as geo/. */
export function bundleCommand(args: string[], out: NodeJS.WritableStream): number {
  const { values, positionals } = parseCommand(args, { key: { type: 'string' }, dir: { type: 'string' }, output: { type: 'string', short: 'o' } });
  if (values.key === undefined || values.output === undefined) throw new UsageError('bundle needs --key and -o');
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const key = privateKey(values.key);
  const payload = bundlePayload(values.dir ?? SHIPPED.geo);
  writeFileAtomically(values.output, signBundle(payload, key));
  const rules = payload.apps.reduce((total, app) => total + app.rules.length, 0);
  const publicKey = createPublicKey(key);
  out.write(
    `${values.output}: catalogue ${payload.version}, ${payload.apps.length} apps, ${rules} rules, ${payload.owners.length} owners, ` +
      `${payload.endpoints.length} DoH endpoints; signed by key ${keyId(publicKey)}\n` +
      `public key (for detection.catalogue_keys): ${publicKeyText(publicKey)}\n`,
  );
  return 0;
}

/** `wachtpost catalogue verify FILE [--config FILE]`: would `install` accept it here? Changes nothing. */
export function verifyCommand(args: string[], out: NodeJS.WritableStream): number {
  const { file, config } = bundleArguments(args, 'verify');
  const bundle = checkedBundle(readBundleText(file), file, config);
  out.write(`${file}: ${describe(bundle)}, signed by key ${bundle.keyId}: valid for this installation\n`);
  return 0;
}

/**
 * `wachtpost catalogue install FILE [--config FILE] [--allow-downgrade]`: checks the bundle
 * as verify does, refuses an older release than the installed one, then replaces the file
 * `detection.catalogue` names in one rename, which running servers notice and reload.
 * Refused, it changes nothing.
 */
export function installCommand(args: string[], out: NodeJS.WritableStream): number {
  const { file, config, allowDowngrade } = bundleArguments(args, 'install');
  const target = config.detection.catalogue;
  if (!catalogueIsBundle(config.detection)) {
    throw new BundleError(
      `detection.catalogue is ${target === '' ? 'empty (the catalogue shipped in geo/apps)' : `the directory ${target}`}: ` +
        'set it to the file bundles are installed to, e.g. /var/lib/wachtpost/catalogue.bundle; nothing installed',
    );
  }
  // The bytes checked are the bytes written: the file cannot change in between.
  const text = readBundleText(file);
  const bundle = checkedBundle(text, file, config);
  const installed = installedVersion(target, config);
  if (installed !== null && compareVersions(bundle.info.version, installed) < 0 && !allowDowngrade) {
    throw new BundleError(`${file}: catalogue ${bundle.info.version} is older than the installed ${installed}; nothing installed (--allow-downgrade installs it anyway)`);
  }
  writeFileAtomically(target, text);
  out.write(`installed ${describe(bundle)} at ${target}${installed === null ? '' : `, replacing ${installed}`}; running servers reload it\n`);
  return 0;
}

/** The FILE, the loaded configuration and --allow-downgrade (install only) of verify and install. */
function bundleArguments(args: string[], command: 'verify' | 'install'): { file: string; config: Config; allowDowngrade: boolean } {
  const { values, positionals } = parseCommand(args, { config: { type: 'string', short: 'c' }, 'allow-downgrade': { type: 'boolean' } });
  const [file, ...rest] = positionals;
  if (file === undefined || rest.length > 0) throw new UsageError(`${command} takes one bundle file`);
  if (command === 'verify' && values['allow-downgrade'] !== undefined) throw new UsageError('--allow-downgrade is for install');
  const config = loadConfig(values.config === undefined ? {} : { file: values.config });
  return { file, config, allowDowngrade: values['allow-downgrade'] === true };
}

/**
 * The bundle, verified against the configured keys and validated, and checked against
 * everything else the server would load with it (local rules, DoH endpoints, policy), so
 * an install the running server would refuse is refused here instead.
 */
function checkedBundle(text: string, file: string, config: Config): OpenedBundle {
  const bundle = openBundle(text, file, config.detection.catalogue_keys);
  try {
    const detection = loadDetection(config, bundle);
    Policy.compile(config, detection.catalogue, detection.watchlist);
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new BundleError(`${file}: does not fit this installation: ${(error as Error).message}`);
  }
  return bundle;
}

/** The installed bundle's version; null when none is installed or it no longer opens (it is being replaced). */
function installedVersion(target: string, config: Config): string | null {
  try {
    return readBundle(target, config.detection.catalogue_keys).info.version;
  } catch {
    return null;
  }
}

function describe(bundle: OpenedBundle): string {
  const rules = bundle.apps.reduce((total, app) => total + app.rules.length, 0);
  return `catalogue ${bundle.info.version} (${bundle.apps.length} apps, ${rules} rules, ${bundle.owners.list.length} owners)`;
}

function privateKey(file: string): KeyObject {
  try {
    return createPrivateKey(readFileSync(file));
  } catch (error) {
    throw new BundleError(`${file}: cannot read the signing key: ${(error as Error).message}`);
  }
}
