import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtemp } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { COMMAND_HELP } from '../../src/cli/help.js';
import { freePort } from '../support/ports.js';

const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const { version } = (await import('../../package.json', { with: { type: 'json' } })).default;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI to its end (bounded: killed after 30 s). */
async function wachtpost(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const child = spawn(process.execPath, [CLI, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, WACHTPOST_ADMIN_TOKEN: '', ...env },
    cwd: await mkdtemp(join(tmpdir(), 'wachtpost-cli-')),
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  clearTimeout(killer);
  return { code, stdout, stderr };
}

/** A start-up failure as an operator should see it: exit 1, one line on stderr naming the cause, no stack. */
function expectOneLine(run: Run, cause: RegExp): void {
  expect(run.code, run.stderr).toBe(1);
  const lines = run.stderr.trim().split('\n');
  expect(lines, run.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^wachtpost: cannot start: /);
  expect(lines[0]).toMatch(cause);
  expect(run.stderr + run.stdout).not.toMatch(/\n\s+at /);
}

const COMMANDS = Object.keys(COMMAND_HELP);

describe('wachtpost --version and help', { timeout: 30_000 }, () => {
  it.each([['--version'], ['-V'], ['version']])('%s prints the version from package.json', async (flag) => {
    const run = await wachtpost([flag]);
    expect(run).toMatchObject({ code: 0, stdout: `wachtpost ${version}\n`, stderr: '' });
  });

  it('help lists every command', async () => {
    const run = await wachtpost(['help']);
    expect(run.code).toBe(0);
    for (const command of COMMANDS) expect(run.stdout).toContain(`wachtpost ${command}`);
  });

  it.each(COMMANDS)('help %s and the --help flag print the same full help, exit 0', async (command) => {
    const viaHelp = await wachtpost(['help', command]);
    const viaFlag = await wachtpost([command, '--help']);
    expect(viaHelp.code).toBe(0);
    expect(viaHelp.stdout).toContain(`usage: wachtpost ${command}`);
    expect(viaHelp.stdout).toMatch(/-h, --help/);
    expect(viaFlag).toEqual(viaHelp);
  });

  it('serve --help names every flag serve takes', async () => {
    const { stdout } = await wachtpost(['serve', '-h']);
    for (const flag of ['--config', '--listen', '--upstream', '--http', '--mode', '--workers', '--dnstap', '--log-format']) expect(stdout).toContain(flag);
    expect(stdout).toMatch(/at least 16 characters/);
  });

  it('refuses unknown commands, help topics and flags with exit 2 and the usage', async () => {
    expect(await wachtpost(['frobnicate'])).toMatchObject({ code: 2, stderr: expect.stringContaining('unknown command "frobnicate"') });
    expect(await wachtpost(['help', 'frobnicate'])).toMatchObject({ code: 2 });
    const flag = await wachtpost(['serve', '--frobnicate']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain('usage: wachtpost serve');
    expect(await wachtpost(['serve', '--log-format', 'xml'])).toMatchObject({ code: 2, stderr: expect.stringContaining('--log-format') });
    expect(await wachtpost(['schema', 'extra'])).toMatchObject({ code: 2 });
    expect(await wachtpost(['token'])).toMatchObject({ code: 2, stderr: expect.stringContaining('usage: wachtpost token') });
  });
});

describe('wachtpost serve start-up errors: one line, no stack, exit 1', () => {
  const serve = async (extra: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> =>
    wachtpost(['serve', '--workers', '1', '--upstream', '127.0.0.1:9', '--listen', `127.0.0.1:${await freePort()}`, '--http', `127.0.0.1:${await freePort()}`, ...extra], env);

  it('HTTP port taken', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as net.AddressInfo;
    try {
      expectOneLine(await serve(['--http', `127.0.0.1:${port}`]), new RegExp(`HTTP on 127\\.0\\.0\\.1:${port}: the port is taken .*EADDRINUSE`));
    } finally {
      taken.close();
    }
  }, 40_000);

  it('DNS port taken (TCP, found by the worker)', async () => {
    const port = await freePort();
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(port, '127.0.0.1', resolve));
    try {
      expectOneLine(await serve(['--listen', `127.0.0.1:${port}`]), new RegExp(`DNS on 127\\.0\\.0\\.1:${port} \\(TCP\\): the port is taken`));
    } finally {
      taken.close();
    }
  }, 40_000);

  it('DNS port taken (UDP)', async () => {
    const port = await freePort();
    const taken = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => taken.bind(port, '127.0.0.1', resolve));
    try {
      expectOneLine(await serve(['--listen', `127.0.0.1:${port}`]), new RegExp(`DNS on 127\\.0\\.0\\.1:${port}.*EADDRINUSE`));
    } finally {
      taken.close();
    }
  }, 40_000);

  it('admin token too short', async () => {
    expectOneLine(await serve([], { WACHTPOST_ADMIN_TOKEN: 'short' }), /WACHTPOST_ADMIN_TOKEN must be at least 16 characters/);
  }, 40_000);

  it('unreadable configuration file', async () => {
    const run = await serve(['--config', '/nonexistent/wachtpost.yaml']);
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/\/nonexistent\/wachtpost\.yaml.*cannot read.*ENOENT/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });
});
