/**
 * Writing events into the SQLite history, as the primary does: one op is one
 * `History.writeEvents` call (one transaction) of BATCH realistic events into a fresh
 * on-disk database (WAL, synchronous=NORMAL) in a temporary directory. Each case keeps
 * writing into its own database, so later samples pay for a table and indexes that have
 * grown to a few hundred thousand rows, as a long-running primary does.
 * The events are described in ./events.ts.
 * Usage: node --expose-gc --import tsx bench/history/write.bench.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { DetectionEvent } from '../../src/events/detection-event.js';
import { History } from '../../src/history/history.js';
import { runSuite } from '../support/suite.js';
import { templates } from './events.js';

const BASE_TS = Date.UTC(2025, 2, 10, 12);
const dirs: string[] = [];
const histories: History[] = [];
/**
 * Per case: events written, and wall and CPU time (user + system, all threads) spent in
 * `writeEvents`. Ops/s alone is rounded to whole ops; CPU time is what the product's CPU
 * budget counts, and it varies less than wall time on a shared machine.
 */
const spent = new Map<string, { events: number; ns: bigint; cpuUs: number }>();

function setUp(name: string, batch: number, blocksOnly: boolean): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'wachtpost-history-bench-'));
  dirs.push(dir);
  const history = History.open(
    {
      path: join(dir, 'history.sqlite'),
      retention_days: { detection: 90, residual: 90, bypass: 90, query: 7, audit: 365 },
      purge_interval_s: 86_400,
    },
    pino({ level: 'silent' }),
  );
  histories.push(history);
  const pool = templates(10_000, 42, blocksOnly);
  let id = 0;
  let cursor = 0;
  const events: DetectionEvent[] = new Array<DetectionEvent>(batch);
  const account = { events: 0, ns: 0n, cpuUs: 0 };
  spent.set(name, account);
  return () => {
    for (let e = 0; e < batch; e++) {
      const event = pool[cursor]!;
      cursor = (cursor + 1) % pool.length;
      id++;
      event.id = id;
      event.ts = BASE_TS + id; // about 1,000 events/s of history
      events[e] = event;
    }
    const cpu = process.cpuUsage();
    const start = process.hrtime.bigint();
    history.writeEvents(events);
    account.ns += process.hrtime.bigint() - start;
    const used = process.cpuUsage(cpu);
    account.cpuUs += used.user + used.system;
    account.events += batch;
  };
}

const BATCHES: Record<string, [batch: number, blocksOnly: boolean]> = {
  'write 1000 mixed events': [1000, false],
  'write 100 mixed events': [100, false],
  'write 1000 blocks (feed-load)': [1000, true],
};
const cases: Record<string, () => void> = {};
for (const [name, [batch, blocksOnly]] of Object.entries(BATCHES)) cases[name] = setUp(name, batch, blocksOnly);
try {
  const results = await runSuite('history-write', cases);
  for (const result of results) {
    const { events, ns, cpuUs } = spent.get(result.name)!;
    const perSecond = events / (Number(ns) / 1e9);
    process.stdout.write(
      `  ${result.name}: ${Math.round(perSecond).toLocaleString('en')} events/s, ${(Number(ns) / 1000 / events).toFixed(1)} µs wall and ${(cpuUs / events).toFixed(1)} µs CPU per event (${events.toLocaleString('en')} events)\n`,
    );
  }
} finally {
  for (const history of histories) await history.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}
