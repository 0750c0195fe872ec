import { statSync } from 'node:fs';
import type { Config } from '../config/schema.js';
import { indexBypassEndpoints, loadPublicEndpoints, type BypassEndpoint, type PublicEndpoint } from './bypass-endpoints.js';
import { readBundle } from './catalogue-bundle.js';
import { loadCatalogueInfo } from './catalogue-info.js';
import { compileCatalogue, loadShippedApps, type Catalogue, type CatalogueRelease } from './catalogue.js';
import { GeoTagger, type DatabaseReader } from './geo-tagger.js';
import { loadWatchlist } from './jurisdictions.js';
import { loadLocalRules } from './local-rules.js';
import { loadOwners, type Owners } from './owners.js';
import { SHIPPED, infoFileOf, ownersFileOf } from './shipped-data.js';
import type { SignatureIndex } from './signature-index.js';

type DetectionSettings = Config['detection'];

/** Everything tagging consults, loaded and validated together so a reload swaps it whole. */
export interface Detection {
  readonly catalogue: Catalogue;
  readonly geo: GeoTagger;
  readonly watchlist: ReadonlySet<string>;
  /** The owners file: who owns the apps, and the networks each operates (network attribution). */
  readonly owners: Owners;
  /** Public DoH resolvers and the apps' own HTTPDNS hosts: looking one up is a bypass attempt. */
  readonly bypass: SignatureIndex<BypassEndpoint>;
}

/**
 * Loads what the settings name; `release` replaces the configured catalogue (to check a
 * bundle before installing it), `readDatabase` how the GeoIP files are read.
 */
export function loadDetection(config: Config, release: CatalogueRelease = loadRelease(config.detection), readDatabase?: DatabaseReader): Detection {
  const settings = config.detection;
  const catalogue = withLocalRules(release, settings.local_rules);
  return {
    catalogue,
    owners: release.owners,
    geo: GeoTagger.fromFiles(...geoDatabaseFiles(settings), readDatabase),
    watchlist: loadWatchlist(settings.jurisdictions || SHIPPED.jurisdictions),
    bypass: indexBypassEndpoints(publicEndpoints(settings, release), catalogue.apps),
  };
}

/**
 * The catalogue the settings name, with the local rules file merged in: one rule per
 * domain or pattern, so a local rule can add to the catalogue but never take a name from it.
 */
export function loadConfiguredCatalogue(settings: DetectionSettings): Catalogue {
  return withLocalRules(loadRelease(settings), settings.local_rules);
}

/**
 * The configured catalogue as published: a directory of app files with owners.yaml and
 * catalogue.yaml beside it, or a bundle file, whose signature is checked against the
 * configured keys on every load, so a bundle altered on disk is refused like a broken file.
 */
export function loadRelease(settings: DetectionSettings): CatalogueRelease {
  if (catalogueIsBundle(settings)) return readBundle(settings.catalogue, settings.catalogue_keys);
  const owners = loadOwners(ownersFileOf(settings.catalogue));
  return { ...loadShippedApps(settings.catalogue || SHIPPED.catalogue, owners), owners, info: loadCatalogueInfo(infoFileOf(settings.catalogue)), endpoints: null };
}

/** The GeoIP databases the settings name: country, then ASN. */
export function geoDatabaseFiles(settings: DetectionSettings): [country: string, asn: string] {
  return [settings.geoip.country || SHIPPED.countryDatabase, settings.geoip.asn || SHIPPED.asnDatabase];
}

/** Every file detection reads but the GeoIP databases, for the reload watcher. */
export function detectionFiles(settings: DetectionSettings): string[] {
  return [
    ...(catalogueIsBundle(settings)
      ? [settings.catalogue]
      : [settings.catalogue || SHIPPED.catalogue, ownersFileOf(settings.catalogue), infoFileOf(settings.catalogue)]),
    ...(settings.local_rules === '' ? [] : [settings.local_rules]),
    settings.jurisdictions || SHIPPED.jurisdictions,
    settings.bypass_endpoints || SHIPPED.bypassEndpoints,
  ];
}

function withLocalRules(release: CatalogueRelease, file: string): Catalogue {
  return compileCatalogue(release, file === '' ? undefined : loadLocalRules(file, release), release.info);
}

/** A configured list wins; else the one a bundle carries; else geo/doh-endpoints.yaml. */
function publicEndpoints(settings: DetectionSettings, release: CatalogueRelease): readonly PublicEndpoint[] {
  if (settings.bypass_endpoints !== '') return loadPublicEndpoints(settings.bypass_endpoints);
  return release.endpoints ?? loadPublicEndpoints(SHIPPED.bypassEndpoints);
}

/** `detection.catalogue` names a bundle file (or where one is to be installed) rather than a directory of app files. */
export function catalogueIsBundle(settings: DetectionSettings): boolean {
  if (settings.catalogue === '') return false;
  try {
    return !statSync(settings.catalogue).isDirectory();
  } catch {
    return true;
  }
}
