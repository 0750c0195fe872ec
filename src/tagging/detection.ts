import type { Config } from '../config/schema.js';
import { loadBypassEndpoints, type BypassEndpoint } from './bypass-endpoints.js';
import { loadCatalogueInfo } from './catalogue-info.js';
import { compileCatalogue, loadShippedApps, type Catalogue } from './catalogue.js';
import { GeoTagger } from './geo-tagger.js';
import { loadWatchlist } from './jurisdictions.js';
import { loadLocalRules } from './local-rules.js';
import { loadOwners } from './owners.js';
import { SHIPPED, infoFileOf, ownersFileOf } from './shipped-data.js';
import type { SignatureIndex } from './signature-index.js';

/** Everything tagging consults, loaded and validated together so a reload swaps it whole. */
export interface Detection {
  readonly catalogue: Catalogue;
  readonly geo: GeoTagger;
  readonly watchlist: ReadonlySet<string>;
  /** Public DoH resolvers and the apps' own HTTPDNS hosts: looking one up is a bypass attempt. */
  readonly bypass: SignatureIndex<BypassEndpoint>;
}

export function loadDetection(config: Config): Detection {
  const settings = config.detection;
  const catalogue = loadConfiguredCatalogue(settings);
  return {
    catalogue,
    geo: GeoTagger.fromFiles(settings.geoip.country || SHIPPED.countryDatabase, settings.geoip.asn || SHIPPED.asnDatabase),
    watchlist: loadWatchlist(settings.jurisdictions || SHIPPED.jurisdictions),
    bypass: loadBypassEndpoints(settings.bypass_endpoints || SHIPPED.bypassEndpoints, catalogue.apps),
  };
}

/**
 * The catalogue the settings name, with the local rules file merged in: one rule per
 * domain or pattern, so a local rule can add to the catalogue but never take a name from it.
 */
export function loadConfiguredCatalogue(settings: Config['detection']): Catalogue {
  const shipped = loadShippedApps(settings.catalogue || SHIPPED.catalogue, loadOwners(ownersFileOf(settings.catalogue)));
  const local = settings.local_rules === '' ? undefined : loadLocalRules(settings.local_rules, shipped);
  return compileCatalogue(shipped, local, loadCatalogueInfo(infoFileOf(settings.catalogue)));
}
