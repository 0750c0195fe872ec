import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, type LogFormat } from '../../src/logging/log.js';

function capture(format: LogFormat): { lines: () => string[]; log: ReturnType<typeof createLogger> } {
  let text = '';
  const sink = new Writable({
    write(chunk, _encoding, done) {
      text += chunk;
      done();
    },
  });
  return { log: createLogger('info', format, sink), lines: () => text.split('\n').filter((line) => line !== '') };
}

describe('logger', () => {
  it('writes JSON lines with ISO timestamps for machines (also the choice of auto when not on a terminal)', () => {
    for (const format of ['json', 'auto'] as const) {
      const { log, lines } = capture(format);
      log.info({ upstream: '127.0.0.1:53' }, 'upstream failing');
      const line = JSON.parse(lines()[0]!) as { time: string; msg: string; level: number; upstream: string };
      expect(line.time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      expect(line).toMatchObject({ msg: 'upstream failing', level: 30, upstream: '127.0.0.1:53' });
    }
  });

  it('writes readable lines for a person: time, level, message, no JSON', () => {
    const { log, lines } = capture('pretty');
    log.warn({ upstream: '127.0.0.1:53' }, 'upstream failing');
    const [first, ...details] = lines();
    expect(first).toMatch(/^\[\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}\] WARN \(\d+\): upstream failing$/);
    expect(details.join('\n')).toContain('upstream: "127.0.0.1:53"');
    expect(() => JSON.parse(first!)).toThrow();
  });

  it('never writes credentials, whatever a call is handed', () => {
    for (const format of ['json', 'pretty'] as const) {
      const { log, lines } = capture(format);
      log.info({ token: 'secret-token-1', req: { headers: { authorization: 'Bearer secret-token-2', cookie: 'wachtpost_session=secret-3' } } }, 'request');
      log.info({ headers: { authorization: 'Bearer secret-token-4' }, config: { password: 'secret-5', key: 'secret-6' } }, 'config');
      const text = lines().join('\n');
      expect(text).not.toMatch(/secret-/);
      expect(text).toContain('[redacted]');
    }
  });
});
