import { domainToASCII } from 'node:url';
import ipaddr from 'ipaddr.js';
import { toWire } from './signature-index.js';

/** What a block list file turned out to be. */
export type ListFormat = 'lines' | 'rpz';

/** A name found in a list, lower-case without the trailing dot, with the line it came from. */
export interface ListedName {
  readonly name: string;
  readonly line: number;
}

export interface ListProblem {
  readonly line: number;
  readonly message: string;
}

export interface ParsedList {
  readonly format: ListFormat;
  readonly names: ListedName[];
  /** Lines that cannot become a rule; any one refuses the import. */
  readonly problems: ListProblem[];
  /** Entries that are in such files but name no app (localhost in a hosts file). */
  readonly skipped: number;
}

/**
 * Reads the block lists operators already keep: hosts files (`0.0.0.0 host`), plain domain
 * lists, AdGuard-style `||domain^` rules, and RPZ zones. A file is an RPZ zone when it has
 * master-file directives or records ($ORIGIN, $TTL, SOA, CNAME); otherwise each line is a
 * hosts entry, an AdGuard rule or a domain. Every name becomes a rule for itself and every
 * name below it, as Wachtpost's domain rules are: `*.x` gives `x`. What cannot become such
 * a rule is a problem at its line: exceptions (`@@`, rpz-passthru), regular expressions,
 * modifiers that narrow a rule, IP literals, wildcards other than a leading `*.`, names DNS
 * cannot carry, and single labels (a whole top-level domain).
 */
export function parseDomainList(text: string): ParsedList {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  return looksLikeZone(lines) ? parseZone(lines) : parseLines(lines);
}

const ZONE_TYPES = new Set(['SOA', 'CNAME', 'NS', 'DNAME']);

function looksLikeZone(lines: readonly string[]): boolean {
  return lines.some((line) => {
    if (/^\$(ORIGIN|TTL|INCLUDE)\b/i.test(line)) return true;
    const words = stripZoneComment(line).trim().split(/\s+/);
    return words.slice(1).some((word) => ZONE_TYPES.has(word.toUpperCase()));
  });
}

/** Host names a hosts file maps for the machine itself, not to block anything. */
const HOSTS_BUILTINS = new Set([
  'localhost',
  'localhost.localdomain',
  'local',
  'broadcasthost',
  'ip6-localhost',
  'ip6-loopback',
  'ip6-localnet',
  'ip6-mcastprefix',
  'ip6-allnodes',
  'ip6-allrouters',
  'ip6-allhosts',
  '0.0.0.0',
]);

/** AdGuard modifiers that leave the set of names a rule blocks as it is. */
const HARMLESS_MODIFIERS = new Set(['important']);

function parseLines(lines: readonly string[]): ParsedList {
  const names: ListedName[] = [];
  const problems: ListProblem[] = [];
  let skipped = 0;
  lines.forEach((raw, i) => {
    const line = i + 1;
    const text = raw.trim();
    if (text === '' || text.startsWith('#') || text.startsWith('!') || /^\[.*\]$/.test(text)) return;
    const fail = (message: string): void => void problems.push({ line, message });
    const add = (name: string): void => {
      const checked = checkName(name);
      if (typeof checked === 'string') names.push({ name: checked, line });
      else fail(checked.problem);
    };
    if (/#[@?$%]?#/.test(text)) return fail('a cosmetic (element hiding) rule: it names no DNS traffic');
    const entry = text.replace(/\s+#.*$/, '');
    if (entry.startsWith('@@')) return fail('an exception rule (@@): the catalogue lists what to flag, not what to let through');
    if (entry.startsWith('/')) return fail('a regular-expression rule: write a pattern rule in the local rules file instead');
    if (entry.startsWith('||')) {
      const rule = /^\|\|([^^$|]+)\^\|?(?:\$(.*))?$/.exec(entry);
      if (rule === null) return fail(`"${entry}" is not a domain rule of the form ||name^`);
      const narrowing = (rule[2] ?? '').split(',').filter((modifier) => modifier !== '' && !HARMLESS_MODIFIERS.has(modifier.split('=')[0]!));
      if (narrowing.length > 0) return fail(`modifier $${narrowing.join(',')} narrows the rule (to some clients, types or apps); catalogue rules cover every query: drop the line or the modifier`);
      return add(rule[1]!);
    }
    if (/[|^$]/.test(entry)) return fail(`"${entry}" is not a domain rule of the form ||name^`);
    const [first, ...rest] = entry.split(/\s+/);
    if (ipaddr.isValid(first!)) {
      if (rest.length === 0) return fail(`"${first}" is an IP address, not a name`);
      if (!isSink(first!)) return fail(`maps names to ${first}, a real address: a hosts entry that blocks points at 0.0.0.0, 127.0.0.1, :: or ::1`);
      for (const name of rest) {
        if (HOSTS_BUILTINS.has(name.toLowerCase())) skipped++;
        else add(name);
      }
      return;
    }
    if (rest.length > 0) return fail(`"${entry}": one name per line, or a hosts entry (ADDRESS NAME...)`);
    add(first!);
  });
  return { format: 'lines', names, problems, skipped };
}

function isSink(address: string): boolean {
  const parsed = ipaddr.parse(address);
  return parsed.kind() === 'ipv4' ? address === '0.0.0.0' || parsed.range() === 'loopback' : parsed.range() === 'unspecified' || parsed.range() === 'loopback';
}

/** A name as a rule takes it, or what is wrong with it. */
function checkName(raw: string): string | { problem: string } {
  let name = raw.toLowerCase().replace(/\.$/, '');
  if (name.startsWith('*.')) name = name.slice(2);
  if (name.includes('*')) return { problem: `"${raw}" has a wildcard other than a leading "*.": rules cover a name and every name below it` };
  if (ipaddr.isValid(name) || /^\[.*\]$/.test(name)) return { problem: `"${raw}" is an IP address, not a name` };
  if (/[^\x21-\x7e]/.test(name)) {
    const ascii = domainToASCII(name);
    if (ascii === '') return { problem: `"${raw}" is not a valid international domain name` };
    name = ascii;
  }
  const labels = name.split('.');
  if (labels.some((label) => !/^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/.test(label))) return { problem: `"${raw}" is not a valid host name` };
  if (labels.length < 2) return { problem: `"${raw}" is a top-level domain: a rule for it would flag every name under it` };
  try {
    toWire(name);
  } catch (error) {
    return { problem: (error as Error).message };
  }
  return name;
}

/** RPZ triggers that are not query names: they match answer addresses, name servers or clients. */
const NON_NAME_TRIGGERS = new Set(['rpz-ip', 'rpz-nsip', 'rpz-nsdname', 'rpz-client-ip']);

/**
 * An RPZ zone in master-file format: $ORIGIN and $TTL, relative and absolute owner names,
 * `@`, blank owners (the previous one), optional TTL and class, records in parentheses
 * across lines. The zone's apex is the owner of its SOA (or the first $ORIGIN); every
 * other owner is a trigger, named relative to the apex. Any action but rpz-passthru
 * (NXDOMAIN `CNAME .`, NODATA `CNAME *.`, rpz-drop, a redirect, local data) flags the name.
 */
function parseZone(lines: readonly string[]): ParsedList {
  const names: ListedName[] = [];
  const problems: ListProblem[] = [];
  const records = zoneRecords(lines, problems);
  let origin: string | null = null;
  let apex: string | null = null;
  let owner: string | null = null;
  for (const { line, tokens, blankOwner } of records) {
    const fail = (message: string): void => void problems.push({ line, message });
    const directive = tokens[0]!.toUpperCase();
    if (directive === '$ORIGIN') {
      if (tokens[1] === undefined || !tokens[1].endsWith('.')) {
        fail('$ORIGIN needs an absolute name (ending in ".")');
        continue;
      }
      origin = tokens[1].toLowerCase();
      apex ??= origin;
      continue;
    }
    if (directive === '$TTL') continue;
    if (directive.startsWith('$')) {
      fail(`${tokens[0]} is not supported: give every file of the zone to the import`);
      continue;
    }
    const fields = blankOwner ? tokens : tokens.slice(1);
    if (!blankOwner) owner = absolute(tokens[0]!, origin);
    while (fields.length > 0 && (/^\d+[smhdw]?(\d+[smhdw])*$/i.test(fields[0]!) || /^(IN|CH|HS|CS)$/i.test(fields[0]!))) fields.shift();
    const [type, ...data] = fields;
    if (owner === null || type === undefined) {
      fail('a record without an owner or a type');
      continue;
    }
    const kind = type.toUpperCase();
    if (kind === 'SOA') {
      apex = owner;
      // Without $ORIGIN, relative names are relative to the zone, which the SOA names.
      origin ??= owner;
    }
    if (owner === apex && (kind === 'SOA' || kind === 'NS')) continue;
    if (owner === apex) {
      fail(`a ${kind} record at the zone's apex would apply to every name`);
      continue;
    }
    if (kind === 'CNAME' && data[0]?.toLowerCase() === 'rpz-passthru.') {
      fail('an exception (rpz-passthru): the catalogue lists what to flag, not what to let through');
      continue;
    }
    const trigger = apex !== null && owner.endsWith(`.${apex}`) ? owner.slice(0, -apex.length - 1) : apex === null ? owner.replace(/\.$/, '') : null;
    if (trigger === null) {
      fail(`${owner} is outside the zone ${apex}`);
      continue;
    }
    const last = trigger.split('.').at(-1)!;
    if (NON_NAME_TRIGGERS.has(last)) {
      fail(`an ${last} trigger: only query-name triggers can become rules`);
      continue;
    }
    if (trigger === '*') {
      fail('a wildcard for every name');
      continue;
    }
    const checked = checkName(trigger);
    if (typeof checked === 'string') names.push({ name: checked, line });
    else fail(checked.problem);
  }
  return { format: 'rpz', names, problems, skipped: 0 };
}

function absolute(name: string, origin: string | null): string {
  const lower = name.toLowerCase();
  if (lower === '@') return origin ?? '.';
  if (lower.endsWith('.')) return lower;
  return origin === null || origin === '.' ? `${lower}.` : `${lower}.${origin}`;
}

interface ZoneRecord {
  line: number;
  tokens: string[];
  /** The line started with blank space: the record belongs to the previous owner. */
  blankOwner: boolean;
}

/** Joins lines inside parentheses, drops comments, and splits records into words (quoted strings kept whole). */
function zoneRecords(lines: readonly string[], problems: ListProblem[]): ZoneRecord[] {
  const records: ZoneRecord[] = [];
  let open: ZoneRecord | null = null;
  let depth = 0;
  lines.forEach((raw, i) => {
    const words: string[] = [];
    for (const word of stripZoneComment(raw).match(/"(?:[^"\\]|\\.)*"|[^\s"]+/g) ?? []) {
      if (word.startsWith('"')) {
        words.push(word);
        continue;
      }
      for (const part of word.split(/([()])/)) {
        if (part === '(') depth++;
        else if (part === ')') depth--;
        else if (part !== '') words.push(part);
      }
    }
    if (open !== null) {
      open.tokens.push(...words);
      if (depth <= 0) open = null;
      return;
    }
    if (words.length === 0) return;
    const record = { line: i + 1, tokens: words, blankOwner: /^\s/.test(raw) };
    records.push(record);
    if (depth > 0) open = record;
  });
  if (open !== null) problems.push({ line: (open as ZoneRecord).line, message: 'a "(" that is never closed' });
  return records;
}

function stripZoneComment(line: string): string {
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '\\') i++;
    else if (c === '"') quoted = !quoted;
    else if (c === ';' && !quoted) return line.slice(0, i);
  }
  return line;
}
