import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { isRegistered, registeredMetrics } from '../support/metric-names.js';

const run = promisify(execFile);
const DIR = fileURLToPath(new URL('../../deploy/prometheus/', import.meta.url));
const RULES = join(DIR, 'wachtpost-rules.yaml');

interface Rule {
  alert?: string;
  expr: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
const rules = (parse(readFileSync(RULES, 'utf8')) as { groups: Array<{ rules: Rule[] }> }).groups.flatMap((group) => group.rules);

describe('Prometheus alert rules (deploy/prometheus)', () => {
  it('pass promtool check rules', async () => {
    const { stdout } = await run('promtool', ['check', 'rules', RULES]);
    expect(stdout).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('fire as their unit tests expect (promtool test rules)', async () => {
    const { stdout } = await run('promtool', ['test', 'rules', 'wachtpost-rules.test.yaml'], { cwd: DIR });
    expect(stdout).toContain('SUCCESS');
  });

  it('cover the failures operators page on, each with a unit test that fires it', () => {
    const alerts = rules.map((rule) => rule.alert);
    for (const alert of [
      'WachtpostUpstreamDown',
      'WachtpostAllUpstreamsDown',
      'WachtpostServfailRatioHigh',
      'WachtpostEventsDropped',
      'WachtpostHistoryLagging',
      'WachtpostRedisDegraded',
      'WachtpostCacheHitRatioCollapsed',
      'WachtpostEventLoopLag',
    ]) {
      expect(alerts).toContain(alert);
    }
    const tested = readFileSync(join(DIR, 'wachtpost-rules.test.yaml'), 'utf8');
    for (const alert of alerts) expect(tested, `${alert} has no test that fires it`).toMatch(new RegExp(`alertname: ${alert}\\n\\s+exp_alerts:\\n\\s+- exp_labels`));
  });

  it('query only metrics the code registers, and say how bad and what it is', () => {
    const registered = registeredMetrics();
    for (const rule of rules) {
      for (const [metric] of rule.expr.matchAll(/\bwachtpost_[a-z0-9_]+/g)) expect(isRegistered(metric, registered), `${rule.alert}: ${metric}`).toBe(true);
      expect(['warning', 'critical']).toContain(rule.labels?.severity);
      expect(rule.annotations?.summary, rule.alert).toBeTruthy();
    }
  });
});
