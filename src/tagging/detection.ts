import type { Config } from '../config/schema.js';
import { loadCatalogue, type Catalogue } from './catalogue.js';
import { GeoTagger } from './geo-tagger.js';
import { loadWatchlist } from './jurisdictions.js';
import { SHIPPED } from './shipped-data.js';

/** Everything tagging consults, loaded and validated together so a reload swaps it whole. */
export interface Detection {
  readonly catalogue: Catalogue;
  readonly geo: GeoTagger;
  readonly watchlist: ReadonlySet<string>;
}

export function loadDetection(config: Config): Detection {
  const settings = config.detection;
  return {
    catalogue: loadCatalogue(settings.catalogue || SHIPPED.catalogue),
    geo: GeoTagger.fromFiles(settings.geoip.country || SHIPPED.countryDatabase, settings.geoip.asn || SHIPPED.asnDatabase),
    watchlist: loadWatchlist(settings.jurisdictions || SHIPPED.jurisdictions),
  };
}
