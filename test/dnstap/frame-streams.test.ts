import { describe, expect, it } from 'vitest';
import { ControlType, controlFrame, readControlFrame } from '../../src/dnstap/frame-streams.js';

describe('Frame Streams control frames', () => {
  it('write the escape, length, type and content-type fields, and read them back', () => {
    const frame = controlFrame(ControlType.READY, ['protobuf:dnstap.Dnstap']);
    // escape 0, length 4 + 8 + 22, type READY, field CONTENT_TYPE of 22 bytes
    expect(frame.subarray(0, 20).toString('hex')).toBe('00000000' + '00000022' + '00000004' + '00000001' + '00000016');
    expect(frame.subarray(20).toString()).toBe('protobuf:dnstap.Dnstap');
    expect(readControlFrame(frame)).toEqual({ type: ControlType.READY, contentTypes: ['protobuf:dnstap.Dnstap'], size: frame.length });
    expect(readControlFrame(controlFrame(ControlType.FINISH))).toEqual({ type: ControlType.FINISH, contentTypes: [], size: 12 });
  });

  it('wait for the rest of a frame cut short, and read two frames one after the other', () => {
    const two = Buffer.concat([controlFrame(ControlType.ACCEPT, ['a', 'b']), controlFrame(ControlType.FINISH)]);
    expect(readControlFrame(two.subarray(0, 7))).toBeNull();
    expect(readControlFrame(two.subarray(0, 20))).toBeNull();
    const first = readControlFrame(two)!;
    expect(first.contentTypes).toEqual(['a', 'b']);
    expect(readControlFrame(two.subarray(first.size))?.type).toBe(ControlType.FINISH);
  });

  it('refuse data where a control frame belongs, absurd lengths and fields longer than their frame', () => {
    expect(() => readControlFrame(Buffer.from('0000000500000000', 'hex'))).toThrow(/control frame/);
    expect(() => readControlFrame(Buffer.from('000000000000ffff', 'hex'))).toThrow(/bytes/);
    const bad = controlFrame(ControlType.ACCEPT, ['abc']);
    bad.writeUInt32BE(99, 16);
    expect(() => readControlFrame(bad)).toThrow(/longer than its frame/);
  });
});
