import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { failureCause } from '../../src/upstream/exchange-observer.js';
import { UpstreamHealth } from '../../src/upstream/upstream-health.js';
import { UpstreamServer } from '../../src/upstream/upstream-server.js';
import { Answer } from '../../src/wire/answer.js';

const ANSWER = Answer.synthetic(0);

function setup(now: () => number = Date.now) {
  const lines: Array<{ level: number; msg: string; upstream?: string; cause?: string; changesNotLogged?: number }> = [];
  const changes: Array<string | null> = [];
  const log = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  const health = new UpstreamHealth(log, (reason) => changes.push(reason), now);
  const a = new UpstreamServer('127.0.0.1', 5301, 4);
  const b = new UpstreamServer('::1', 5302, 6);
  health.track([a, b]);
  return { health, a, b, lines, changes };
}

afterEach(() => vi.useRealTimers());

describe('failure causes', () => {
  it('tell a refused connection from a reset, an unreachable network and anything else', () => {
    const refused = Object.assign(new Error('recvmsg ECONNREFUSED'), { code: 'ECONNREFUSED' });
    expect(failureCause(refused)).toEqual({ cause: 'refused', detail: 'connection refused (recvmsg ECONNREFUSED)' });
    expect(failureCause(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })).cause).toBe('reset');
    expect(failureCause(Object.assign(new Error('x'), { code: 'ENETUNREACH' })).cause).toBe('unreachable');
    expect(failureCause(new Error('closed the TCP connection before answering'))).toEqual({ cause: 'other', detail: 'closed the TCP connection before answering' });
  });
});

describe('upstream health', () => {
  it('marks a server failing after two failures in a row, answering after one answer, and logs each change once with its cause', () => {
    const { health, a, lines } = setup();
    health.failed(a, 'refused', 'connection refused');
    expect(health.states[0]).toEqual({ label: '127.0.0.1:5301', failing: false });
    health.failed(a, 'refused', 'connection refused');
    health.failed(a, 'refused', 'connection refused');
    expect(health.states[0]!.failing).toBe(true);
    expect(lines).toEqual([expect.objectContaining({ level: 40, upstream: '127.0.0.1:5301', cause: 'refused', msg: 'upstream 127.0.0.1:5301 failing: connection refused' })]);
    expect(health.everyFailing).toBeNull();
    vi.useFakeTimers();
    health.answered(a, 'udp', ANSWER, 0.01);
    expect(health.states[0]!.failing).toBe(false);
    // The recovery falls inside the minute after the last line: it is logged at the minute's end.
    expect(lines).toHaveLength(1);
    vi.advanceTimersByTime(60_000);
    expect(lines[1]).toMatchObject({ level: 30, msg: 'upstream 127.0.0.1:5301 answering again', changesNotLogged: 1 });
  });

  it('says why when every server is failing, tells the listener on each change, and clears it on an answer', () => {
    const { health, a, b, changes } = setup();
    for (const server of [a, a, b]) health.failed(server, 'refused', 'connection refused');
    expect(health.everyFailing).toBeNull();
    health.failed(b, 'timeout', 'no answer from [::1]:5302 in 700 ms');
    expect(health.everyFailing).toBe('every upstream is failing: 127.0.0.1:5301: connection refused; [::1]:5302: no answer from [::1]:5302 in 700 ms');
    expect(changes).toEqual([health.everyFailing]);
    health.answered(b, 'udp', ANSWER, 0.01);
    expect(health.everyFailing).toBeNull();
    expect(changes).toEqual([expect.stringContaining('every upstream'), null]);
  });

  it('logs a flapping server at most once a minute, then the state at the end of the window with the changes not logged', () => {
    vi.useFakeTimers();
    let now = 1_000_000;
    const { health, a, lines } = setup(() => now);
    const flap = (): void => {
      health.failed(a, 'timeout', 'no answer');
      health.failed(a, 'timeout', 'no answer');
      health.answered(a, 'udp', ANSWER, 0.01);
    };
    for (let i = 0; i < 10; i++) flap();
    health.failed(a, 'timeout', 'no answer');
    health.failed(a, 'timeout', 'no answer');
    expect(lines).toHaveLength(1);
    now += 60_000;
    vi.advanceTimersByTime(60_000);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatchObject({ level: 40, msg: 'upstream 127.0.0.1:5301 failing: no answer', changesNotLogged: 20 });
    health.close();
  });
});
