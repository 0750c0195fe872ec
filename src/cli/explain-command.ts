import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, type ConfigOverrides } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { chain } from '../pipeline/stage.js';
import { Query } from '../pipeline/query.js';
import { Swappable } from '../pipeline/swappable.js';
import { Policy } from '../policy/policy.js';
import { buildUpstreamStage } from '../server/resolver-chain.js';
import { tagsOf } from '../tagging/answer-tags.js';
import { answerHosting } from '../tagging/tagger.js';
import { loadDetection, type Detection } from '../tagging/detection.js';
import type { HostingTag } from '../tagging/geo-tagger.js';
import { TagStage } from '../tagging/tag-stage.js';
import { ReadResult, readRequest } from '../wire/request.js';
import { toWire } from '../tagging/signature-index.js';
import { COMMAND_HELP } from './help.js';

const USAGE = COMMAND_HELP.explain.usage;

export interface Explanation {
  name: string;
  app: { id: string; name: string; owner: string; owner_country: string } | null;
  /** The name that matched (the query name, or one further down the CNAME chain). */
  matched_name: string | null;
  /** The catalogue rule that matched, as written. */
  matched_rule: string | null;
  group: { name: string; organisation: string } | null;
  /** Present with --resolve: where the current answer is hosted. */
  hosting?: HostingTag[];
  owner_watchlisted: boolean;
  hosting_watchlisted: boolean;
  decision: { action: string; rule: string | null; exemption: string | null };
}

/**
 * Explains what Wachtpost would do with NAME for a client: which rule matches which name,
 * the app and its owner, the client's group and the decision with its reason. With
 * --resolve the name is also resolved through the configured upstreams, so the answer's
 * CNAME chain and hosting count too. A caller explaining many names passes the detection
 * data it loaded once, since loading the catalogue is the costly part.
 */
export async function explain(
  config: Config,
  name: string,
  client: string,
  resolve: boolean,
  detection: Detection = loadDetection(config),
): Promise<Explanation> {
  const policy = Policy.compile(config, detection.catalogue, detection.watchlist);
  const group = policy.groups.groupOf(client);
  let signature = detection.catalogue.index.matchName(name);
  let matchedName = signature === null ? null : normalise(name);
  let hosting: HostingTag[] | undefined;
  let hostingWatchlisted = false;

  if (resolve) {
    const answer = await resolveOnce(config, detection, name);
    const tags = tagsOf(answer);
    // Answers of no app keep no hosting of their own (see tagAnswer): look it up here.
    hosting = [...(tags.app === null ? answerHosting(answer, detection) : tags.hosting)];
    hostingWatchlisted = tags.hostingWatchlisted;
    if (signature === null && tags.matchedName !== null) {
      signature = detection.catalogue.index.matchName(tags.matchedName);
      matchedName = tags.matchedName;
    }
  }
  const app = signature?.app ?? null;
  const verdict = policy.decide(group, app, hostingWatchlisted, Date.now());
  return {
    name: normalise(name),
    app: app === null ? null : { id: app.id, name: app.name, owner: app.owner, owner_country: app.owner_country },
    matched_name: matchedName,
    matched_rule: signature?.rule ?? null,
    group: group === null ? null : { name: group.name, organisation: group.organisation },
    ...(hosting === undefined ? {} : { hosting }),
    owner_watchlisted: app !== null && detection.watchlist.has(app.owner_country),
    hosting_watchlisted: hostingWatchlisted,
    decision: { action: verdict.action, rule: verdict.rule, exemption: verdict.exemption },
  };
}

async function resolveOnce(config: Config, detection: ReturnType<typeof loadDetection>, name: string) {
  const tag = new TagStage(new Swappable(detection));
  chain([tag, buildUpstreamStage(config)]);
  const query = new Query();
  const wire = toWire(name);
  const message = Buffer.concat([Buffer.from([0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]), wire, Buffer.from([0, 0, 1, 0, 1])]);
  if (readRequest(message, query) !== ReadResult.OK) throw new Error(`cannot build a query for "${name}"`);
  return tag.resolve(query);
}

function normalise(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

export async function explainCommand(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        config: { type: 'string', short: 'c' },
        client: { type: 'string' },
        resolve: { type: 'boolean' },
        upstream: { type: 'string', multiple: true },
        json: { type: 'boolean' },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    err.write(`${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const [name, ...extra] = parsed.positionals;
  if (name === undefined || extra.length > 0) {
    err.write(`${USAGE}\n`);
    return 2;
  }
  const overrides: ConfigOverrides = parsed.values.upstream ? { upstream: parsed.values.upstream } : {};
  let config: Config;
  try {
    config = loadConfig({ ...(parsed.values.config === undefined ? {} : { file: parsed.values.config }), overrides });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    err.write(`${error.message}\n`);
    return 1;
  }
  const result = await explain(config, name, parsed.values.client ?? '0.0.0.0', parsed.values.resolve ?? false);
  out.write(parsed.values.json ? `${JSON.stringify(result, null, 2)}\n` : describe(result));
  return 0;
}

function describe(result: Explanation): string {
  const lines = [`name:     ${result.name}`];
  if (result.app === null) lines.push('app:      none (no catalogue rule matches)');
  else {
    lines.push(`app:      ${result.app.id} (${result.app.name}), owner ${result.app.owner}, ${result.app.owner_country}${result.owner_watchlisted ? ' (watch-listed)' : ''}`);
    lines.push(`matched:  rule "${result.matched_rule}" on ${result.matched_name}`);
  }
  lines.push(`group:    ${result.group === null ? 'none' : `${result.group.name} (${result.group.organisation})`}`);
  if (result.hosting !== undefined) {
    if (result.hosting.length === 0) lines.push('hosting:  no public addresses in the answer');
    for (const tag of result.hosting) lines.push(`hosting:  ${tag.ip} ${tag.country ?? '??'} AS${tag.asn ?? '?'} ${tag.org ?? ''}`.trimEnd());
  }
  const { action, rule, exemption } = result.decision;
  lines.push(`decision: ${action}${rule ? `, rule ${rule}` : ''}${exemption ? `, exemption ${exemption}` : ''}`);
  return `${lines.join('\n')}\n`;
}

