import { describe, expect, it } from 'vitest';
import { StatusType, type AccountingRecord } from '../../src/radius/accounting-packet.js';
import { deviceFromIdentity, SessionTable, type SessionChange } from '../../src/radius/session-table.js';

const NAS = '192.0.2.1';

function record(status: number, address: string | null, identity: string | null, sessionId: string | null = 's1'): AccountingRecord {
  return { identifier: 1, authenticator: Buffer.alloc(16), status, address, identity, sessionId };
}

function table(settings: { maxSessions?: number; timeoutMs?: number } = {}) {
  const changes: SessionChange[] = [];
  let now = 1_000_000;
  const sessions = new SessionTable({ maxSessions: settings.maxSessions ?? 100, timeoutMs: settings.timeoutMs ?? 60_000 }, (change) => changes.push(change), () => now);
  return { sessions, changes, advance: (ms: number) => (now += ms) };
}

describe('the identity attribute as a device id', () => {
  it.each([
    ['phone-23', 'phone-23'],
    ['Alice@Ministerie.NL', 'alice-ministerie-nl'],
    ['+31 6 1234 5678', '31-6-1234-5678'],
    ['00:11:22:AA:BB:CC', '00-11-22-aa-bb-cc'],
    ['CN=laptop 7,OU=VPN', 'cn-laptop-7-ou-vpn'],
    ['x'.repeat(70) + '-y', 'x'.repeat(63)],
  ])('%s becomes %s', (identity, device) => {
    expect(deviceFromIdentity(identity)).toBe(device);
  });

  it.each(['', '@@@', '---', 'ü'])('%j names no device', (identity) => {
    expect(deviceFromIdentity(identity)).toBeNull();
  });
});

describe('the session table', () => {
  it('maps an address at Start, keeps it at Interim-Update, and unmaps it at Stop', () => {
    const { sessions, changes } = table();
    expect(sessions.apply(record(StatusType.START, '10.64.0.7', 'phone-7'), NAS)).toBe('mapped');
    expect(sessions.apply(record(StatusType.INTERIM_UPDATE, '10.64.0.7', 'phone-7'), NAS)).toBe('kept');
    expect(sessions.get('10.64.0.7')).toMatchObject({ device: 'phone-7', sessionId: 's1', nas: NAS });
    expect(sessions.apply(record(StatusType.STOP, '10.64.0.7', 'phone-7'), NAS)).toBe('unmapped');
    expect(sessions.size).toBe(0);
    expect(changes).toEqual([
      ['10.64.0.7', 'phone-7'],
      ['10.64.0.7', null],
    ]);
  });

  it('maps an Interim-Update of a session whose Start it missed (it started before Wachtpost did)', () => {
    const { sessions, changes } = table();
    expect(sessions.apply(record(StatusType.INTERIM_UPDATE, '10.64.0.8', 'phone-8'), NAS)).toBe('mapped');
    expect(changes).toEqual([['10.64.0.8', 'phone-8']]);
  });

  it('gives an address to its new holder, and a late Stop of the earlier session leaves the new one alone', () => {
    const { sessions, changes } = table();
    sessions.apply(record(StatusType.START, '10.64.0.9', 'phone-a', 'old'), NAS);
    sessions.apply(record(StatusType.START, '10.64.0.9', 'phone-b', 'new'), NAS);
    expect(sessions.apply(record(StatusType.STOP, '10.64.0.9', 'phone-a', 'old'), NAS)).toBe('stale_stop');
    expect(sessions.get('10.64.0.9')?.device).toBe('phone-b');
    expect(changes).toEqual([
      ['10.64.0.9', 'phone-a'],
      ['10.64.0.9', 'phone-b'],
    ]);
  });

  it('ends every session of a concentrator that sends Accounting-On or -Off, and only its own', () => {
    const { sessions } = table();
    sessions.apply(record(StatusType.START, '10.64.0.1', 'phone-1'), NAS);
    sessions.apply(record(StatusType.START, '10.64.0.2', 'phone-2'), '192.0.2.2');
    expect(sessions.apply(record(StatusType.ACCOUNTING_ON, null, null, null), NAS)).toBe('nas_reset');
    expect(sessions.entries()).toEqual([['10.64.0.2', 'phone-2']]);
    sessions.apply(record(StatusType.ACCOUNTING_OFF, null, null, null), '192.0.2.2');
    expect(sessions.size).toBe(0);
  });

  it('maps nothing without an address or an identity it can use, and acknowledges other status types', () => {
    const { sessions, changes } = table();
    expect(sessions.apply(record(StatusType.START, null, 'phone-1'), NAS)).toBe('no_address');
    expect(sessions.apply(record(StatusType.START, '10.64.0.1', null), NAS)).toBe('no_identity');
    expect(sessions.apply(record(StatusType.START, '10.64.0.1', '@@'), NAS)).toBe('no_identity');
    expect(sessions.apply(record(9, '10.64.0.1', 'phone-1'), NAS)).toBe('ignored');
    expect(changes).toEqual([]);
  });

  it('holds at most max_sessions, pushing out the one that reported longest ago', () => {
    const { sessions, changes, advance } = table({ maxSessions: 3 });
    for (const n of [1, 2, 3]) {
      sessions.apply(record(StatusType.START, `10.64.0.${n}`, `phone-${n}`), NAS);
      advance(1000);
    }
    sessions.apply(record(StatusType.INTERIM_UPDATE, '10.64.0.1', 'phone-1'), NAS);
    sessions.apply(record(StatusType.START, '10.64.0.4', 'phone-4'), NAS);
    expect(sessions.size).toBe(3);
    expect(sessions.get('10.64.0.2')).toBeUndefined();
    expect(sessions.counters.evicted).toBe(1);
    expect(changes.slice(-2)).toEqual([
      ['10.64.0.2', null],
      ['10.64.0.4', 'phone-4'],
    ]);
  });

  it('ends sessions that report nothing within the timeout, and keeps those that do', () => {
    const { sessions, changes, advance } = table({ timeoutMs: 60_000 });
    sessions.apply(record(StatusType.START, '10.64.0.1', 'phone-1'), NAS);
    sessions.apply(record(StatusType.START, '10.64.0.2', 'phone-2'), NAS);
    advance(40_000);
    sessions.apply(record(StatusType.INTERIM_UPDATE, '10.64.0.2', 'phone-2'), NAS);
    advance(30_000);
    sessions.expire();
    expect(sessions.entries()).toEqual([['10.64.0.2', 'phone-2']]);
    expect(sessions.counters.expired).toBe(1);
    expect(changes.at(-1)).toEqual(['10.64.0.1', null]);
    advance(60_000);
    sessions.expire();
    expect(sessions.size).toBe(0);
  });
});
