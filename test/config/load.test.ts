import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { publishedSchema } from '../../src/config/published-schema.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const UPSTREAM = { upstream: ['127.0.0.1:5300'] };

function problemsOf(text: string, overrides = UPSTREAM): ConfigError['problems'] {
  try {
    loadConfig({ text, overrides });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected the configuration to be rejected');
}

describe('loadConfig', () => {
  it('fills every default for an empty file', () => {
    const config = loadConfig({ text: '', overrides: UPSTREAM });
    expect(config.dns.listen).toEqual(['127.0.0.1:5353']);
    expect(config.dns.udp_size).toBe(1232);
    expect(config.upstream.timeout_ms).toBe(2000);
    expect(config.access.allow).toEqual(['127.0.0.0/8', '::1/128']);
    expect(config.http.listen).toBe('127.0.0.1:8080');
    expect(config.mode).toBe('monitor');
    expect(config.cache.serve_stale.answer_ttl).toBe(30);
  });

  it('reports every problem with its field and line', () => {
    const problems = problemsOf(['mode: monitor', 'dns:', '  workers: 1', '  udp_size: 99999', 'cache:', '  max_entries: 10', '  max_tll: 5', ''].join('\n'));
    expect(problems).toContainEqual(expect.objectContaining({ path: 'dns.udp_size', line: 4 }));
    expect(problems).toContainEqual(expect.objectContaining({ path: 'cache.max_tll', line: 7, message: 'unknown setting "max_tll"' }));
    expect(problems).toHaveLength(2);
  });

  it('reports YAML syntax errors with their line', () => {
    const problems = problemsOf('dns:\n  listen: [\n');
    expect(problems[0]!.line).toBeGreaterThanOrEqual(2);
    expect(problems[0]!.message).toMatch(/^YAML/);
  });

  it('checks addresses, ranges and relations the schema cannot', () => {
    const problems = problemsOf(
      ['access:', '  allow: ["10.0.0.0/33"]', 'dns:', '  listen: ["localhost:53"]', 'cache:', '  min_ttl: 600', '  max_ttl: 60', ''].join('\n'),
    );
    expect(problems.map((problem) => [problem.path, problem.line])).toEqual(
      expect.arrayContaining([
        ['access.allow.0', 2],
        ['dns.listen.0', 4],
        ['cache.min_ttl', 6],
      ]),
    );
  });

  it('checks RADIUS accounting strictly: its address, the concentrators, the secret file and the identity attribute', () => {
    const problems = problemsOf(
      [
        'identity:',
        '  radius:',
        '    listen: "010.64.0.53:1813"',
        '    clients: ["10.64.0.1", "10.64.0.0/10"]',
        '    secret_file: /nonexistent/radius.secret',
        '    identity_attribute: Framed-IP-Address',
        '',
      ].join('\n'),
    );
    expect(problems.map((problem) => [problem.path, problem.line])).toEqual(
      expect.arrayContaining([
        ['identity.radius.listen', 3],
        ['identity.radius.clients.0', 4],
        ['identity.radius.secret_file', 5],
        ['identity.radius.identity_attribute', 6],
      ]),
    );
    expect(problemsOf('identity:\n  radius:\n    follow: true\n').map((problem) => [problem.path, problem.line, problem.message])).toEqual([
      ['identity.radius.follow', 3, 'needs redis.url: the sessions of other instances come through Redis'],
    ]);
    const config = loadConfig({ text: 'identity: { radius: { listen: "[::1]" } }\n', overrides: { ...UPSTREAM, radiusAcct: '127.0.0.1:11813' } });
    expect(config.identity.radius).toMatchObject({ listen: '127.0.0.1:11813', identity_attribute: 'User-Name', max_sessions: 200_000, session_timeout_s: 7200 });
  });

  it('checks the SIEM target and the Redis URL before anything connects', () => {
    const problems = problemsOf(['siem:', '  syslog:', '    target: "logs.example.nl:514"', 'redis:', '  url: "localhost:6379"', ''].join('\n'));
    expect(problems.map((problem) => [problem.path, problem.line])).toEqual([
      ['siem.syslog.target', 3],
      ['redis.url', 5],
    ]);
    expect(() => loadConfig({ text: 'siem: { syslog: { target: "[::1]:6514" } }\nredis: { url: "rediss://redis.internal:6380" }\n', overrides: UPSTREAM })).not.toThrow();
  });

  it('lets flags override the file, and blames flags for their own mistakes', () => {
    const config = loadConfig({ text: 'mode: monitor\ndns:\n  workers: 4\n', overrides: { ...UPSTREAM, mode: 'enforce', workers: 2 } });
    expect(config.mode).toBe('enforce');
    expect(config.dns.workers).toBe(2);
    const problems = problemsOf('', { ...UPSTREAM, listen: ['nonsense'] } as never);
    expect(problems[0]).toMatchObject({ path: 'dns.listen.0', message: expect.stringContaining('command line') });
    expect(problems[0]!.line).toBeUndefined();
  });

  it('returns a frozen configuration', () => {
    const config = loadConfig({ text: '', overrides: UPSTREAM });
    expect(Object.isFrozen(config.dns.listen)).toBe(true);
    expect(() => ((config.dns as { udp_size: number }).udp_size = 1)).toThrow();
  });

  it('takes upstreams from resolv.conf when none are configured', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wachtpost-resolv-'));
    const resolvConf = join(dir, 'resolv.conf');
    await writeFile(resolvConf, '# comment\nsearch example.nl\nnameserver 192.0.2.1\nnameserver 2001:db8::53 # v6\nnameserver fe80::1%eth0\n');
    expect(loadConfig({ text: '', resolvConfPath: resolvConf }).upstream.servers).toEqual(['192.0.2.1:53', '[2001:db8::53]:53']);
    await writeFile(resolvConf, 'search example.nl\n');
    expect(() => loadConfig({ text: '', resolvConfPath: resolvConf })).toThrow(/no usable nameserver/);
  });
});

describe('shipped configuration', () => {
  it('deploy/wachtpost.example.yaml is valid', () => {
    expect(() => loadConfig({ file: join(ROOT, 'deploy/wachtpost.example.yaml') })).not.toThrow();
  });

  it('every YAML example in the README is valid', async () => {
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
    const blocks = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((match) => match[1]!);
    expect(blocks.length).toBeGreaterThan(0);
    for (const text of blocks) expect(() => loadConfig({ text, overrides: UPSTREAM })).not.toThrow();
  });

  it('deploy/wachtpost.schema.json is the schema the code publishes', async () => {
    expect(await readFile(join(ROOT, 'deploy/wachtpost.schema.json'), 'utf8')).toBe(publishedSchema());
  });
});

describe('encrypted DNS settings', () => {
  it('need a certificate and key for any DoT or DoH address, and check names, devices and proxies strictly', () => {
    const problems = problemsOf(
      ['encrypted:', '  dot: ["127.0.0.1:853"]', '  server_name: "dns..example.nl"', '  trusted_proxies: ["10.0.0.1"]', 'access:', '  devices: ["phone_*"]', ''].join('\n'),
    );
    expect(problems.map((problem) => problem.path)).toEqual(
      expect.arrayContaining(['encrypted.tls_cert', 'encrypted.tls_key', 'encrypted.server_name', 'encrypted.trusted_proxies.0', 'access.devices']),
    );
  });

  it('take the listeners and files from the command line too', () => {
    const config = loadConfig({ text: '', overrides: { ...UPSTREAM, dot: ['127.0.0.1:8853'], doh: ['[::1]:8443'], tlsCert: '/c.pem', tlsKey: '/k.pem' } });
    expect(config.encrypted).toMatchObject({ dot: ['127.0.0.1:8853'], doh: ['[::1]:8443'], tls_cert: '/c.pem', tls_key: '/k.pem', unadmitted: 'refuse' });
  });

});

describe('upstream servers', () => {
  it('take plain, tls:// and https:// servers, and refuse anything that could be read two ways', async () => {
    const { parseUpstreamTarget } = await import('../../src/config/upstream-target.js');
    expect(parseUpstreamTarget('192.0.2.1')).toMatchObject({ kind: 'plain', host: '192.0.2.1', port: 53 });
    expect(parseUpstreamTarget('tls://192.0.2.1#dns.Example.nl')).toMatchObject({ kind: 'dot', port: 853, name: 'dns.example.nl' });
    expect(parseUpstreamTarget('tls://[2001:db8::1]:8853')).toMatchObject({ kind: 'dot', host: '2001:db8::1', port: 8853, name: '2001:db8::1' });
    expect(parseUpstreamTarget('https://192.0.2.1')).toMatchObject({ kind: 'doh', port: 443, path: '/dns-query', name: '192.0.2.1' });
    expect(parseUpstreamTarget('https://192.0.2.1:8443/resolve#dns.example.nl')).toMatchObject({ kind: 'doh', port: 8443, path: '/resolve', name: 'dns.example.nl' });
    for (const bad of ['tls://dns.example.nl', 'tls://192.0.2.1/x', 'https://192.0.2.1/{?dns}', 'quic://192.0.2.1', '192.0.2.1#name', 'tls://192.0.2.1#bad_name', 'tls://010.0.0.1', 'tls://192.0.2.1:0']) {
      expect(() => parseUpstreamTarget(bad), bad).toThrow(new RegExp(bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')));
    }
    expect(problemsOf('upstream:\n  ca_file: /nonexistent/ca.pem\n').map((problem) => problem.path)).toEqual(['upstream.ca_file']);
  });
});
