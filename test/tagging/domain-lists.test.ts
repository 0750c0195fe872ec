import { describe, expect, it } from 'vitest';
import { parseDomainList } from '../../src/tagging/domain-lists.js';

const names = (text: string) => parseDomainList(text).names.map((entry) => `${entry.line}:${entry.name}`);
const problems = (text: string) => parseDomainList(text).problems.map((problem) => `${problem.line}: ${problem.message}`);

describe('hosts files', () => {
  const HOSTS = [
    '# blocked hosts',
    '127.0.0.1 localhost localhost.localdomain',
    '::1 ip6-localhost ip6-loopback',
    '0.0.0.0 ads.example.com tracker.example.net   # two names',
    '127.0.0.1\tUpper.Example.ORG.',
    ':: v6.example.com',
    '192.168.1.10 printer.example',
    '0.0.0.0 10.0.0.1',
    '0.0.0.0',
    '0.0.0.0 intranet',
  ].join('\n');

  it('take every name mapped to a sink address, skipping the machine’s own names', () => {
    expect(names(HOSTS)).toEqual(['4:ads.example.com', '4:tracker.example.net', '5:upper.example.org', '6:v6.example.com']);
    expect(parseDomainList(HOSTS).skipped).toBe(4);
    expect(parseDomainList(HOSTS).format).toBe('lines');
  });

  it('refuse real addresses, IP literals and single labels, by line', () => {
    expect(problems(HOSTS)).toEqual([
      '7: maps names to 192.168.1.10, a real address: a hosts entry that blocks points at 0.0.0.0, 127.0.0.1, :: or ::1',
      '8: "10.0.0.1" is an IP address, not a name',
      '9: "0.0.0.0" is an IP address, not a name',
      '10: "intranet" is a top-level domain: a rule for it would flag every name under it',
    ]);
  });
});

describe('plain domain lists', () => {
  const DOMAINS = ['example.com', '*.wild.example', 'mid.*.example', '1.2.3.4', 'bad-.example', 'com', 'two words', 'bücher.example', '_dmarc.example.org', 'x'.repeat(64) + '.example'].join(
    '\r\n',
  );

  it('take one name per line; a leading *. is the name itself; international names in ASCII', () => {
    expect(names(DOMAINS)).toEqual(['1:example.com', '2:wild.example', '8:xn--bcher-kva.example', '9:_dmarc.example.org']);
  });

  it('refuse wildcards in the middle, IP literals, bad labels, top-level domains and extra words', () => {
    expect(problems(DOMAINS)).toEqual([
      '3: "mid.*.example" has a wildcard other than a leading "*.": rules cover a name and every name below it',
      '4: "1.2.3.4" is an IP address, not a name',
      '5: "bad-.example" is not a valid host name',
      '6: "com" is a top-level domain: a rule for it would flag every name under it',
      '7: "two words": one name per line, or a hosts entry (ADDRESS NAME...)',
      `10: "${'x'.repeat(64)}.example" is not a valid host name`,
    ]);
  });
});

describe('AdGuard-style lists', () => {
  const ADGUARD = [
    '! Title: test list',
    '[Adblock Plus 2.0]',
    '||ads.example^',
    '||ads2.example^$important',
    '||third.example^$third-party',
    '||typed.example^$dnstype=AAAA,important',
    '@@||allowed.example^',
    '/ads[0-9]+\\.example/',
    'example.com##.banner',
    '||noanchor.example',
    '|single.example^',
    '||*.wild.example^|',
    '||mid.*.example^',
    '0.0.0.0 hosts-style.example',
  ].join('\n');

  it('take ||name^ rules (with $important), and hosts or domain lines among them', () => {
    expect(names(ADGUARD)).toEqual(['3:ads.example', '4:ads2.example', '12:wild.example', '14:hosts-style.example']);
  });

  it('refuse modifiers that narrow a rule, exceptions, regular expressions and other syntax', () => {
    expect(problems(ADGUARD)).toEqual([
      '5: modifier $third-party narrows the rule (to some clients, types or apps); catalogue rules cover every query: drop the line or the modifier',
      '6: modifier $dnstype=AAAA narrows the rule (to some clients, types or apps); catalogue rules cover every query: drop the line or the modifier',
      '7: an exception rule (@@): the catalogue lists what to flag, not what to let through',
      '8: a regular-expression rule: write a pattern rule in the local rules file instead',
      '9: a cosmetic (element hiding) rule: it names no DNS traffic',
      '10: "||noanchor.example" is not a domain rule of the form ||name^',
      '11: "|single.example^" is not a domain rule of the form ||name^',
      '13: "mid.*.example" has a wildcard other than a leading "*.": rules cover a name and every name below it',
    ]);
  });
});

describe('RPZ zones', () => {
  const RPZ = [
    '$ORIGIN rpz.example.',
    '$TTL 1h',
    '@        IN SOA ns.rpz.example. hostmaster.rpz.example. ( 2026120301 3600',
    '                  600 86400 60 ) ; serial, refresh; retry, expire, minimum',
    '@        IN NS  ns',
    'tiktokv.com        CNAME .',
    '*.tiktokv.com      CNAME .',
    'byteoversea.com.rpz.example. 300 IN CNAME *.',
    '         IN A 0.0.0.0',
    'drop.example       CNAME rpz-drop.',
    'walled.example     CNAME garden.example.org.',
    'allowed.example    CNAME rpz-passthru.',
    '32.1.0.0.10.rpz-ip CNAME .',
    'outside.example.   CNAME .',
    'mid.*.example      CNAME .',
    '$INCLUDE more.zone',
    '*                  CNAME .',
    '@                  A 192.0.2.1',
  ].join('\n');

  it('take every query-name trigger, relative or absolute, with wildcards as the name itself', () => {
    const parsed = parseDomainList(RPZ);
    expect(parsed.format).toBe('rpz');
    expect(names(RPZ)).toEqual([
      '6:tiktokv.com',
      '7:tiktokv.com',
      '8:byteoversea.com',
      '9:byteoversea.com',
      '10:drop.example',
      '11:walled.example',
    ]);
  });

  it('refuse exceptions, other triggers, names outside the zone, bad wildcards and $INCLUDE, by line', () => {
    expect(problems(RPZ)).toEqual([
      '12: an exception (rpz-passthru): the catalogue lists what to flag, not what to let through',
      '13: an rpz-ip trigger: only query-name triggers can become rules',
      '14: outside.example. is outside the zone rpz.example.',
      '15: "mid.*.example" has a wildcard other than a leading "*.": rules cover a name and every name below it',
      '16: $INCLUDE is not supported: give every file of the zone to the import',
      '17: a wildcard for every name',
      "18: a A record at the zone's apex would apply to every name",
    ]);
  });

  it('reads a zone without $ORIGIN from its SOA, and a fragment without either as absolute names', () => {
    expect(names('block.test. 60 IN SOA ns. host. 1 2 3 4 5\nads.example.block.test. CNAME .\nads2.example CNAME .\n')).toEqual(['2:ads.example', '3:ads2.example']);
    expect(names('ads.example. CNAME .\n; only a comment\n')).toEqual(['1:ads.example']);
    expect(problems('x.example CNAME . (\n')).toEqual(['1: a "(" that is never closed']);
  });
});
