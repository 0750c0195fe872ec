/**
 * The throughput harness in --smoke mode: one short, rate-capped round per target and
 * workload. It checks that the harness works end to end, not how fast anything is.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { findBinary } from '../../bench/throughput/peers.js';
import type { Report } from '../../bench/throughput/report.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const HARNESS = join(ROOT, 'bench/throughput/run.ts');
const KILL_AFTER_MS = 180_000;

const missing = ['dnsperf', 'knotd'].filter((binary) => findBinary(binary) === null);
// The Node echo and the untagged variant add start-up time without exercising anything new.
const echoes = ['echo-batched', ...(findBinary('cc') === null ? [] : ['echo-c'])];
const targets = ['wachtpost-1', 'wachtpost-all', ...echoes, ...['unbound', 'dnsmasq', 'dnsdist'].filter((peer) => findBinary(peer) !== null)];
const skipReason = missing.length > 0 ? ` (skipped: ${missing.join(' and ')} not installed; apt-get install -y dnsperf knot)` : '';
if (skipReason) console.warn(`throughput smoke test${skipReason}`);

function runHarness(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', HARNESS, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  // SIGTERM lets the harness stop its servers; the test fails on the exit code.
  const timer = setTimeout(() => child.kill('SIGTERM'), KILL_AFTER_MS);
  return new Promise((resolve) =>
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}

describe.skipIf(missing.length > 0)(`bench:throughput --smoke${skipReason}`, () => {
  it('measures every available target and reports answers from Wachtpost', async () => {
    const out = await mkdtemp(join(tmpdir(), 'wachtpost-throughput-test-'));
    try {
      const { code, stdout, stderr } = await runHarness(['--smoke', '--out', out, '--targets', targets.join(',')]);
      expect(code, stderr).toBe(0);
      expect(stdout).toMatch(/^\| workload \| target \| queries\/s \|/m);
      expect(stdout).toMatch(/^\| hot \| Wachtpost, 1 worker \| [1-9]/m);

      const report = JSON.parse(await readFile(join(out, 'throughput.json'), 'utf8')) as Report;
      expect(report.targets.map((target) => target.id).sort()).toEqual([...targets].sort());
      const cell = (workload: string, target: string) => report.cells.find((c) => c.workload === workload && c.target === target);
      for (const target of ['wachtpost-1', 'wachtpost-all']) {
        const hot = cell('hot', target)!.rounds[0]!;
        expect(hot.qps).toBeGreaterThan(0);
        expect(hot.rcodes.NOERROR ?? 0).toBeGreaterThan(hot.sent / 2);
        // A tenth of the mixed workload is catalogued app names, which enforce mode blocks.
        const mixed = cell('mixed', target)!.rounds[0]!;
        expect(mixed.rcodes.NXDOMAIN ?? 0).toBeGreaterThan(mixed.sent / 20);
        expect(cell('miss', target)!.rounds[0]!.rcodes.NOERROR ?? 0).toBeGreaterThan(0);
        // The hot names over DNS over TLS (dnsperf) and over HTTPS (h2load, when installed): all answered.
        const dot = cell('dot', target)!.rounds[0]!;
        expect([dot.lost, (dot.rcodes.NOERROR ?? 0) > dot.sent / 2]).toEqual([0, true]);
        if (findBinary('h2load') !== null) {
          const doh = cell('doh', target)!.rounds[0]!;
          expect([doh.lost, doh.completed > 0, doh.latency!.p99Ms > 0]).toEqual([0, true, true]);
        }
      }
      // The echoes answer every hot query (with the query itself, QR set).
      for (const echo of echoes) {
        const hot = cell('hot', echo)!.rounds[0]!;
        expect([hot.lost, (hot.rcodes.NOERROR ?? 0) > hot.sent / 2], echo).toEqual([0, true]);
      }
      // Every hot target measured again at one fixed rate, answering.
      expect(report.fixedRate?.cells.map((c) => c.target).sort()).toEqual(report.cells.filter((c) => c.workload === 'hot').map((c) => c.target).sort());
      for (const fixed of report.fixedRate!.cells) expect(fixed.summary.qps.median).toBeGreaterThan(0);
      // With tcpdump, the same rounds are timed on the wire too: every answer matched to its query.
      if (findBinary('tcpdump') !== null) {
        for (const fixed of report.fixedRate!.cells) {
          const { wire, completed } = fixed.rounds[0]!;
          expect(wire?.replies, fixed.target).toBeGreaterThanOrEqual(completed * 0.99);
          expect(wire!.latency!.p99Ms).toBeGreaterThan(0);
          expect(wire!.latency!.p99Ms).toBeLessThan(2000);
        }
      }
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  }, 110_000);
});
