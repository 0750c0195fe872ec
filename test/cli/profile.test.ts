import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import plist from 'plist';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wachtpost-profile-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

type Plist = Record<string, unknown> & { PayloadContent: Record<string, unknown>[] };
const UUID = /^[0-9A-F]{8}-[0-9A-F]{4}-5[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$/;

describe('wachtpost profile apple', () => {
  it('writes a .mobileconfig whose plist holds a DoH dnsSettings payload with the device in the path', async () => {
    const { code, stdout } = await runCli(['profile', 'apple', '--device', 'iPad-12', '--server', 'dns.example.nl', '--organisation', 'Ministerie van X']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<!DOCTYPE plist/);
    const profile = plist.parse(stdout) as Plist;
    expect(profile).toMatchObject({
      PayloadType: 'Configuration',
      PayloadVersion: 1,
      PayloadIdentifier: 'nl.example.dns.wachtpost.ipad-12',
      PayloadOrganization: 'Ministerie van X',
      PayloadDisplayName: 'Wachtpost DNS (ipad-12)',
    });
    expect(profile.PayloadContent).toHaveLength(1);
    const payload = profile.PayloadContent[0]!;
    expect(payload).toEqual({
      PayloadType: 'com.apple.dnsSettings.managed',
      PayloadVersion: 1,
      PayloadIdentifier: 'nl.example.dns.wachtpost.ipad-12.dns',
      PayloadUUID: expect.stringMatching(UUID),
      PayloadDisplayName: 'Wachtpost DNS',
      DNSSettings: { DNSProtocol: 'HTTPS', ServerURL: 'https://dns.example.nl/dns-query/ipad-12' },
      ProhibitDisablement: true,
    });
    expect(profile.PayloadUUID).toMatch(UUID);
    expect(profile.PayloadUUID).not.toBe(payload.PayloadUUID);
  });

  it('gives the same UUIDs for the same device and server, other ones for another device', async () => {
    const uuids = async (device: string) => {
      const profile = plist.parse((await runCli(['profile', 'apple', '--device', device, '--server', 'dns.example.nl'])).stdout) as Plist;
      return [profile.PayloadUUID, profile.PayloadContent[0]!.PayloadUUID];
    };
    const first = await uuids('phone-1');
    expect(await uuids('phone-1')).toEqual(first);
    expect((await uuids('phone-2'))[0]).not.toBe(first[0]);
  });

  it('writes DoT with the device as the first label of ServerName, with server addresses, to a file', async () => {
    const file = join(dir, 'phone-7.mobileconfig');
    const { code, stdout } = await runCli(['profile', 'apple', '--device', 'phone-7', '--server', 'dns.example.nl', '--dot', '--address', '192.0.2.53', '--address', '2001:db8::53', '-o', file]);
    expect([code, stdout]).toEqual([0, '']);
    const profile = plist.parse(await readFile(file, 'utf8')) as Plist;
    expect(profile.PayloadContent[0]!.DNSSettings).toEqual({ DNSProtocol: 'TLS', ServerName: 'phone-7.dns.example.nl', ServerAddresses: ['192.0.2.53', '2001:db8::53'] });
  });

  it('writes one profile for every device with the MDM variable where the id goes, under one identifier', async () => {
    for (const variable of ['{{serialnumber}}', '{DeviceSerialNumber}']) {
      const { code, stdout } = await runCli(['profile', 'apple', '--device-variable', variable, '--server', 'dns.example.nl']);
      expect(code).toBe(0);
      const profile = plist.parse(stdout) as Plist;
      expect(profile.PayloadIdentifier).toBe('nl.example.dns.wachtpost');
      expect(profile.PayloadContent[0]!.DNSSettings).toEqual({ DNSProtocol: 'HTTPS', ServerURL: `https://dns.example.nl/dns-query/${variable}` });
    }
  });
});

describe('wachtpost profile android', () => {
  it('prints the Android Management API Private DNS policy and the hostname to set', async () => {
    const { code, stdout } = await runCli(['profile', 'android', '--device', 'Phone-23', '--server', 'dns.example.nl']);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({
      hostname: 'phone-23.dns.example.nl',
      policy: { deviceConnectivityManagement: { privateDnsSettings: { privateDnsMode: 'PRIVATE_DNS_SPECIFIED_HOST', privateDnsHost: 'phone-23.dns.example.nl' } } },
    });
  });
});

describe('wachtpost profile --csv', () => {
  it('writes one profile per row of an MDM export, quoted fields and a BOM included', async () => {
    const csv = join(dir, 'export.csv');
    await writeFile(csv, '\ufeffDevice name,device,"Primary user, e-mail"\n"Anna\'s phone",nl-0001,"anna@example.nl"\n"Bert, iPad",NL-0002,bert@example.nl\n');
    const out = join(dir, 'apple');
    const apple = await runCli(['profile', 'apple', '--csv', csv, '--server', 'dns.example.nl', '--out', out]);
    expect([apple.code, apple.stderr]).toEqual([0, `2 apple profiles written to ${out}\n`]);
    expect((await readdir(out)).sort()).toEqual(['nl-0001.mobileconfig', 'nl-0002.mobileconfig']);
    const second = plist.parse(await readFile(join(out, 'nl-0002.mobileconfig'), 'utf8')) as Plist;
    expect(second.PayloadContent[0]!.DNSSettings).toEqual({ DNSProtocol: 'HTTPS', ServerURL: 'https://dns.example.nl/dns-query/nl-0002' });
    const android = await runCli(['profile', 'android', '--csv', csv, '--column', 'device', '--server', 'dns.example.nl', '--out', join(dir, 'android')]);
    expect(android.code).toBe(0);
    expect(JSON.parse(await readFile(join(dir, 'android', 'nl-0001.json'), 'utf8')).hostname).toBe('nl-0001.dns.example.nl');
  });

  it('reports every bad row by line and writes nothing', async () => {
    const csv = join(dir, 'bad.csv');
    await writeFile(csv, 'device,user\nphone-1,a\nphone_2,b\n,c\nPHONE-1,d\n');
    const out = join(dir, 'none');
    const { code, stderr } = await runCli(['profile', 'apple', '--csv', csv, '--server', 'dns.example.nl', '--out', out]);
    expect(code).toBe(1);
    expect(stderr.trim().split('\n')).toEqual([
      `${csv}:3: "phone_2" is not a device id: 1-63 letters, digits or inner hyphens`,
      `${csv}:4: "" is not a device id: 1-63 letters, digits or inner hyphens`,
      `${csv}:5: device "phone-1" again (first on line 2)`,
    ]);
    await expect(readdir(out)).rejects.toThrow(/ENOENT/);
    const column = await runCli(['profile', 'apple', '--csv', csv, '--column', 'serial', '--server', 'dns.example.nl', '--out', out]);
    expect([column.code, column.stderr]).toEqual([1, `${csv}:1: no column "serial" (columns: device, user)\n`]);
    const missing = await runCli(['profile', 'apple', '--csv', join(dir, 'missing.csv'), '--server', 'dns.example.nl', '--out', out]);
    expect([missing.code, missing.stderr]).toEqual([1, `ENOENT: no such file or directory, open '${join(dir, 'missing.csv')}'\n`]);
  });
});

describe('wachtpost profile refuses', () => {
  it.each([
    [['profile'], /apple or android is needed/],
    [['profile', 'windows', '--device', 'a', '--server', 'dns.example.nl'], /"windows" is neither apple nor android/],
    [['profile', 'apple', '--device', 'a'], /--server needs a host name/],
    [['profile', 'apple', '--device', 'a', '--server', 'localhost'], /--server needs a host name such as dns.example.nl, not "localhost"/],
    [['profile', 'apple', '--device', 'bad_id', '--server', 'dns.example.nl'], /--device "bad_id" is not a device id/],
    [['profile', 'apple', '--server', 'dns.example.nl'], /give one of --device ID, --device-variable VARIABLE or --csv FILE/],
    [['profile', 'apple', '--device-variable', '$(id)', '--server', 'dns.example.nl'], /is not an MDM variable/],
    [['profile', 'android', '--device-variable', '{{serialnumber}}', '--server', 'dns.example.nl'], /for apple profiles/],
    [['profile', 'apple', '--device', 'a', '--server', 'dns.example.nl', '--address', '010.0.0.1'], /--address: /],
    [['profile', 'android', '--device', 'a', '--server', 'dns.example.nl', '--dot'], /for apple profiles/],
    [['profile', 'apple', '--device', 'a', '--server', 'dns.example.nl', '--bogus'], /Unknown option '--bogus'/],
    [['profile', 'apple', 'extra', '--device', 'a', '--server', 'dns.example.nl'], /unexpected "extra"/],
  ])('%j with one line, the usage and exit code 2', async (args, message) => {
    const { code, stdout, stderr } = await runCli(args);
    expect([code, stdout]).toEqual([2, '']);
    expect(stderr).toMatch(message);
    expect(stderr).toContain('usage: wachtpost profile');
  });
});
