import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { strictIp } from '../config/address.js';
import { DEVICE_EXPECTED, isServerName, parseDeviceId } from '../pipeline/device-id.js';
import { COMMAND_HELP } from './help.js';
import { androidPolicy, appleProfile, isMdmVariable, type ProfileRequest } from './mdm-profiles.js';
import { CommandError, parseCommand, UsageError } from './usage.js';

const USAGE = COMMAND_HELP.profile.usage;
const PLATFORMS = ['apple', 'android'] as const;
type Platform = (typeof PLATFORMS)[number];

function isPlatform(name: string): name is Platform {
  return (PLATFORMS as readonly string[]).includes(name);
}

/** The devices of an MDM export: the `column` of every row, each checked; every bad row reported as FILE:LINE. */
export function devicesFromCsv(text: string, file: string, column: string): string[] {
  let rows: { record: Record<string, string>; line: number }[];
  try {
    rows = (parseCsv(text, { columns: true, skip_empty_lines: true, bom: true, trim: true, info: true }) as { record: Record<string, string>; info: { lines: number } }[]).map(
      ({ record, info }) => ({ record, line: info.lines }),
    );
  } catch (error) {
    throw new CommandError(`${file}: not a CSV file: ${(error as Error).message}`);
  }
  if (rows.length === 0) throw new CommandError(`${file}: no rows below the header`);
  if (!Object.hasOwn(rows[0]!.record, column)) throw new CommandError(`${file}:1: no column "${column}" (columns: ${Object.keys(rows[0]!.record).join(', ')})`);
  const problems: string[] = [];
  const seen = new Map<string, number>();
  const devices: string[] = [];
  for (const { record, line } of rows) {
    const raw = record[column] ?? '';
    const device = parseDeviceId(raw);
    if (device === null) {
      problems.push(`${file}:${line}: "${raw.slice(0, 64)}" is not ${DEVICE_EXPECTED}`);
    } else if (seen.has(device)) {
      problems.push(`${file}:${line}: device "${device}" again (first on line ${seen.get(device)})`);
    } else {
      seen.set(device, line);
      devices.push(device);
    }
  }
  if (problems.length > 0) throw new CommandError(problems.join('\n'));
  return devices;
}

function render(platform: Platform, request: ProfileRequest): string {
  if (platform === 'apple') return appleProfile(request);
  return `${JSON.stringify(androidPolicy(request), null, 2)}\n`;
}

/** `wachtpost profile apple|android`: encrypted-DNS settings for one device or an MDM export. */
export function profileCommand(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): number {
  try {
    const written = writeProfiles(argv, out);
    if (written !== null) err.write(`${written.count} ${written.platform} profiles written to ${written.dir}\n`);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      err.write(`${error.message}\n${USAGE}\n`);
      return 2;
    }
    // A CSV row without a usable device, or a file that cannot be read or written.
    if (error instanceof CommandError || typeof (error as NodeJS.ErrnoException).syscall === 'string') {
      err.write(`${(error as Error).message}\n`);
      return 1;
    }
    throw error;
  }
}

/** Writes one profile (to `out` or -o FILE) and returns null, or one per CSV row into --out DIR. */
function writeProfiles(argv: string[], out: NodeJS.WritableStream): { count: number; platform: Platform; dir: string } | null {
  const { values, positionals } = parseCommand(argv, {
    server: { type: 'string' },
    device: { type: 'string' },
    'device-variable': { type: 'string' },
    csv: { type: 'string' },
    column: { type: 'string', default: 'device' },
    out: { type: 'string' },
    dot: { type: 'boolean', default: false },
    organisation: { type: 'string' },
    address: { type: 'string', multiple: true, default: [] },
    output: { type: 'string', short: 'o' },
  });
  const [platform, ...extra] = positionals;
  if (platform === undefined) throw new UsageError('apple or android is needed');
  if (!isPlatform(platform)) throw new UsageError(`"${platform}" is neither apple nor android`);
  if (extra.length > 0) throw new UsageError(`unexpected "${extra.join(' ')}"`);
  const server = values.server;
  if (server === undefined || !isServerName(server)) throw new UsageError(`--server needs a host name such as dns.example.nl${server === undefined ? '' : `, not "${server}"`}`);
  for (const address of values.address) {
    try {
      strictIp(address);
    } catch (error) {
      throw new UsageError(`--address: ${(error as Error).message}`);
    }
  }
  if (platform === 'android' && (values.dot || values.organisation !== undefined || values.address.length > 0)) {
    throw new UsageError('--dot, --organisation and --address are for apple profiles; Android Private DNS is always DNS over TLS');
  }
  const base = { server, protocol: values.dot ? 'dot' : 'doh', organisation: values.organisation ?? server, addresses: values.address } as const;
  const variable = values['device-variable'];
  if ([values.device, variable, values.csv].filter((value) => value !== undefined).length !== 1) {
    throw new UsageError('give one of --device ID, --device-variable VARIABLE or --csv FILE');
  }
  if (variable !== undefined) {
    if (platform !== 'apple') throw new UsageError('--device-variable is for apple profiles; the Android Management API takes no per-device variables');
    if (!isMdmVariable(variable)) throw new UsageError(`--device-variable "${variable.slice(0, 64)}" is not an MDM variable such as {{serialnumber}} or {DeviceSerialNumber}`);
  }
  const single = values.device ?? variable;
  if (single !== undefined) {
    if (values.out !== undefined) throw new UsageError('--out is for --csv; write one profile with -o FILE');
    const device = variable ?? parseDeviceId(single);
    if (device === null) throw new UsageError(`--device "${single.slice(0, 64)}" is not ${DEVICE_EXPECTED}`);
    const text = render(platform, { ...base, device });
    if (values.output === undefined) out.write(text);
    else writeFileSync(values.output, text);
    return null;
  }
  if (values.out === undefined || values.output !== undefined) throw new UsageError('--csv writes one file per device into --out DIR (not -o)');
  const file = values.csv!;
  const devices = devicesFromCsv(readFileSync(file, 'utf8'), file, values.column);
  mkdirSync(values.out, { recursive: true });
  const extension = platform === 'apple' ? 'mobileconfig' : 'json';
  for (const device of devices) writeFileSync(join(values.out, `${device}.${extension}`), render(platform, { ...base, device }));
  return { count: devices.length, platform, dir: values.out };
}
