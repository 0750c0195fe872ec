/**
 * Runs h2load (nghttp2-client) as the DNS-over-HTTPS load generator against one loopback
 * target: GET requests for the hot names (`?dns=`, RFC 8484) spread over a few HTTP/2
 * connections with many streams each, as phones keep one connection open. dnsperf's own DoH
 * mode takes only one answer per read of the connection (its source says so), which
 * servers that write several answers per TLS record (Node's http2 does) turn into an abort.
 */
import { createReadStream } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { runMetered, summarise, type DnsperfResult, type DnsperfRun } from './dnsperf.js';

const CONNECTIONS = 8;
const STREAMS_PER_CONNECTION = 16;
const KILL_SLACK_S = 15;
/** For the report: how the DoH load was generated. */
export const H2LOAD_SETTINGS = `h2load -c ${CONNECTIONS} -m ${STREAMS_PER_CONNECTION} (GET ?dns=)`;

export interface H2loadRun extends Omit<DnsperfRun, 'input' | 'mode' | 'maxQps' | 'outstanding' | 'timeoutSeconds'> {
  /** One request path per line (`/dns-query?dns=…`). */
  paths: string;
}

export async function runH2load(binary: string, run: H2loadRun): Promise<DnsperfResult> {
  const uris = `${run.outputFile}.uris`;
  const log = `${run.outputFile}.log`;
  const paths = (await readFile(run.paths, 'utf8')).trim().split('\n');
  await writeFile(uris, `${paths.map((path) => `https://127.0.0.1:${run.port}${path}`).join('\n')}\n`);
  const args = ['-D', String(run.seconds), '-c', String(CONNECTIONS), '-m', String(STREAMS_PER_CONNECTION), '-i', uris, `--log-file=${log}`];
  try {
    const metered = await runMetered(binary, args, run, run.seconds + KILL_SLACK_S);
    const text = await readFile(run.outputFile, 'utf8');
    const number = (pattern: RegExp): number => {
      const match = pattern.exec(text);
      if (!match) throw new Error(`h2load output lacks ${pattern}:\n${text}`);
      return Number(match[1]);
    };
    const started = number(/(\d+) started/);
    const succeeded = number(/(\d+) succeeded/);
    const failed = number(/(\d+) failed/) + number(/(\d+) errored/) + number(/(\d+) timeout/);
    const latency = await latencies(log);
    return {
      sent: started,
      completed: succeeded,
      lost: failed,
      runSeconds: run.seconds,
      qps: number(/finished in [\d.]+m?s, ([\d.]+) req\/s/),
      rcodes: {},
      latency: summarise(latency),
      inputExhausted: false,
      ...metered,
    };
  } finally {
    await Promise.all([uris, log, run.outputFile].map((file) => rm(file, { force: true })));
  }
}

/** Seconds each 2xx response took, from the log's third column (microseconds). */
async function latencies(file: string): Promise<Float64Array> {
  const values: number[] = [];
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
    const [, status, micros] = line.split('\t');
    if (status !== undefined && status.startsWith('2')) values.push(Number(micros) / 1e6);
  }
  return Float64Array.from(values);
}
