import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { ConfigError } from '../config/yaml-source.js';
import type { CandidateReason, DiscoveryQueue } from '../discovery/discovery-queue.js';
import type { DiscoveryApi, PromoteOutcome } from '../http/discovery-routes.js';
import { CatalogueError, loadShippedApps } from '../tagging/catalogue.js';
import { appendLocalRule } from '../tagging/local-rules.js';
import { loadOwners } from '../tagging/owners.js';
import { SHIPPED, ownersFileOf } from '../tagging/shipped-data.js';

/**
 * The discovery queue as the API offers it: listing, dismissal, and promotion of a
 * candidate into a rule of the local rules file. The primary writes the file; the workers
 * watch it (see serveWorker) and reload it as they do any change to it, so a promoted name
 * is tagged by every worker within moments.
 */
export class DiscoveryService implements DiscoveryApi {
  constructor(
    private readonly queue: DiscoveryQueue,
    private readonly detection: Config['detection'],
    private readonly log: Logger,
    private readonly today: () => string = () => new Date().toISOString().slice(0, 10),
  ) {}

  list(limit: number, reason?: CandidateReason): ReturnType<DiscoveryApi['list']> {
    const { evicted, overflow } = this.queue.counters;
    return { candidates: this.queue.list(limit, reason), size: this.queue.size, capacity: this.queue.capacity, evicted, overflow };
  }

  dismiss(name: string, by: string): boolean {
    const known = this.queue.get(name) !== null && this.queue.settle(name);
    if (known) this.log.info({ name, by }, 'discovery candidate dismissed');
    return known;
  }

  /**
   * Appends the rule, checked against the catalogue first (the app must exist, the name
   * may not belong to another app). Loading the catalogue for that check takes the primary
   * about a second; promotions are rare, deliberate acts.
   */
  promote(name: string, app: string, reason: string, by: string): PromoteOutcome {
    const file = this.detection.local_rules;
    if (file === '') return { ok: false, error: 'no_local_rules', message: 'detection.local_rules names no file to add the rule to' };
    if (this.queue.get(name) === null) return { ok: false, error: 'unknown_candidate', message: `${name} is not in the discovery queue` };
    const rule = { app, domain: name, source: `discovery queue, promoted by ${by}: ${reason}`, verified: this.today() };
    try {
      const catalogue = this.detection.catalogue;
      appendLocalRule(file, rule, loadShippedApps(catalogue || SHIPPED.catalogue, loadOwners(ownersFileOf(catalogue))));
    } catch (error) {
      if (!(error instanceof ConfigError || error instanceof CatalogueError)) throw error;
      return { ok: false, error: 'rule_refused', message: error.message };
    }
    this.queue.settle(name);
    this.log.info({ name, app, by, file }, 'discovery candidate promoted into a local rule');
    return { ok: true, rule, file };
  }
}
