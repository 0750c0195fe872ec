import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { checkConfig } from '../../src/cli/check-config.js';

function sink(): { stream: Writable; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk, _encoding, done) {
      text += String(chunk);
      done();
    },
  });
  return { stream, text: () => text };
}

async function run(yaml: string): Promise<{ code: number; out: string; err: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'wachtpost-check-'));
  const file = join(dir, 'wachtpost.yaml');
  await writeFile(file, `upstream: { servers: ["127.0.0.1:5300"] }\n${yaml}`);
  const out = sink();
  const err = sink();
  const code = await checkConfig([file], out.stream, err.stream);
  return { code, out: out.text(), err: err.text() };
}

describe('wachtpost check-config', () => {
  it('warns about secrets the environment must supply, and prints no token hash as a secret', async () => {
    const previous = [process.env.WACHTPOST_PSEUDONYM_KEY, process.env.WACHTPOST_ADMIN_TOKEN];
    delete process.env.WACHTPOST_PSEUDONYM_KEY;
    delete process.env.WACHTPOST_ADMIN_TOKEN;
    try {
      const bare = await run('privacy: { pseudonymise: true }\nidentity: { radius: { listen: "127.0.0.1:1813" } }\n');
      expect(bare.code).toBe(0);
      expect(bare.err).toContain('WACHTPOST_PSEUDONYM_KEY holds no key');
      expect(bare.err).toContain('identity.radius.listen is set but WACHTPOST_RADIUS_SECRET holds no shared secret');
      expect(bare.err).toContain('no api.tokens and no WACHTPOST_ADMIN_TOKEN');
      process.env.WACHTPOST_PSEUDONYM_KEY = 'k'.repeat(32);
      const keyed = await run(`privacy: { pseudonymise: true }\napi: { tokens: [{ name: a, role: admin, sha256: "${'0'.repeat(64)}" }] }\n`);
      expect(keyed.err).toBe('');
    } finally {
      if (previous[0] === undefined) delete process.env.WACHTPOST_PSEUDONYM_KEY;
      else process.env.WACHTPOST_PSEUDONYM_KEY = previous[0];
      if (previous[1] !== undefined) process.env.WACHTPOST_ADMIN_TOKEN = previous[1];
    }
  });

  it('prints the effective configuration of a valid file', async () => {
    const result = await run('mode: enforce\n');
    expect(result.code).toBe(0);
    expect(result.out).toContain('mode: enforce');
    expect(result.out).toContain('udp_size: 1232');
  });

  it('rejects a policy that names unknown apps or groups', async () => {
    const result = await run(
      'policy:\n  block_apps: [tiktak]\n  exemptions:\n    - { id: EX-1, group: nobody, apps: [tiktok], legal_basis: other, reason: r, approved_by: a, expires: 2099-01-01 }\n',
    );
    expect(result.code).toBe(1);
    expect(result.err).toContain('wachtpost.yaml:3: policy.block_apps.0: unknown app "tiktak"');
    expect(result.err).toContain('unknown group "nobody"');
  });

  it('warns about expired exemptions but accepts the file', async () => {
    const result = await run(
      'policy:\n  groups: [{ name: fiod, organisation: FIOD, cidrs: ["10.1.0.0/16"] }]\n  exemptions:\n    - { id: EX-OLD, group: fiod, apps: [tiktok], legal_basis: investigation, reason: r, approved_by: a, expires: 2020-01-01 }\n',
    );
    expect(result.code).toBe(0);
    expect(result.err).toContain('warning: exemption EX-OLD (group fiod) expired on 2020-01-01');
  });

  it('reports schema, address and policy problems in one pass, each with its line, in line order', async () => {
    const result = await run(
      [
        /* 2 */ 'dns: { udp_size: 99999 }',
        /* 3 */ 'access: { allow: ["010.64.0.0/10"] }',
        /* 4 */ 'policy:',
        /* 5 */ '  block_apps: [tiktak]',
        /* 6 */ '  groups: [{ name: fiod, organisation: FIOD, cidrs: ["10.1/16"] }]',
        /* 7 */ '  exemptions:',
        /* 8 */ '    - { id: EX-1, group: nobody, apps: [tiktok], legal_basis: other, reason: r, approved_by: a, expires: 2099-01-01 }',
        '',
      ].join('\n'),
    );
    expect(result.code).toBe(1);
    const lines = result.err.trim().split('\n').map((line) => line.replace(/^.*wachtpost\.yaml:/, ''));
    expect(lines).toEqual([
      '2: dns.udp_size: must be <= 4096',
      expect.stringMatching(/^3: access\.allow\.0: "010\.64\.0\.0\/10": "010\.64\.0\.0" is not an IPv4 address/),
      '5: policy.block_apps.0: unknown app "tiktak"',
      expect.stringMatching(/^6: policy\.groups\.0\.cidrs\.0: "10\.1\/16": "10\.1" is not an IPv4 address/),
      '8: policy.exemptions.0.group: exemption EX-1: unknown group "nobody"',
    ]);
  });
});

