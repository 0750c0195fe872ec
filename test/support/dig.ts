import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';

export interface Server {
  host: string;
  port: number;
}

export interface DigRecord {
  name: string;
  ttl: number;
  class: string;
  type: string;
  data: string;
}

export interface DigResult {
  /** NOERROR, NXDOMAIN, SERVFAIL, REFUSED, FORMERR…, or TIMEOUT when nothing came back. */
  status: string;
  id: number;
  flags: Set<string>;
  answer: DigRecord[];
  authority: DigRecord[];
  additional: DigRecord[];
  edns: { version: number; flags: string[]; udp: number } | null;
  ede: { code: number; text: string } | null;
  truncatedRetriedTcp: boolean;
  msgSize: number;
  raw: string;
  exitCode: number;
}

export interface DigOptions {
  tcp?: boolean;
  dnssec?: boolean;
  bufsize?: number | 'noedns';
  ignoreTc?: boolean;
  extra?: string[];
  timeoutSeconds?: number;
}

/** Runs Debian's dig once (no retries) and parses its text output. */
export function dig(server: Server, name: string, type: string, options: DigOptions = {}): Promise<DigResult> {
  const args = [`@${server.host}`, '-p', String(server.port), name, type, '+tries=1', `+time=${options.timeoutSeconds ?? 2}`, '+nocookie'];
  if (options.tcp) args.push('+tcp');
  if (options.dnssec) args.push('+dnssec');
  if (options.bufsize === 'noedns') args.push('+noedns');
  else if (options.bufsize !== undefined) args.push(`+bufsize=${options.bufsize}`);
  if (options.ignoreTc) args.push('+ignore');
  args.push(...(options.extra ?? []));
  return new Promise((resolve) => {
    execFile('dig', args, { timeout: 30_000 }, (error, stdout) => {
      const exitCode = error && typeof error.code === 'number' ? error.code : 0;
      resolve(parseDig(stdout, exitCode));
    });
  });
}

export function parseDig(raw: string, exitCode: number): DigResult {
  const result: DigResult = {
    status: 'TIMEOUT',
    id: -1,
    flags: new Set(),
    answer: [],
    authority: [],
    additional: [],
    edns: null,
    ede: null,
    truncatedRetriedTcp: raw.includes(';; Truncated, retrying in TCP mode.'),
    msgSize: 0,
    raw,
    exitCode,
  };
  let section: DigRecord[] | null = null;
  for (const line of raw.split('\n')) {
    let match: RegExpExecArray | null;
    if ((match = /->>HEADER<<- opcode: \S+, status: (\S+), id: (\d+)/.exec(line))) {
      result.status = match[1]!;
      result.id = Number(match[2]);
    } else if ((match = /^;; flags:([^;]*);/.exec(line))) {
      result.flags = new Set(match[1]!.trim().split(/\s+/).filter(Boolean));
    } else if ((match = /^; EDNS: version: (\d+), flags:([^;]*); udp: (\d+)/.exec(line))) {
      result.edns = { version: Number(match[1]), flags: match[2]!.trim().split(/\s+/).filter(Boolean), udp: Number(match[3]) };
    } else if ((match = /^; EDE: (\d+)[^:]*(?::\s*\((.*)\))?/.exec(line))) {
      result.ede = { code: Number(match[1]), text: match[2] ?? '' };
    } else if ((match = /^;; MSG SIZE\s+rcvd: (\d+)/.exec(line))) {
      result.msgSize = Number(match[1]);
    } else if (line === ';; ANSWER SECTION:') section = result.answer;
    else if (line === ';; AUTHORITY SECTION:') section = result.authority;
    else if (line === ';; ADDITIONAL SECTION:') section = result.additional;
    else if (line.trim() === '' || line.startsWith(';')) section = line.trim() === '' ? null : section;
    else if (section !== null) {
      const [name, ttl, klass, type, ...data] = line.split(/\s+/);
      section.push({ name: name!, ttl: Number(ttl), class: klass!, type: type!, data: data.join(' ') });
    }
  }
  return result;
}

/**
 * Sends raw bytes from a fresh socket (UDP, or TCP with RFC 7766 framing) and resolves with
 * the first reply, or null when none arrives in time: for byte-exact and malformed-input tests,
 * and for many queries at once. Dig processes started together pick their own source ports
 * and now and then two share one; the kernel then hands both replies to the later socket and
 * the other dig times out. The kernel gives each socket here a port of its own.
 */
export function rawQuery(server: Server, message: Buffer, options: { tcp?: boolean; timeoutMs?: number } = {}): Promise<Buffer | null> {
  const timeoutMs = options.timeoutMs ?? 2000;
  return options.tcp ? rawTcp(server, message, timeoutMs) : rawUdp(server, message, timeoutMs);
}

function rawUdp(server: Server, message: Buffer, timeoutMs: number): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket(server.host.includes(':') ? 'udp6' : 'udp4');
    const done = (reply: Buffer | null): void => {
      clearTimeout(timer);
      socket.close();
      resolve(reply);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    socket.on('message', (reply) => done(reply));
    socket.on('error', () => done(null));
    socket.send(message, server.port, server.host);
  });
}

function rawTcp(server: Server, message: Buffer, timeoutMs: number): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const socket = net.connect(server.port, server.host);
    let pending = Buffer.alloc(0);
    const done = (reply: Buffer | null): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(reply);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    socket.on('connect', () => {
      const length = Buffer.alloc(2);
      length.writeUInt16BE(message.length);
      socket.write(Buffer.concat([length, message]));
    });
    socket.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      if (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) done(pending.subarray(2, 2 + pending.readUInt16BE(0)));
    });
    socket.on('error', () => done(null));
    socket.on('close', () => done(null));
  });
}
