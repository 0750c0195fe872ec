import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { parseDnstapTarget } from '../config/dnstap-target.js';
import { DNSTAP_CONTENT_TYPE } from './dnstap-schema.js';
import { DnstapTap } from './dnstap-tap.js';
import { FrameStreamWriter } from './frame-stream-writer.js';

/**
 * A resolver's dnstap output as configured: the tap that encodes messages and the Frame
 * Streams writer that carries them to the receiver. Each DNS worker has its own
 * connection (encoding where the bytes are, nothing crosses to the primary); dnstap
 * readers accept several connections.
 */
export class DnstapOutput {
  private constructor(
    readonly tap: DnstapTap,
    private readonly writer: FrameStreamWriter,
  ) {}

  /** Null when dnstap.target is empty. `identity` and `version` fill in the settings left empty. */
  static open(settings: Config['dnstap'], defaults: { identity: string; version: string }, log: Logger): DnstapOutput | null {
    if (settings.target === '') return null;
    const writer = new FrameStreamWriter(parseDnstapTarget(settings.target), DNSTAP_CONTENT_TYPE, settings.buffer_bytes, log.child({ component: 'dnstap' }));
    const tap = new DnstapTap(writer, {
      identity: settings.identity || defaults.identity,
      version: settings.version || defaults.version,
      messages: settings.messages,
    });
    writer.start();
    return new DnstapOutput(tap, writer);
  }

  get readings(): { sent: number; dropped: number; connects: number; connected: boolean } {
    const { sent, dropped, connects } = this.writer.counters;
    return { sent, dropped, connects, connected: this.writer.connected };
  }

  /** Sends what is buffered and ends the stream (STOP/FINISH). */
  close(): Promise<void> {
    return this.writer.close();
  }
}
