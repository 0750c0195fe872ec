import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { parseAllDocuments } from 'yaml';

/** One dnstap message as the dnstap CLI prints it with -y (field names of dnstap.proto). */
export interface TapMessage {
  type: string;
  identity?: string;
  version?: string;
  extra?: string;
  message: {
    type: string;
    socket_family?: string;
    socket_protocol?: string;
    query_address?: string;
    response_address?: string;
    query_port?: number;
    response_port?: number;
    query_message?: string;
    response_message?: string;
  };
}

export interface DnstapReader {
  /** unix:PATH or tcp:HOST:PORT, as dnstap.target takes it. */
  target: string;
  /** Every message received so far. */
  messages(): TapMessage[];
  /** Waits (bounded) until `done` holds for the messages received, and returns them. */
  until(done: (messages: TapMessage[]) => boolean, timeoutMs?: number): Promise<TapMessage[]>;
  stop(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether something listens on 127.0.0.1:port, asked of the kernel (ss) rather than by connecting. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    execFile('ss', ['-ltnH', `sport = :${port}`], (error, stdout) => resolve(error === null && stdout.includes(`127.0.0.1:${port}`)));
  });
}

/**
 * Debian's dnstap CLI (golang-dnstap) as the receiver: `dnstap -u PATH` (or `-l HOST:PORT`
 * with `tcp`) writing YAML (-y) to a file, which is parsed as messages arrive.
 */
export async function startDnstapReader(listen: { tcpPort?: number } = {}): Promise<DnstapReader> {
  const dir = await mkdtemp(join(tmpdir(), 'wachtpost-dnstap-'));
  const out = join(dir, 'out.yaml');
  const socket = join(dir, 'dnstap.sock');
  const input = listen.tcpPort === undefined ? ['-u', socket] : ['-l', `127.0.0.1:${listen.tcpPort}`];
  const child: ChildProcess = spawn('dnstap', [...input, '-y', '-w', out], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (chunk) => (log += chunk));
  const deadline = Date.now() + 10_000;
  while (!(listen.tcpPort === undefined ? existsSync(socket) : await listening(listen.tcpPort))) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`dnstap did not start: ${log}`);
    await sleep(20);
  }
  const messages = (): TapMessage[] => {
    if (!existsSync(out)) return [];
    const text = readFileSync(out, 'utf8');
    // Only whole documents: the last one may still be being written.
    const complete = text.slice(0, text.lastIndexOf('\n---\n') + 1);
    return parseAllDocuments(complete, { version: '1.1' }).flatMap((document) => {
      const value = document.toJS() as TapMessage | null;
      return value === null ? [] : [value];
    });
  };
  return {
    target: listen.tcpPort === undefined ? `unix:${socket}` : `tcp:127.0.0.1:${listen.tcpPort}`,
    messages,
    async until(done, timeoutMs = 10_000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const received = messages();
        if (done(received)) return received;
        if (Date.now() > end) throw new Error(`dnstap messages not as expected; got ${received.length}: ${JSON.stringify(received.map((m) => m.message.type))}\n${log}`);
        await sleep(50);
      }
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

export interface Capture {
  target: string;
  /**
   * Stops the capture (which writes out its file) and reads it back: each message as
   * dnstap-ldns decodes it, with the `extra` field (which no Debian reader prints) read
   * from the same frame's protobuf field 3.
   */
  stop(): Promise<TapMessage[]>;
}

/** fstrm_capture on a Unix socket, writing the Frame Streams file that dnstap-ldns decodes. */
export async function startFstrmCapture(): Promise<Capture> {
  const dir = await mkdtemp(join(tmpdir(), 'wachtpost-fstrm-'));
  const socket = join(dir, 'dnstap.sock');
  const file = join(dir, 'capture.fstrm');
  const child = spawn('fstrm_capture', ['-t', 'protobuf:dnstap.Dnstap', '-u', socket, '-w', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (chunk) => (log += chunk));
  const deadline = Date.now() + 10_000;
  while (!existsSync(socket)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`fstrm_capture did not start: ${log}`);
    await sleep(20);
  }
  return {
    target: `unix:${socket}`,
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
      const decoded = await new Promise<string>((resolve, reject) =>
        execFile('dnstap-ldns', ['-r', file, '-y'], { maxBuffer: 64 * 1024 * 1024 }, (error, stdout) => (error === null ? resolve(stdout) : reject(error))),
      );
      const messages = parseAllDocuments(decoded, { version: '1.1' }).flatMap((document) => {
        const value = document.toJS() as TapMessage | null;
        return value === null ? [] : [value];
      });
      const extras = dataFrames(readFileSync(file)).map(extraField);
      if (extras.length !== messages.length) throw new Error(`${extras.length} frames in the file, ${messages.length} decoded`);
      return messages.map((message, i) => (extras[i] === undefined ? message : { ...message, extra: extras[i] }));
    },
  };
}

/** The data frames of a Frame Streams file (control frames skipped). */
function dataFrames(bytes: Buffer): Buffer[] {
  const frames: Buffer[] = [];
  let at = 0;
  while (at + 4 <= bytes.length) {
    const length = bytes.readUInt32BE(at);
    if (length === 0) {
      at += 8 + bytes.readUInt32BE(at + 4);
      continue;
    }
    frames.push(bytes.subarray(at + 4, at + 4 + length));
    at += 4 + length;
  }
  return frames;
}

/** Field 3 (`extra`, bytes) of a dnstap.Dnstap message, read with protobuf's wire format only. */
function extraField(payload: Buffer): string | undefined {
  const reader = protobuf.Reader.create(payload);
  let extra: string | undefined;
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (tag >>> 3 === 3 && (tag & 7) === 2) extra = Buffer.from(reader.bytes()).toString('utf8');
    else reader.skipType(tag & 7);
  }
  return extra;
}
