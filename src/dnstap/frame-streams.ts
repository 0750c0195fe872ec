/**
 * Frame Streams, the framing dnstap travels in: data frames are a 32-bit big-endian length
 * and the payload; control frames start with a zero length ("escape"), then their own
 * length, a 32-bit type and fields (only CONTENT_TYPE is defined). On a socket the writer
 * and reader shake hands: READY (writer) → ACCEPT (reader) → START (writer), data, then
 * STOP (writer) → FINISH (reader).
 */
export const ControlType = { ACCEPT: 1, START: 2, STOP: 3, READY: 4, FINISH: 5 } as const;
export type ControlType = (typeof ControlType)[keyof typeof ControlType];

const FIELD_CONTENT_TYPE = 1;
/** The largest control frame a reader must accept (fstrm's limit); a larger one means garbage. */
const MAX_CONTROL_LENGTH = 512;

export interface ControlFrame {
  type: number;
  contentTypes: string[];
  /** Bytes the frame took, escape and length included. */
  size: number;
}

/** A control frame of `type` naming `contentTypes`. */
export function controlFrame(type: ControlType, contentTypes: readonly string[] = []): Buffer {
  const fields = contentTypes.map((text) => Buffer.from(text, 'utf8'));
  const length = 4 + fields.reduce((total, field) => total + 8 + field.length, 0);
  const frame = Buffer.alloc(8 + length);
  frame.writeUInt32BE(0, 0);
  frame.writeUInt32BE(length, 4);
  frame.writeUInt32BE(type, 8);
  let at = 12;
  for (const field of fields) {
    frame.writeUInt32BE(FIELD_CONTENT_TYPE, at);
    frame.writeUInt32BE(field.length, at + 4);
    field.copy(frame, at + 8);
    at += 8 + field.length;
  }
  return frame;
}

/** The control frame at the start of `bytes`, or null while it is incomplete. Throws on anything else. */
export function readControlFrame(bytes: Buffer): ControlFrame | null {
  if (bytes.length < 8) return null;
  if (bytes.readUInt32BE(0) !== 0) throw new Error('expected a control frame, got data');
  const length = bytes.readUInt32BE(4);
  if (length < 4 || length > MAX_CONTROL_LENGTH) throw new Error(`control frame of ${length} bytes`);
  if (bytes.length < 8 + length) return null;
  const end = 8 + length;
  const contentTypes: string[] = [];
  let at = 12;
  while (at < end) {
    if (at + 8 > end) throw new Error('control field cut short');
    const fieldType = bytes.readUInt32BE(at);
    const fieldLength = bytes.readUInt32BE(at + 4);
    if (at + 8 + fieldLength > end) throw new Error('control field longer than its frame');
    if (fieldType === FIELD_CONTENT_TYPE) contentTypes.push(bytes.toString('utf8', at + 8, at + 8 + fieldLength));
    at += 8 + fieldLength;
  }
  return { type: bytes.readUInt32BE(8), contentTypes, size: end };
}
