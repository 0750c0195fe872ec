import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, type ConfigOverrides } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { Attribution, DetectionEvent, EventApp, EventHosting, EventKind, EventOwner } from '../events/detection-event.js';
import { EventRecorder, eventKind } from '../events/event-recorder.js';
import { DnsError } from '../pipeline/dns-error.js';
import { Query } from '../pipeline/query.js';
import { chain, Stage } from '../pipeline/stage.js';
import { Swappable } from '../pipeline/swappable.js';
import { Policy, type Group } from '../policy/policy.js';
import { buildJudgingStages, buildUpstreamStage } from '../server/resolver-chain.js';
import { CatalogueError } from '../tagging/catalogue.js';
import { loadDetection, type Detection } from '../tagging/detection.js';
import { isHostName } from '../tagging/host-name.js';
import { normaliseName, toWire, type RuleOrigin } from '../tagging/signature-index.js';
import { AnswerKind, scanResponse, type Answer } from '../wire/answer.js';
import { ReadResult, readRequest } from '../wire/request.js';
import { COMMAND_HELP } from './help.js';

const USAGE = COMMAND_HELP.explain.usage;

export interface Explanation {
  name: string;
  /** The client judged (--client), or null: any client of no group, access not checked. */
  client: string | null;
  app: EventApp | null;
  /** The name that matched (the query name, or one further down the CNAME chain). */
  matched_name: string | null;
  /** The catalogue rule that matched, as written. */
  matched_rule: string | null;
  /** `shipped`: a rule of the catalogue; `local`: one of the local rules file. */
  matched_origin: RuleOrigin | null;
  attribution: Attribution | null;
  owner: EventOwner | null;
  group: { name: string; organisation: string } | null;
  /** Present with --resolve: where the current answer is hosted. */
  hosting?: EventHosting[];
  owner_watchlisted: boolean;
  hosting_watchlisted: boolean;
  /** `refused` when the client is outside access.allow. */
  decision: { action: string; rule: string | null; exemption: string | null };
  /** What the server records the query as (detection, bypass, query), or null: nothing. */
  event: EventKind | null;
  /** The rcode the client gets; null when it is the upstream's to say (without --resolve). */
  rcode: string | null;
}

/** Why explain cannot answer, in one line: bad input (exit 2), or resolution failed (exit 1). */
export class ExplainError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2,
  ) {
    super(message);
  }
}

/**
 * Explains what Wachtpost would do with NAME (an A query) for a client by running it
 * through the server's own deciding stages (access, canary, policy, tag; see
 * buildJudgingStages) and recording it as the server's event recorder would: which rule
 * matches which name, the app or the owner whose network the answer is in, the client's
 * group, the decision with its reason, and the event it makes. Without --resolve the
 * upstream is replaced by an empty answer, so only names count; with it the name is
 * resolved through the configured upstreams, so the CNAME chain and the hosting of the
 * current answer (country, ASN, owner networks) count too. A caller explaining many names
 * passes the detection data it loaded once, since loading the catalogue is the costly part.
 */
export async function explain(
  config: Config,
  name: string,
  client: string | null,
  resolve: boolean,
  detection: Detection = loadDetection(config),
): Promise<Explanation> {
  checkInput(name, client);
  const shared = new Swappable(detection);
  const stages = buildJudgingStages(config, shared, new Swappable(Policy.compile(config, detection.catalogue, detection.watchlist)));
  const last = resolve ? buildUpstreamStage(config) : new NamesOnly();
  // With detection off the server is a plain forwarder: access, then the upstream.
  const deciding = config.detection.enabled ? [stages.canary, stages.policy, stages.tag] : [];
  const links = [...(client === null ? [] : [stages.access]), stages.scope, ...deciding, last];
  const query = queryFor(name, client ?? '');
  let answer: Answer;
  try {
    answer = await chain(links).resolve(query);
  } catch (error) {
    if (error instanceof DnsError) throw new ExplainError(`cannot resolve ${normaliseName(name)}: ${error.message}`, 1);
    throw error;
  } finally {
    for (const stage of links) await stage.close();
  }
  const group = query.group as Group | null;
  const base = { name: normaliseName(name), client, group: group === null ? null : { name: group.name, organisation: group.organisation } };
  // Only the access stage answers without a verdict: the client is not served at all.
  if (answer.kind === AnswerKind.SYNTHETIC && query.verdict === null) return refused(base);

  let event: DetectionEvent | null = null;
  // Every query, so the explanation has an event to read even when the server records none.
  new EventRecorder(shared, { publish: (recorded) => (event = recorded), dropped: 0 }, '', true).answered(query, answer);
  const recorded = event as DetectionEvent | null;
  if (recorded === null) throw new Error('the event recorder recorded nothing');
  const signature = recorded.app === null || recorded.matched_name === null ? null : detection.catalogue.index.matchName(recorded.matched_name);
  return {
    ...base,
    app: recorded.app,
    matched_name: recorded.matched_name,
    matched_rule: signature?.rule ?? null,
    matched_origin: signature?.origin ?? null,
    attribution: recorded.attribution,
    owner: recorded.owner,
    ...(resolve ? { hosting: [...recorded.hosting] } : {}),
    owner_watchlisted: recorded.owner_watchlisted,
    hosting_watchlisted: recorded.hosting_watchlisted,
    decision: { action: recorded.action, rule: recorded.rule, exemption: recorded.exemption },
    event: config.detection.enabled ? eventKind(query, detection, config.events.all_queries) : null,
    rcode: last instanceof NamesOnly && last.answered(answer) ? null : recorded.rcode,
  };
}

/** Throws for a name or client no query could carry, before anything is loaded. */
function checkInput(name: string, client: string | null): void {
  if (!isHostName(name)) throw new ExplainError(`"${name}" is not a host name`, 2);
  if (client !== null && isIP(client) === 0) throw new ExplainError(`--client: "${client}" is not an IP address`, 2);
}

function refused(base: Pick<Explanation, 'name' | 'client' | 'group'>): Explanation {
  return {
    ...base,
    app: null,
    matched_name: null,
    matched_rule: null,
    matched_origin: null,
    attribution: null,
    owner: null,
    owner_watchlisted: false,
    hosting_watchlisted: false,
    decision: { action: 'refused', rule: 'access.allow', exemption: null },
    event: null,
    rcode: 'REFUSED',
  };
}

/** An A query for `name` from `client`, as a listener would have read it. */
function queryFor(name: string, client: string): Query {
  const query = new Query();
  const message = Buffer.concat([Buffer.from([0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]), toWire(name), Buffer.from([0, 0, 1, 0, 1])]);
  if (readRequest(message, query) !== ReadResult.OK) throw new ExplainError(`"${name}" cannot be asked in a query`, 2);
  query.client = client;
  query.receivedAt = performance.now();
  return query;
}

/** Stands in for the upstream without --resolve: an empty answer, so only names are judged. */
class NamesOnly extends Stage {
  readonly name = 'names-only';
  private made: Answer | null = null;

  resolve(query: Query): Answer {
    const header = Buffer.from([0, 0, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0]);
    const message = Buffer.concat([header, query.question.subarray(0, query.questionLength)]);
    this.made = scanResponse(message, 0, query.question, query.questionLength, query.udpSize).answer;
    if (this.made === null) throw new Error('an empty answer did not scan');
    return this.made;
  }

  /** Whether the client would get the upstream's answer, which this only stands in for. */
  answered(answer: Answer): boolean {
    return answer === this.made;
  }
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
  const client = parsed.values.client ?? null;
  const overrides: ConfigOverrides = parsed.values.upstream ? { upstream: parsed.values.upstream } : {};
  let config: Config;
  let detection: Detection;
  try {
    checkInput(name, client);
    config = loadConfig({ ...(parsed.values.config === undefined ? {} : { file: parsed.values.config }), overrides });
    detection = loadDetection(config);
  } catch (error) {
    return failed(error, err);
  }
  try {
    const result = await explain(config, name, client, parsed.values.resolve ?? false, detection);
    out.write(parsed.values.json ? `${JSON.stringify(result, null, 2)}\n` : describe(result));
    return 0;
  } catch (error) {
    return failed(error, err);
  }
}

/** One line for what the user can fix; anything else is a bug and keeps its stack. */
function failed(error: unknown, err: NodeJS.WritableStream): number {
  if (error instanceof ExplainError) {
    err.write(`wachtpost explain: ${error.message}\n`);
    return error.exitCode;
  }
  if (error instanceof ConfigError || error instanceof CatalogueError) {
    err.write(`${error.message}\n`);
    return 1;
  }
  throw error;
}

function describe(result: Explanation): string {
  const lines = [`name:     ${result.name}`];
  if (result.app !== null) {
    lines.push(`app:      ${result.app.id} (${result.app.name}), owner ${result.app.owner}, ${result.app.owner_country}${result.owner_watchlisted ? ' (watch-listed)' : ''}`);
    lines.push(`matched:  ${result.matched_origin === 'local' ? 'local rule' : 'rule'} "${result.matched_rule}" on ${result.matched_name}`);
  } else if (result.owner !== null) {
    lines.push('app:      none (no catalogue rule matches)');
    lines.push(
      `owner:    ${result.owner.name}, ${result.owner.country}${result.owner_watchlisted ? ' (watch-listed)' : ''}, by network: an answer address lies in a network it operates (likely, not certain)`,
    );
  } else {
    lines.push(`app:      none (no catalogue rule matches${result.hosting === undefined && result.rcode === null ? '; --resolve also judges the answer' : ''})`);
  }
  lines.push(`group:    ${result.group === null ? 'none' : `${result.group.name} (${result.group.organisation})`}`);
  if (result.hosting !== undefined) {
    if (result.hosting.length === 0) lines.push('hosting:  no public addresses in the answer');
    for (const tag of result.hosting) lines.push(`hosting:  ${tag.ip} ${tag.country ?? '??'} AS${tag.asn ?? '?'} ${tag.org ?? ''}`.trimEnd());
  }
  if (result.rcode !== null) lines.push(`answer:   ${result.rcode}`);
  const { action, rule, exemption } = result.decision;
  lines.push(`decision: ${action}${rule ? `, rule ${rule}` : ''}${exemption ? `, exemption ${exemption}` : ''}`);
  lines.push(`event:    ${result.event ?? 'none'}`);
  return `${lines.join('\n')}\n`;
}
