import type { Config } from '../config/schema.js';
import type { App } from '../tagging/catalogue-schema.js';
import type { Catalogue } from '../tagging/catalogue.js';
import ipaddr from 'ipaddr.js';
import { BlockedAnswer } from '../wire/answer.js';
import { DevicePatterns } from '../pipeline/device-id.js';
import { ClientGroups } from './client-groups.js';
import { ALLOW, Verdict } from './verdict.js';

type PolicySettings = Config['policy'];

export interface Exemption {
  readonly id: string;
  readonly apps: ReadonlySet<string>;
  /** End of the last day it applies (ms since epoch, UTC). */
  readonly until: number;
}

export interface Group {
  readonly name: string;
  readonly organisation: string;
  readonly mode: 'monitor' | 'enforce';
  /** Managed-device mode: the only catalogued apps that pass; null when not in that mode. */
  readonly managedApps: ReadonlySet<string> | null;
  readonly exemptions: readonly Exemption[];
}

const DAY_MS = 86_400_000;

/** One thing wrong with the policy, at its field (e.g. ["policy", "block_apps", 2]). */
export interface PolicyProblem {
  readonly path: ReadonlyArray<string | number>;
  readonly message: string;
}

/** The policy refers to what the catalogue or the groups do not have; lists every such reference. */
export class PolicyError extends Error {
  override readonly name = 'PolicyError';

  constructor(readonly problems: readonly PolicyProblem[]) {
    super(`policy does not fit the catalogue:\n${problems.map((p) => `${p.path.join('.')}: ${p.message}`).join('\n')}`);
  }
}

/**
 * The compiled policy: groups, rules and exemptions checked against the catalogue once, so
 * a decision is a few set look-ups. Built whole and swapped whole on reload.
 */
export class Policy {
  readonly groups = new ClientGroups<Group>();
  /** Exemptions already past their expiry when the policy was loaded (reported, never applied). */
  readonly expired: string[] = [];
  private readonly blockApps: ReadonlySet<string>;
  private readonly blockCategories: ReadonlySet<string>;
  private readonly blocked = new Map<string, BlockedAnswer>();
  private readonly ipv4: Buffer | null;
  private readonly ipv6: Buffer | null;

  private constructor(
    private readonly settings: PolicySettings,
    private readonly globalMode: 'monitor' | 'enforce',
    private readonly watchlist: ReadonlySet<string>,
  ) {
    this.blockApps = new Set(settings.block_apps);
    this.blockCategories = new Set(settings.block_categories);
    const sinkhole = settings.block_answer === 'sinkhole';
    this.ipv4 = sinkhole ? addressBytes(settings.sinkhole.ipv4, 'ipv4') : settings.block_answer === 'null' ? Buffer.alloc(4) : null;
    this.ipv6 = sinkhole ? addressBytes(settings.sinkhole.ipv6, 'ipv6') : settings.block_answer === 'null' ? Buffer.alloc(16) : null;
  }

  /** Compiles the policy; throws a PolicyError listing every reference to an unknown app or group, each at its field. */
  static compile(config: Config, catalogue: Catalogue, watchlist: ReadonlySet<string>, now = Date.now()): Policy {
    const settings = config.policy;
    const policy = new Policy(settings, config.mode, watchlist);
    const appIds = new Set(catalogue.apps.map((app) => app.id));
    const problems: PolicyProblem[] = [];
    const problem = (path: Array<string | number>, message: string): void => void problems.push({ path: ['policy', ...path], message });
    const unknownApps = (path: Array<string | number>, ids: readonly string[]): void =>
      ids.forEach((id, i) => {
        if (!appIds.has(id)) problem([...path, i], `unknown app "${id}"`);
      });
    unknownApps(['block_apps'], settings.block_apps);
    if (settings.block_answer === 'sinkhole') {
      if (!ipaddr.IPv4.isValidFourPartDecimal(settings.sinkhole.ipv4)) problem(['sinkhole', 'ipv4'], 'block_answer sinkhole needs an IPv4 address');
      if (settings.sinkhole.ipv6 !== '' && !ipaddr.IPv6.isValid(settings.sinkhole.ipv6)) problem(['sinkhole', 'ipv6'], 'not an IPv6 address');
    }
    const exemptionsByGroup = new Map<string, Exemption[]>();
    settings.exemptions.forEach((exemption, i) => {
      unknownApps(['exemptions', i, 'apps'], exemption.apps);
      if (!settings.groups.some((group) => group.name === exemption.group)) problem(['exemptions', i, 'group'], `exemption ${exemption.id}: unknown group "${exemption.group}"`);
      const until = Date.parse(`${exemption.expires}T00:00:00Z`) + DAY_MS;
      if (Number.isNaN(until)) problem(['exemptions', i, 'expires'], `exemption ${exemption.id}: expires is not a date`);
      if (until <= now) policy.expired.push(`${exemption.id} (group ${exemption.group}) expired on ${exemption.expires}`);
      const list = exemptionsByGroup.get(exemption.group) ?? [];
      list.push({ id: exemption.id, apps: new Set(exemption.apps), until });
      exemptionsByGroup.set(exemption.group, list);
    });
    const names = new Set<string>();
    settings.groups.forEach((settingsGroup, i) => {
      if (names.has(settingsGroup.name)) problem(['groups', i, 'name'], `group "${settingsGroup.name}" is defined twice`);
      names.add(settingsGroup.name);
      if (settingsGroup.managed_apps) unknownApps(['groups', i, 'managed_apps'], settingsGroup.managed_apps);
      const group: Group = {
        name: settingsGroup.name,
        organisation: settingsGroup.organisation,
        mode: settingsGroup.mode ?? config.mode,
        managedApps: settingsGroup.managed_apps ? new Set(settingsGroup.managed_apps) : null,
        exemptions: exemptionsByGroup.get(settingsGroup.name) ?? [],
      };
      if (settingsGroup.cidrs === undefined && settingsGroup.devices === undefined) problem(['groups', i], `group "${settingsGroup.name}" needs cidrs, devices or both`);
      if (settingsGroup.devices !== undefined) {
        try {
          policy.groups.addDevices(new DevicePatterns(settingsGroup.devices), group);
        } catch (error) {
          problem(['groups', i, 'devices'], (error as Error).message);
        }
      }
      (settingsGroup.cidrs ?? []).forEach((cidr, j) => {
        try {
          policy.groups.add(cidr, group);
        } catch {
          problem(['groups', i, 'cidrs', j], `"${cidr}" is not a CIDR range`);
        }
      });
    });
    if (problems.length > 0) throw new PolicyError(problems);
    return policy;
  }

  /**
   * The decision for one client group (null: no group) about an app and the answer's
   * hosting; `networkCountry` is the country of the owner whose network an answer of no app
   * lies in (network attribution), or null.
   */
  decide(group: Group | null, app: App | null, hostingWatchlisted: boolean, now: number, networkCountry: string | null = null): Verdict {
    const rule = this.matchingRule(group, app, hostingWatchlisted, networkCountry);
    if (rule === null) return ALLOW;
    if (group !== null && app !== null) {
      for (const exemption of group.exemptions) {
        if (exemption.apps.has(app.id) && now < exemption.until) return new Verdict('exempt', rule, exemption.id);
      }
    }
    return new Verdict((group?.mode ?? this.globalMode) === 'enforce' ? 'block' : 'monitor', rule, null);
  }

  /** The answer a block by `rule` gets, built once per rule. */
  blockAnswer(rule: string): BlockedAnswer {
    let answer = this.blocked.get(rule);
    if (answer === undefined) {
      answer = new BlockedAnswer(this.settings.block_answer, this.settings.block_ttl, `blocked by wachtpost: ${rule}`, this.ipv4, this.ipv6);
      this.blocked.set(rule, answer);
    }
    return answer;
  }

  private matchingRule(group: Group | null, app: App | null, hostingWatchlisted: boolean, networkCountry: string | null): string | null {
    if (app !== null) {
      if (group?.managedApps) return group.managedApps.has(app.id) ? null : `managed-device:${group.name}`;
      if (this.blockApps.has(app.id)) return `app:${app.id}`;
      if (this.blockCategories.has(app.category)) return `category:${app.category}`;
      if (this.settings.block_watchlisted_owners && this.watchlist.has(app.owner_country)) return `owner-country:${app.owner_country}`;
    }
    // A network match is likely, not certain (the owner's cloud serves others too): blocked only when asked for.
    if (networkCountry !== null && this.settings.network_attribution === 'block' && this.watchlist.has(networkCountry)) return `owner-network:${networkCountry}`;
    if (hostingWatchlisted && this.settings.hosting === 'block') return 'hosting-country';
    return null;
  }
}

function addressBytes(text: string, kind: 'ipv4' | 'ipv6'): Buffer | null {
  if (text === '' || !ipaddr.isValid(text)) return null;
  const ip = ipaddr.parse(text);
  return ip.kind() === kind ? Buffer.from(ip.toByteArray()) : null;
}
