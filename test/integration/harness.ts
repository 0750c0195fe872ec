import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { loadConfig, type ConfigOverrides } from '../../src/config/load.js';
import type { EventSink } from '../../src/events/event-sink.js';
import { Resolver } from '../../src/server/resolver.js';
import { startKnot, type KnotServer } from '../support/knot.js';
import { startScriptedUpstream, type FixtureRecord, type ScriptedUpstream } from '../support/scripted-upstream.js';
import { freePort } from '../support/ports.js';

export interface Endpoint {
  host: string;
  port: number;
}

export interface RunningWachtpost {
  resolver: Resolver;
  server: Endpoint;
  stop(): Promise<void>;
}

/**
 * Starts a real resolver in this process on a free loopback port, forwarding to the given
 * loopback upstreams, with `yaml` as the configuration file's text.
 */
export async function startWachtpost(upstreams: Endpoint[], yaml = '', overrides: ConfigOverrides = {}, events: EventSink | null = null): Promise<RunningWachtpost> {
  const port = await freePort();
  const config = loadConfig({
    text: yaml,
    overrides: {
      listen: [`127.0.0.1:${port}`],
      upstream: upstreams.map((upstream) => `${upstream.host}:${upstream.port}`),
      workers: 1,
      ...overrides,
    },
  });
  const resolver = await Resolver.start(config, pino({ level: 'silent' }), events);
  return {
    resolver,
    server: { host: '127.0.0.1', port },
    stop: () => resolver.drain(1000),
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Knot, started before the tests of the file (or describe block) and stopped after them. */
export function withKnot(): { readonly knot: KnotServer } {
  const setup = {} as { knot: KnotServer };
  beforeAll(async () => {
    setup.knot = await startKnot();
  }, 30_000);
  afterAll(async () => {
    await setup.knot?.stop();
  });
  return setup;
}

/** A Knot upstream and a resolver forwarding to it, shared by one test file. */
export interface KnotSetup {
  knot: KnotServer;
  wp: RunningWachtpost;
}

/**
 * Starts Knot and a resolver in front of it before the file's tests and stops both after.
 * The returned object is filled in by the time the first test runs.
 */
export function withKnotUpstream(yaml: string | (() => Promise<string>) = ''): KnotSetup {
  const setup = {} as KnotSetup;
  beforeAll(async () => {
    setup.knot = await startKnot();
    setup.wp = await startWachtpost([setup.knot], typeof yaml === 'string' ? yaml : await yaml());
  }, 30_000);
  afterAll(async () => {
    await setup.wp?.stop();
    await setup.knot?.stop();
  });
  return setup;
}

/** A scripted upstream shared by a test file, and resolvers in front of it started per test. */
export interface ScriptedSetup {
  readonly up: ScriptedUpstream;
  /** A resolver forwarding to the upstream with `yaml`, stopped after the test. */
  wachtpost(yaml?: string): Promise<RunningWachtpost>;
}

/**
 * Starts a scripted upstream with `records` before the file's tests and stops it after;
 * after each test, stops the resolvers it started and sets the upstream to answer again.
 */
export function withScriptedUpstream(records: Record<string, FixtureRecord[]>): ScriptedSetup {
  let up: ScriptedUpstream | null = null;
  const running: RunningWachtpost[] = [];
  beforeAll(async () => {
    up = await startScriptedUpstream({ records });
  });
  afterEach(async () => {
    for (const wp of running.splice(0)) await wp.stop();
    up?.setBehaviour('answer');
  });
  afterAll(async () => {
    await up?.stop();
  });
  return {
    get up() {
      return up!;
    },
    async wachtpost(yaml = '') {
      const wp = await startWachtpost([up!], yaml);
      running.push(wp);
      return wp;
    },
  };
}

const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export interface ServedProcess {
  child: ChildProcess;
  port: number;
  httpPort: number;
  output: () => string;
  exited: Promise<number | null>;
}

/**
 * Starts the built `wachtpost serve` as a real process on free loopback ports, with extra
 * flags and environment variables (added to this process's), and waits for its ready log line.
 */
export async function spawnWachtpost(flags: string[], env: NodeJS.ProcessEnv = {}): Promise<ServedProcess> {
  const port = await freePort();
  const httpPort = await freePort();
  const child = spawn(process.execPath, [CLI, 'serve', '--listen', `127.0.0.1:${port}`, '--http', `127.0.0.1:${httpPort}`, ...flags], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
    // A fresh working directory: the default history file must not land in the checkout.
    cwd: await mkdtemp(join(tmpdir(), 'wachtpost-serve-')),
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + 15_000;
  while (!output.includes('wachtpost ready')) {
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`server did not start:\n${output}`);
    }
    await sleep(50);
  }
  return { child, port, httpPort, output: () => output, exited };
}

/** A running `wachtpost serve` in front of a Knot upstream, with its directory and configuration file. */
export interface ServedSetup {
  knot: KnotServer;
  dir: string;
  config: string;
  served: ServedProcess;
}

/**
 * Starts Knot and `wachtpost serve` (one worker) with the configuration `yaml(dir)` in a
 * fresh directory before the file's tests, and stops both and removes the directory after.
 * The returned object is filled in by the time the first test runs.
 */
export function withServedWachtpost(yaml: (dir: string) => string | Promise<string>, env: NodeJS.ProcessEnv = {}): ServedSetup {
  const setup = {} as ServedSetup;
  beforeAll(async () => {
    setup.knot = await startKnot();
    setup.dir = await mkdtemp(join(tmpdir(), 'wachtpost-served-'));
    setup.config = join(setup.dir, 'wachtpost.yaml');
    await writeFile(setup.config, await yaml(setup.dir));
    setup.served = await spawnWachtpost(['--config', setup.config, '--upstream', `127.0.0.1:${setup.knot.port}`, '--workers', '1'], env);
  }, 30_000);
  afterAll(async () => {
    if (setup.served?.child.exitCode === null) {
      setup.served.child.kill('SIGTERM');
      await setup.served.exited;
    }
    await setup.knot?.stop();
    if (setup.dir !== undefined) await rm(setup.dir, { recursive: true, force: true });
  });
  return setup;
}

/** spawnWachtpost with `yaml` (which sets no history) as its configuration file, and no history. */
export async function spawnWithConfig(yaml: string, flags: string[]): Promise<ServedProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'wachtpost-config-'));
  const file = join(dir, 'wachtpost.yaml');
  await writeFile(file, `history: { path: "" }\n${yaml}\n`);
  return spawnWachtpost(['--config', file, ...flags]);
}

/** SIGTERM, and waits for the exit. */
export async function stopServed(served: ServedProcess): Promise<void> {
  served.child.kill('SIGTERM');
  await served.exited;
}
