import { describe, expect, it } from 'vitest';
import { parseHostPort, strictCidr, strictIp } from '../../src/config/address.js';
import { ConfigError, loadConfig } from '../../src/config/load.js';

describe('strictIp', () => {
  it.each(['10.64.0.0', '0.0.0.0', '255.255.255.255', '192.0.2.1'])('takes the dotted quad %s', (text) => {
    expect(strictIp(text)).toBe(4);
  });

  it.each(['::1', '::', '2001:db8::53', 'fd00:0:0:0:0:0:0:7', '::ffff:192.0.2.1', '64:ff9b::10.0.0.1'])('takes the IPv6 address %s', (text) => {
    expect(strictIp(text)).toBe(6);
  });

  // Each of these ipaddr.js (like inet_aton) reads as some address, not always the one meant.
  it.each(['010.64.0.0', '127.1', '10.1.2', '0x7f.1', '0177.0.0.1', '127.000.0.1', '2130706433', '256.1.1.1', '1.2.3.4.', ' 1.2.3.4', '1.2.3.04'])(
    'refuses the IPv4 spelling %s',
    (text) => {
      expect(() => strictIp(text)).toThrow(/is not an IPv4 address written as four decimal numbers/);
    },
  );

  it.each(['fe80::1%eth0', '::ffff:010.0.0.1', '1::2::3', '12345::1', ':::'])('refuses the IPv6 spelling %s', (text) => {
    expect(() => strictIp(text)).toThrow(/is not an IPv6 address/);
  });
});

describe('strictCidr', () => {
  it.each(['10.64.0.0/10', '0.0.0.0/0', '::1/128', '2001:db8::/32'])('takes %s', (text) => {
    expect(() => strictCidr(text)).not.toThrow();
  });

  it.each([
    ['010.64.0.0/10', /not an IPv4 address/],
    ['10.64/10', /not an IPv4 address/],
    ['10.0.0.0/010', /prefix length/],
    ['10.0.0.0/33', /prefix length/],
    ['::/129', /prefix length/],
    ['10.0.0.0', /"\/length" is missing/],
  ])('refuses %s', (text, message) => {
    expect(() => strictCidr(text)).toThrow(message);
  });
});

describe('parseHostPort', () => {
  it('refuses a short or octal host and a port with leading zeros', () => {
    expect(() => parseHostPort('127.1:53', 53)).toThrow(/host must be an IPv4 or IPv6 address/);
    expect(() => parseHostPort('[::1]:053', 53)).toThrow(/host must be an IPv4 or IPv6 address/);
    expect(() => parseHostPort('127.0.0.1:053', 53)).toThrow(/port must be a number/);
    expect(parseHostPort('[2001:db8::1]:5353', 53)).toEqual({ host: '2001:db8::1', port: 5353, family: 6 });
  });
});

describe('every configured address is written strictly', () => {
  const file = [
    /* 1 */ 'dns:',
    /* 2 */ '  listen: ["127.1:5353"]',
    /* 3 */ 'access:',
    /* 4 */ '  allow: ["010.64.0.0/10"]',
    /* 5 */ 'upstream:',
    /* 6 */ '  servers: ["0x7f.1:53"]',
    /* 7 */ 'http:',
    /* 8 */ '  listen: "127.000.0.1:8080"',
    /* 9 */ '  trusted_proxies: ["10.1/16"]',
    /* 10 */ 'policy:',
    /* 11 */ '  block_answer: sinkhole',
    /* 12 */ '  sinkhole: { ipv4: "010.0.0.9", ipv6: "fe80::1%eth0", listen: "10.1.2:8081" }',
    /* 13 */ '  groups:',
    /* 14 */ '    - { name: ministry, organisation: X, cidrs: ["10.0.0.0/8", "010.64.0.0/16"] }',
    /* 15 */ 'siem:',
    /* 16 */ '  syslog: { target: "0177.0.0.1:514" }',
    '',
  ].join('\n');

  it('reports each one with its field and line', () => {
    let problems: ConfigError['problems'] = [];
    try {
      loadConfig({ text: file });
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems = error.problems;
    }
    expect(problems.map((problem) => `${problem.line} ${problem.path}`)).toEqual([
      '2 dns.listen.0',
      '6 upstream.servers.0',
      '8 http.listen',
      '9 http.trusted_proxies.0',
      '16 siem.syslog.target',
      '4 access.allow.0',
      '14 policy.groups.0.cidrs.1',
      '12 policy.sinkhole.ipv4',
      '12 policy.sinkhole.ipv6',
      '12 policy.sinkhole.listen',
    ]);
  });

  it('says so for a flag too', () => {
    expect(() => loadConfig({ text: '', overrides: { upstream: ['127.1'] } })).toThrow('upstream.servers.0: "127.1": host must be an IPv4 or IPv6 address: "127.1" is not an IPv4 address');
    expect(() => loadConfig({ text: '', overrides: { upstream: ['127.1'] } })).toThrow('(from the command line)');
  });
});
