import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { FailureLog } from '../../src/logging/failure-log.js';

function recordingLog(): { log: pino.Logger; lines: Array<{ msg: string; level: number; failures?: number }> } {
  const lines: Array<{ msg: string; level: number; failures?: number }> = [];
  return { log: pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) }), lines };
}

describe('FailureLog', () => {
  it('counts every failure, logs at most once a minute and keeps the latest reason', () => {
    const { log, lines } = recordingLog();
    let now = 0;
    const failures = new FailureLog(log, 'history write', () => now);
    failures.failed(Object.assign(new Error('disk full'), { code: 'SQLITE_FULL' }));
    now = 59_999;
    failures.failed(new Error('still full'));
    expect(lines).toHaveLength(1);
    expect(failures.reason).toBe('history write failed: still full');
    now = 60_000;
    failures.failed(new Error('full again'));
    expect(lines.map((line) => line.failures)).toEqual([1, 3]);
    expect(failures.count).toBe(3);
  });

  it('says once that the task recovered and clears the reason', () => {
    const { log, lines } = recordingLog();
    const failures = new FailureLog(log, 'siem send', () => 0);
    failures.succeeded();
    expect(lines).toHaveLength(0);
    failures.failed('refused');
    failures.succeeded();
    failures.succeeded();
    expect(failures.reason).toBeNull();
    expect(lines.map((line) => line.msg)).toEqual(['siem send failed: refused', 'siem send recovered']);
  });
});
