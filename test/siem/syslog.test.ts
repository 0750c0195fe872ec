import { describe, expect, it } from 'vitest';
import type { DetectionEvent } from '../../src/events/detection-event.js';
import { ecsDocument } from '../../src/siem/ecs.js';
import { escapeParamValue, octetCounted, syslogMessage } from '../../src/siem/syslog.js';
import { truncateUtf8 } from '../../src/siem/udp-sender.js';
import { sampleEvent } from '../support/events.js';
import { parseSyslog } from './support.js';

function format(overrides: Partial<DetectionEvent>, facility = 16): Buffer {
  const event = sampleEvent({ id: 7, ...overrides });
  return syslogMessage(event, JSON.stringify(ecsDocument(event)), facility);
}

describe('syslogMessage', () => {
  it('writes an RFC 5424 header, one SD-ELEMENT and the BOM-marked ECS JSON', () => {
    const raw = format({ action: 'block' });
    const message = parseSyslog(raw);
    expect(message).toMatchObject({
      pri: 16 * 8 + 4,
      timestamp: '2026-11-24T12:00:00.000Z',
      hostname: 'test',
      appName: 'wachtpost',
      procId: String(process.pid),
      msgId: 'detection',
      sdId: 'wachtpost@32473',
      params: { id: '7', action: 'block', rule: 'owner-country:CN' },
    });
    expect(message.ecs.event.id).toBe('7');
    const bom = raw.indexOf(Buffer.from([0xef, 0xbb, 0xbf]));
    expect(raw.subarray(bom - 2, bom).toString()).toBe('] ');
    expect(raw.subarray(bom + 3, bom + 4).toString()).toBe('{');
  });

  it.each<[Partial<DetectionEvent>, number, number]>([
    [{ action: 'block' }, 16, 132],
    [{ kind: 'residual', action: 'block' }, 16, 132],
    [{ kind: 'bypass', action: 'allow' }, 23, 188],
    [{ action: 'monitor' }, 16, 133],
    [{ action: 'exempt' }, 0, 5],
    [{ action: 'allow' }, 16, 134],
    [{ kind: 'query', action: 'allow' }, 20, 166],
  ])('%o with facility %i has PRI %i', (overrides, facility, pri) => {
    const message = parseSyslog(format(overrides, facility));
    expect(message.pri).toBe(pri);
    expect(message.msgId).toBe(overrides.kind ?? 'detection');
  });

  it('escapes ", \\ and ] in SD parameter values and leaves out an absent rule', () => {
    const rule = 'exempt:"press" \\ [office]';
    expect(escapeParamValue(rule)).toBe('exempt:\\"press\\" \\\\ [office\\]');
    const message = parseSyslog(format({ rule }));
    expect(message.params.rule).toBe(rule);
    expect(message.ecs.rule?.name).toBe(rule);
    expect(parseSyslog(format({ rule: null })).params).toEqual({ id: '7', action: 'monitor' });
  });

  it('keeps the HOSTNAME field printable US-ASCII, or NILVALUE when empty', () => {
    expect(parseSyslog(format({ instance: 'wp 1 ü' })).hostname).toBe('wp_1__');
    expect(parseSyslog(format({ instance: '' })).hostname).toBe('-');
    expect(parseSyslog(format({ instance: 'x'.repeat(300) })).hostname).toHaveLength(255);
  });
});

describe('framing and truncation', () => {
  it('counts octets, not characters, in the TCP frame length', () => {
    const message = Buffer.from('ü€😀');
    expect(octetCounted(message).toString()).toBe(`${message.length} ü€😀`);
    expect(message.length).toBe(9);
  });

  it('cuts a datagram only between UTF-8 characters', () => {
    const message = Buffer.from('aaa€€');
    for (let max = 0; max <= message.length; max++) {
      const cut = truncateUtf8(message, max);
      expect(cut.length).toBeLessThanOrEqual(max);
      expect(Buffer.from(cut.toString('utf8')).equals(cut)).toBe(true);
    }
    expect(truncateUtf8(message, 5).toString()).toBe('aaa');
    expect(truncateUtf8(message, 6).toString()).toBe('aaa€');
    expect(truncateUtf8(message, 100)).toBe(message);
  });
});
