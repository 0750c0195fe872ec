import type { DetectionEvent } from '../events/detection-event.js';
import { isAlert } from './ecs.js';

const APP_NAME = 'wachtpost';
/**
 * SD-ID of the structured-data element. 32473 is the private enterprise number RFC 5612
 * reserves for documentation; receivers treat the element as opaque either way.
 */
const SD_ID = 'wachtpost@32473';

const WARNING = 4;
const NOTICE = 5;
const INFORMATIONAL = 6;
/** MSG is UTF-8 and says so (RFC 5424 §6.4). */
const BOM = '\uFEFF';

/** Warning for what an analyst must see, notice for flagged but allowed, informational otherwise. */
function severityOf(event: DetectionEvent): number {
  if (isAlert(event)) return WARNING;
  return event.action === 'monitor' || event.action === 'exempt' ? NOTICE : INFORMATIONAL;
}

/**
 * One RFC 5424 message: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] BOM MSG`, with
 * the event kind as MSGID, id, action and rule as structured data (so a receiver that cuts
 * the message still knows which event it was) and the ECS JSON as MSG.
 */
export function syslogMessage(event: DetectionEvent, json: string, facility: number): Buffer {
  const params = [`id="${event.id}"`, `action="${escapeParamValue(event.action)}"`];
  if (event.rule !== null) params.push(`rule="${escapeParamValue(event.rule)}"`);
  const header = [
    `<${facility * 8 + severityOf(event)}>1`,
    new Date(event.ts).toISOString(),
    headerField(event.instance, 255),
    APP_NAME,
    String(process.pid),
    headerField(event.kind, 32),
    `[${SD_ID} ${params.join(' ')}]`,
  ].join(' ');
  return Buffer.from(`${header} ${BOM}${json}`, 'utf8');
}

/** PARAM-VALUE escaping (RFC 5424 §6.3.3): '"', '\' and ']' get a backslash. */
export function escapeParamValue(value: string): string {
  return value.replace(/["\\\]]/g, '\\$&');
}

/** Octet-counting framing for TCP (RFC 6587 §3.4.1): "LEN SP MSG", LEN in octets. */
export function octetCounted(message: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${message.length} `, 'ascii'), message]);
}

/** A header field is 1..max printable US-ASCII characters, or "-" (NILVALUE). */
function headerField(value: string, max: number): string {
  const printable = value.replace(/[^\x21-\x7e]/g, '_').slice(0, max);
  return printable === '' ? '-' : printable;
}
