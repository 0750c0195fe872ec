import { describe, expect, it } from 'vitest';
import type { CandidateReport } from '../../src/discovery/candidate-report.js';
import { DiscoveryQueue, MAX_DEVICES_PER_NAME } from '../../src/discovery/discovery-queue.js';
import { Pseudonymiser } from '../../src/events/pseudonymiser.js';

const T0 = Date.UTC(2026, 11, 3, 9);

function report(name: string, overrides: Partial<CandidateReport> = {}): CandidateReport {
  return { name, queries: 1, first_seen: T0, last_seen: T0, clients: ['10.64.0.7'], follows: [], network: null, hosting: [], ...overrides };
}

function merge(queue: DiscoveryQueue, ...reports: CandidateReport[]): void {
  queue.merge({ type: 'discovery', reports, overflow: 0 });
}

describe('DiscoveryQueue', () => {
  it("merges workers' reports per name, with every kind of evidence", () => {
    const queue = new DiscoveryQueue(100);
    merge(queue, report('cdn.example', { queries: 3, follows: [{ app: 'tiktok', count: 3 }], clients: ['10.64.0.7', '10.64.0.8'] }));
    merge(
      queue,
      report('cdn.example', { queries: 2, first_seen: T0 - 5000, last_seen: T0 + 9000, follows: [{ app: 'tiktok', count: 1 }, { app: 'capcut', count: 1 }], clients: ['10.64.0.8', '10.64.0.9'] }),
      report('cdn.example', { network: { owner: 'ByteDance Ltd.', country: 'CN', asn: 396986 }, hosting: [{ country: 'CN', asn: 396986 }], clients: [] }),
    );
    expect(queue.get('cdn.example')).toEqual({
      name: 'cdn.example',
      reasons: ['network', 'hosting', 'follows'],
      queries: 6,
      devices: 3,
      example_devices: [],
      first_seen: T0 - 5000,
      last_seen: T0 + 9000,
      network: { owner: 'ByteDance Ltd.', country: 'CN', asn: 396986 },
      hosting: [{ country: 'CN', asn: 396986 }],
      follows: [
        { app: 'tiktok', count: 4 },
        { app: 'capcut', count: 1 },
      ],
    });
  });

  it('never shows a client address: devices are counted by a keyed hash, or shown as pseudonyms when pseudonymising', () => {
    const hashed = new DiscoveryQueue(100);
    merge(hashed, report('a.example', { clients: ['10.64.0.7'] }));
    expect(JSON.stringify(hashed.list(10))).not.toContain('10.64.0.7');
    const pseudonymiser = new Pseudonymiser('k'.repeat(32));
    const pseudonymised = new DiscoveryQueue(100, (address) => pseudonymiser.of(address));
    merge(pseudonymised, report('a.example', { clients: ['10.64.0.7', '10.64.0.8', '10.64.0.9', '10.64.0.10'] }));
    const [candidate] = pseudonymised.list(10);
    expect(candidate!.devices).toBe(4);
    expect(candidate!.example_devices).toEqual(['10.64.0.7', '10.64.0.8', '10.64.0.9'].map((address) => pseudonymiser.of(address)));
    expect(JSON.stringify(candidate)).not.toMatch(/10\.64\./);
  });

  it(`counts at most ${MAX_DEVICES_PER_NAME} devices per name`, () => {
    const queue = new DiscoveryQueue(100);
    const clients = Array.from({ length: 100 }, (_, i) => `10.64.1.${i}`);
    for (let i = 0; i < clients.length; i += 8) merge(queue, report('busy.example', { clients: clients.slice(i, i + 8) }));
    expect(queue.get('busy.example')!.devices).toBe(MAX_DEVICES_PER_NAME);
  });

  it('lists the strongest first (devices, then queries, then the most recent) and narrows by reason', () => {
    const queue = new DiscoveryQueue(100);
    merge(
      queue,
      report('one-device.example', { queries: 50 }),
      report('two-devices.example', { queries: 2, clients: ['10.64.0.1', '10.64.0.2'], follows: [{ app: 'wechat', count: 2 }] }),
      report('older.example', { queries: 50, last_seen: T0 - 1 }),
      report('hosted.example', { hosting: [{ country: 'RU', asn: 13238 }] }),
    );
    expect(queue.list(10).map((candidate) => candidate.name)).toEqual(['two-devices.example', 'one-device.example', 'older.example', 'hosted.example']);
    expect(queue.list(2).map((candidate) => candidate.name)).toEqual(['two-devices.example', 'one-device.example']);
    expect(queue.list(10, 'follows').map((candidate) => candidate.name)).toEqual(['two-devices.example']);
    expect(queue.list(10, 'hosting').map((candidate) => candidate.name)).toEqual(['hosted.example']);
  });

  it('stays within its capacity: a new name at a full table evicts the weakest tenth, never the strong names', () => {
    const queue = new DiscoveryQueue(100);
    const strong = Array.from({ length: 20 }, (_, i) => report(`strong${i}.example`, { queries: 100, clients: ['10.64.0.1', '10.64.0.2', '10.64.0.3'] }));
    merge(queue, ...strong);
    // A flood of one-off names, ten times the capacity.
    for (let i = 0; i < 1000; i++) merge(queue, report(`noise${i}.example`, { last_seen: T0 + i }));
    expect(queue.size).toBeLessThanOrEqual(100);
    expect(queue.counters.evicted).toBeGreaterThanOrEqual(900);
    const names = new Set(queue.list(1000).map((candidate) => candidate.name));
    for (const candidate of strong) expect(names.has(candidate.name), candidate.name).toBe(true);
    // Among equals, the longest unseen went first: the newest noise is still there.
    expect(names.has('noise999.example')).toBe(true);
    expect(names.has('noise0.example')).toBe(false);
  });

  it('keeps a settled (dismissed or promoted) name out, even when workers still report it', () => {
    const queue = new DiscoveryQueue(100);
    merge(queue, report('gone.example'));
    expect(queue.settle('gone.example')).toBe(true);
    expect(queue.get('gone.example')).toBeNull();
    merge(queue, report('gone.example'));
    expect(queue.get('gone.example')).toBeNull();
    expect(queue.settle('never-seen.example')).toBe(false);
  });

  it("sums the workers' overflow", () => {
    const queue = new DiscoveryQueue(100);
    queue.merge({ type: 'discovery', reports: [], overflow: 7 });
    queue.merge({ type: 'discovery', reports: [], overflow: 5 });
    expect(queue.counters.overflow).toBe(12);
  });
});
