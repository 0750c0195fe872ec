import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, posix, relative } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import ipaddr from 'ipaddr.js';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { checkConfig } from '../../src/cli/check-config.js';
import { parseHostPort } from '../../src/config/address.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { Pseudonymiser } from '../../src/events/pseudonymiser.js';
import { ADMIN_TOKEN_ENV, Authenticator } from '../../src/http/auth.js';
import { loadSessionKeys } from '../../src/http/session-keys.js';
import { KILL_GRACE_MS } from '../../src/server/worker-pool.js';
import { isRegistered, registeredMetrics } from '../support/metric-names.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DEPLOY = join(ROOT, 'deploy');
const K8S = join(DEPLOY, 'kubernetes');
/** Only for configurations that leave upstream.servers empty (= resolv.conf of the machine they run on). */
const UPSTREAM = { upstream: ['192.0.2.53'] };

// ---------------------------------------------------------------------------------------
// Files

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesUnder(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

const read = (path: string): string => readFileSync(path, 'utf8');
const deployFiles = filesUnder(DEPLOY).map((path) => relative(DEPLOY, path).split('\\').join('/'));
const yamlFiles = deployFiles.filter((path) => /\.ya?ml$/.test(path));
const jsonFiles = deployFiles.filter((path) => path.endsWith('.json'));

/** Every document of a (multi-document) YAML file; any parse error or warning fails. */
function yamlDocuments(path: string): unknown[] {
  const documents = parseAllDocuments(read(path), { prettyErrors: true });
  if (!Array.isArray(documents)) throw new Error(`${path}: not a YAML stream`);
  return documents.map((document, i) => {
    const problems = [...document.errors, ...document.warnings];
    if (problems.length > 0) throw new Error(`${path}, document ${i + 1}: ${problems.map((p) => p.message).join('; ')}`);
    return document.toJS();
  });
}

// ---------------------------------------------------------------------------------------
// Kubernetes shapes, as far as the checks need them

type Labels = Record<string, string>;
interface Metadata {
  name: string;
  namespace?: string;
  labels?: Labels;
}
interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: Metadata;
  [field: string]: unknown;
}
interface ContainerPort {
  name?: string;
  containerPort: number;
  protocol?: string;
}
interface HttpProbe {
  httpGet?: { path: string; port: number | string };
}
interface VolumeMount {
  name: string;
  mountPath: string;
  readOnly?: boolean;
  subPath?: string;
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } };
}
interface SecurityContext {
  runAsNonRoot?: boolean;
  runAsUser?: number;
  allowPrivilegeEscalation?: boolean;
  readOnlyRootFilesystem?: boolean;
  capabilities?: { add?: string[]; drop?: string[] };
  sysctls?: Array<{ name: string; value: string }>;
}
interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  ports?: ContainerPort[];
  env?: EnvVar[];
  securityContext?: SecurityContext;
  readinessProbe?: HttpProbe;
  livenessProbe?: HttpProbe;
  startupProbe?: HttpProbe;
  lifecycle?: { preStop?: { exec?: { command: string[] }; sleep?: { seconds: number } } };
  volumeMounts?: VolumeMount[];
}
interface Volume {
  name: string;
  configMap?: { name: string; items?: Array<{ key: string; path: string }> };
  secret?: { secretName: string; items?: Array<{ key: string; path: string }> };
  emptyDir?: unknown;
  persistentVolumeClaim?: unknown;
}
interface PodSpec {
  containers: Container[];
  volumes?: Volume[];
  securityContext?: SecurityContext;
  terminationGracePeriodSeconds?: number;
  enableServiceLinks?: boolean;
  affinity?: {
    podAntiAffinity?: {
      requiredDuringSchedulingIgnoredDuringExecution?: Array<{ topologyKey: string; labelSelector: { matchLabels: Labels } }>;
      preferredDuringSchedulingIgnoredDuringExecution?: Array<{ podAffinityTerm: { topologyKey: string; labelSelector: { matchLabels: Labels } } }>;
    };
  };
}
interface Deployment extends K8sObject {
  spec: {
    replicas: number;
    selector: { matchLabels: Labels };
    strategy?: { type?: string; rollingUpdate?: { maxUnavailable?: number | string; maxSurge?: number | string } };
    template: { metadata: { labels: Labels }; spec: PodSpec };
  };
}
interface ServicePort {
  name?: string;
  port: number;
  targetPort?: number | string;
  protocol?: string;
}
interface Service extends K8sObject {
  spec: {
    type?: string;
    selector: Labels;
    ports: ServicePort[];
    externalTrafficPolicy?: string;
    loadBalancerSourceRanges?: string[];
  };
}

const kustomization = parse(read(join(K8S, 'kustomization.yaml'))) as { namespace?: string; resources: string[] };
const k8sFiles = readdirSync(K8S).filter((name) => /\.ya?ml$/.test(name) && name !== 'kustomization.yaml');
const objects: K8sObject[] = k8sFiles.flatMap((name) => yamlDocuments(join(K8S, name)) as K8sObject[]);

function one<T extends K8sObject>(kind: string, name: string): T {
  const found = objects.filter((object) => object.kind === kind && object.metadata?.name === name);
  if (found.length !== 1) throw new Error(`expected one ${kind} "${name}" under deploy/kubernetes, found ${found.length}`);
  return found[0] as T;
}

const namespaceObject = objects.find((object) => object.kind === 'Namespace')!;
const configMap = one<K8sObject & { data: Record<string, string> }>('ConfigMap', 'wachtpost-config');
const secret = one<K8sObject & { stringData?: Record<string, string>; data?: Record<string, string> }>('Secret', 'wachtpost-secrets');
const deployment = one<Deployment>('Deployment', 'wachtpost');
const pod = deployment.spec.template.spec;
const container = pod.containers.find((c) => c.name === 'wachtpost')!;
const dnsService = one<Service>('Service', 'wachtpost-dns');
const httpService = one<Service>('Service', 'wachtpost-http');

/** The `--config FILE` the container is started with (entrypoint `wachtpost`, args `serve --config FILE`). */
function configPathOf(argv: readonly string[]): string {
  const i = argv.indexOf('--config');
  if (i < 0 || argv[i + 1] === undefined) throw new Error(`no --config in ${JSON.stringify(argv)}`);
  return argv[i + 1]!;
}
const containerArgv = [...(container.command ?? []), ...(container.args ?? [])];
const configPath = configPathOf(containerArgv);
const configMount = (container.volumeMounts ?? []).find((mount) => mount.mountPath === posix.dirname(configPath));
const configVolume = pod.volumes?.find((volume) => volume.name === configMount?.name);
/** The ConfigMap key that ends up at configPath (respecting `items` remapping). */
const configKey = configVolume?.configMap?.items?.find((item) => item.path === posix.basename(configPath))?.key ?? posix.basename(configPath);
const configText = configMap.data[configKey];
const k8sConfig: Config = loadConfig({ text: configText ?? '', file: 'deploy/kubernetes/configmap.yaml' });
const httpPort = parseHostPort(k8sConfig.http.listen, 8080).port;

function containerPort(ref: number | string | undefined, protocol: string): ContainerPort | undefined {
  return (container.ports ?? []).find(
    (port) => (typeof ref === 'string' ? port.name === ref : port.containerPort === ref) && (port.protocol ?? 'TCP') === protocol,
  );
}
function probePort(probe: HttpProbe | undefined): number | undefined {
  return containerPort(probe?.httpGet?.port, 'TCP')?.containerPort;
}
function selects(selector: Labels, labels: Labels): boolean {
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}
function preStopSeconds(c: Container): number {
  const preStop = c.lifecycle?.preStop;
  if (preStop?.sleep) return preStop.sleep.seconds;
  const command = preStop?.exec?.command ?? [];
  return command[0] === 'sleep' ? Number(command[1]) : 0;
}
const isWildcard = (listen: string, defaultPort: number): boolean => ['0.0.0.0', '::'].includes(parseHostPort(listen, defaultPort).host);
const writable = (volume: Volume | undefined): boolean => volume?.emptyDir !== undefined || volume?.persistentVolumeClaim !== undefined;

// ---------------------------------------------------------------------------------------
// Container image

const containerfile = read(join(DEPLOY, 'container/Containerfile'));
/** Instructions with continuation lines joined and comments dropped. */
const instructions = containerfile
  .replace(/\\\r?\n/g, ' ')
  .split(/\r?\n/)
  .map((line) => line.trim())
  .filter((line) => line !== '' && !line.startsWith('#'))
  .map((line) => {
    const [keyword, ...rest] = line.split(/\s+/);
    return { keyword: keyword!.toUpperCase(), args: rest.join(' ') };
  });
const all = (keyword: string): string[] => instructions.filter((i) => i.keyword === keyword).map((i) => i.args);
const lastOf = (keyword: string): string => {
  const found = all(keyword);
  if (found.length === 0) throw new Error(`Containerfile has no ${keyword}`);
  return found.at(-1)!;
};
const stages = instructions.map((instruction, index) => ({ ...instruction, index })).filter((i) => i.keyword === 'FROM');
const runStageStart = stages.at(-1)?.index ?? 0;
const runStage = instructions.slice(runStageStart);
const imageConfigFile = join(DEPLOY, 'container/wachtpost.yaml');
const imageConfig = loadConfig({ text: read(imageConfigFile), file: 'deploy/container/wachtpost.yaml', overrides: UPSTREAM });
const imageHttpPort = parseHostPort(imageConfig.http.listen, 8080).port;
const packageJson = JSON.parse(read(join(ROOT, 'package.json'))) as { bin: Record<string, string> };
const binPath = packageJson.bin.wachtpost!.replace(/^\.\//, '');

// ---------------------------------------------------------------------------------------
// systemd unit

const unitText = read(join(DEPLOY, 'systemd/wachtpost.service'));
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.replace(/\\\r?\n/g, ' ').split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[(.+)\]$/.exec(line);
    if (section) {
      current = new Map();
      sections.set(section[1]!, current);
      continue;
    }
    const eq = line.indexOf('=');
    if (current === undefined || eq < 0) throw new Error(`unit: stray line "${line}"`);
    const key = line.slice(0, eq).trim();
    current.set(key, [...(current.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return sections;
}
const unit = parseUnit(unitText);
const service = unit.get('Service') ?? new Map<string, string[]>();
/** The single value of a [Service] key (a repeated key would make the first one misleading). */
function serviceValue(key: string): string {
  const values = service.get(key);
  if (values === undefined || values.length !== 1) throw new Error(`[Service] ${key}= must appear exactly once, found ${values?.length ?? 0}`);
  return values[0]!;
}
/** systemd time span in ms ("20s", "1min 30s", "20" = seconds). */
function timeSpanMs(text: string): number {
  const units: Record<string, number> = { ms: 1, s: 1000, sec: 1000, m: 60_000, min: 60_000, h: 3_600_000 };
  let total = 0;
  for (const [, value, unitName] of text.matchAll(/(\d+(?:\.\d+)?)\s*([a-z]*)/g)) {
    const factor = units[unitName || 's'];
    if (factor === undefined) throw new Error(`unknown time unit in "${text}"`);
    total += Number(value) * factor;
  }
  return total;
}
const exampleConfig = loadConfig({ text: read(join(DEPLOY, 'wachtpost.example.yaml')), file: 'deploy/wachtpost.example.yaml' });

// ---------------------------------------------------------------------------------------
// The Grafana dashboard

interface Target {
  expr?: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  panels?: Panel[];
}
interface Dashboard {
  __inputs: Array<{ name: string; type: string; pluginId: string }>;
  panels: Panel[];
  templating: { list: Array<{ datasource?: { uid?: string }; definition?: string; query?: string | { query?: string } }> };
}
const dashboard = JSON.parse(read(join(DEPLOY, 'grafana/wachtpost-dashboard.json'))) as Dashboard;
const panels = dashboard.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])]);
const queries = [
  ...panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr ?? '')),
  ...dashboard.templating.list.flatMap((variable) => [variable.definition ?? '', typeof variable.query === 'string' ? variable.query : (variable.query?.query ?? '')]),
].filter((query) => query !== '');
const queried = new Set(queries.flatMap((query) => [...query.matchAll(/\bwachtpost_[a-z0-9_]+/g)].map((match) => match[0])));

// =======================================================================================

describe('deploy/: every file parses', () => {
  it('finds the manifests, the unit, the image and the dashboard', () => {
    for (const expected of [
      'systemd/wachtpost.service',
      'container/Containerfile',
      'container/Containerfile.dockerignore',
      'kubernetes/kustomization.yaml',
      'kubernetes/deployment.yaml',
      'grafana/wachtpost-dashboard.json',
      'README.md',
    ]) {
      expect(deployFiles).toContain(expected);
    }
  });

  it.each(yamlFiles)('%s is valid YAML (every document)', (file) => {
    const documents = yamlDocuments(join(DEPLOY, file));
    expect(documents.length).toBeGreaterThan(0);
    for (const document of documents) expect(document).toBeTypeOf('object');
  });

  it.each(jsonFiles)('%s is valid JSON', (file) => {
    expect(() => JSON.parse(read(join(DEPLOY, file)))).not.toThrow();
  });

  it('the example configuration and the image configuration validate', () => {
    expect(exampleConfig.dns.listen.length).toBeGreaterThan(0);
    expect(imageConfig.history.path).not.toBe('');
  });
});

describe('Kubernetes manifests', () => {
  it('kustomization lists every manifest but the Secret template, and each exists', () => {
    const expected = k8sFiles.filter((name) => name !== 'secret.yaml').sort();
    expect([...kustomization.resources].sort()).toEqual(expected);
    expect(kustomization.resources).not.toContain('secret.yaml');
  });

  it('every object has a kind and a name, and lives in the namespace that namespace.yaml creates', () => {
    expect(namespaceObject?.metadata.name).toBeTruthy();
    expect(kustomization.namespace).toBe(namespaceObject.metadata.name);
    for (const object of objects) {
      expect(object.apiVersion, `${object.kind} ${object.metadata?.name}`).toBeTruthy();
      expect(object.metadata?.name).toBeTruthy();
      if (object.kind !== 'Namespace') expect(object.metadata.namespace, `${object.kind} ${object.metadata.name}`).toBe(namespaceObject.metadata.name);
    }
  });

  it("the ConfigMap's wachtpost.yaml validates with its own upstreams (not the cluster DNS)", () => {
    expect(configText, `ConfigMap key ${configKey}`).toBeTypeOf('string');
    expect(k8sConfig.upstream.servers.length).toBeGreaterThan(0);
    expect(parse(configText!)).toHaveProperty('upstream.servers');
  });

  it("the ConfigMap's wachtpost.yaml passes check-config (catalogue, watch list, GeoIP, policy)", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wachtpost-deploy-'));
    try {
      const file = join(dir, 'wachtpost.yaml');
      await writeFile(file, configText!);
      let err = '';
      const out = new Writable({ write: (_chunk, _encoding, done) => done() });
      const errors = new Writable({
        write(chunk, _encoding, done) {
          err += String(chunk);
          done();
        },
      });
      expect(await checkConfig([file], out, errors), err).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('runs three replicas with a zero-downtime rolling update, spread over nodes', () => {
    expect(deployment.spec.replicas).toBe(3);
    expect(selects(deployment.spec.selector.matchLabels, deployment.spec.template.metadata.labels)).toBe(true);
    expect(deployment.spec.strategy?.type ?? 'RollingUpdate').toBe('RollingUpdate');
    expect(deployment.spec.strategy?.rollingUpdate?.maxUnavailable).toBe(0);
    expect(deployment.spec.strategy?.rollingUpdate?.maxSurge).toBe(1);
    const anti = pod.affinity?.podAntiAffinity;
    const terms = [
      ...(anti?.requiredDuringSchedulingIgnoredDuringExecution ?? []),
      ...(anti?.preferredDuringSchedulingIgnoredDuringExecution ?? []).map((term) => term.podAffinityTerm),
    ];
    expect(terms.some((term) => term.topologyKey === 'kubernetes.io/hostname' && selects(term.labelSelector.matchLabels, deployment.spec.template.metadata.labels))).toBe(
      true,
    );
  });

  it('listens on every pod address: DNS and HTTP are not bound to loopback only', () => {
    expect(k8sConfig.dns.listen.some((listen) => isWildcard(listen, 53))).toBe(true);
    expect(isWildcard(k8sConfig.http.listen, 8080)).toBe(true);
  });

  it('declares container ports 53/UDP, 53/TCP for every DNS listen port and the HTTP port of the config', () => {
    for (const listen of k8sConfig.dns.listen) {
      const { port } = parseHostPort(listen, 53);
      expect(port).toBe(53);
      expect(containerPort(port, 'UDP'), `${port}/UDP`).toBeDefined();
      expect(containerPort(port, 'TCP'), `${port}/TCP`).toBeDefined();
    }
    expect(containerPort(httpPort, 'TCP'), `${httpPort}/TCP`).toBeDefined();
    expect(containerPort('http', 'TCP')?.containerPort).toBe(httpPort);
  });

  it('probes /ready for readiness and /health for liveness on the HTTP port of the config', () => {
    expect(container.readinessProbe?.httpGet?.path).toBe('/ready');
    expect(probePort(container.readinessProbe)).toBe(httpPort);
    expect(container.livenessProbe?.httpGet?.path).toBe('/health');
    expect(probePort(container.livenessProbe)).toBe(httpPort);
    if (container.startupProbe !== undefined) {
      expect(container.startupProbe.httpGet?.path).toBe('/health');
      expect(probePort(container.startupProbe)).toBe(httpPort);
    }
  });

  it('mounts the ConfigMap read-only where --config points', () => {
    expect(containerArgv[0] === 'serve' || containerArgv.includes('serve')).toBe(true);
    expect(configMount, `a mount at ${posix.dirname(configPath)}`).toBeDefined();
    expect(configMount!.readOnly).toBe(true);
    // subPath mounts never see ConfigMap updates.
    expect(configMount!.subPath).toBeUndefined();
    expect(configVolume?.configMap?.name).toBe(configMap.metadata.name);
    expect(Object.keys(configMap.data)).toContain(configKey);
  });

  it('keeps the history on a writable volume', () => {
    const path = k8sConfig.history.path;
    expect(path.startsWith('/')).toBe(true);
    const mount = (container.volumeMounts ?? []).find((m) => path.startsWith(`${m.mountPath.replace(/\/$/, '')}/`));
    expect(mount, `a volume mounted above ${path}`).toBeDefined();
    expect(mount!.readOnly ?? false).toBe(false);
    expect(writable(pod.volumes?.find((volume) => volume.name === mount!.name))).toBe(true);
  });

  it('gives a stopping pod longer than preStop pause + drain + kill grace', () => {
    const grace = (pod.terminationGracePeriodSeconds ?? 30) * 1000;
    const budget = preStopSeconds(container) * 1000 + k8sConfig.dns.drain_timeout_ms + KILL_GRACE_MS;
    expect(grace).toBeGreaterThan(k8sConfig.dns.drain_timeout_ms);
    expect(grace).toBeGreaterThan(budget);
  });

  it('runs non-root, read-only, without escalation, with NET_BIND_SERVICE and a way to bind port 53', () => {
    const sc = container.securityContext ?? {};
    expect(sc.runAsNonRoot ?? pod.securityContext?.runAsNonRoot).toBe(true);
    expect(sc.runAsUser ?? pod.securityContext?.runAsUser).toBeGreaterThan(0);
    expect(sc.readOnlyRootFilesystem).toBe(true);
    expect(sc.allowPrivilegeEscalation).toBe(false);
    expect(sc.capabilities?.drop).toEqual(['ALL']);
    expect(sc.capabilities?.add).toEqual(['NET_BIND_SERVICE']);
    // Added capabilities do not reach a non-root process; the namespaced sysctl does.
    const sysctl = pod.securityContext?.sysctls?.find((s) => s.name === 'net.ipv4.ip_unprivileged_port_start');
    expect(Number(sysctl?.value)).toBeLessThanOrEqual(53);
  });

  it('runs as the user the image declares', () => {
    const user = Number(lastOf('USER').split(':')[0]);
    expect(container.securityContext?.runAsUser ?? pod.securityContext?.runAsUser).toBe(user);
  });

  it('takes the admin token and the pseudonym key from the Secret, and no service links', () => {
    const env = new Map((container.env ?? []).map((variable) => [variable.name, variable]));
    const secretKeys = new Set(Object.keys({ ...secret.data, ...secret.stringData }));
    for (const name of [ADMIN_TOKEN_ENV, k8sConfig.privacy.key_env]) {
      const ref = env.get(name)?.valueFrom?.secretKeyRef;
      expect(ref?.name, name).toBe(secret.metadata.name);
      expect(secretKeys.has(ref!.key), `${name}: key ${ref?.key}`).toBe(true);
      expect(env.get(name)?.value, `${name} must not be inline`).toBeUndefined();
    }
    // Service links would add WACHTPOST_REDIS_* variables next to the real ones.
    expect(pod.enableServiceLinks).toBe(false);
  });

  it('holds only placeholders in the Secret template, which Wachtpost refuses', () => {
    const values = { ...secret.stringData };
    expect(secret.data).toBeUndefined();
    const adminKey = (container.env ?? []).find((v) => v.name === ADMIN_TOKEN_ENV)!.valueFrom!.secretKeyRef!.key;
    const pseudonymKey = (container.env ?? []).find((v) => v.name === k8sConfig.privacy.key_env)!.valueFrom!.secretKeyRef!.key;
    expect(() => new Authenticator(k8sConfig.api, { env: { [ADMIN_TOKEN_ENV]: values[adminKey] } })).toThrow(/at least/);
    expect(() => new Pseudonymiser(values[pseudonymKey]!)).toThrow(/at least/);
    const keysMount = (container.volumeMounts ?? []).find((m) => k8sConfig.api.session_keys_file.startsWith(`${m.mountPath}/`))!;
    const keysVolume = pod.volumes!.find((volume) => volume.name === keysMount.name)!;
    const item = keysVolume.secret!.items!.find((entry) => `${keysMount.mountPath}/${entry.path}` === k8sConfig.api.session_keys_file)!;
    const dir = mkdtempSync(join(tmpdir(), 'wachtpost-keys-'));
    writeFileSync(join(dir, 'keys'), values[item.key]!);
    expect(() => loadSessionKeys(join(dir, 'keys'))).toThrow(/at least 32/);
    rmSync(dir, { recursive: true });
  });

  it('gives every replica the session keys from the Secret, read-only, so a sign-in holds on any pod', () => {
    const path = k8sConfig.api.session_keys_file;
    const mount = (container.volumeMounts ?? []).find((m) => path.startsWith(`${m.mountPath.replace(/\/$/, '')}/`));
    expect(mount, `a volume mounted above ${path}`).toBeDefined();
    expect(mount!.readOnly).toBe(true);
    const volume = pod.volumes?.find((entry) => entry.name === mount!.name);
    expect(volume?.secret?.secretName).toBe(secret.metadata.name);
    expect(volume!.secret!.items!.map((entry) => `${mount!.mountPath}/${entry.path}`)).toContain(path);
  });

  it('exposes UDP and TCP 53 to the phones, keeping their source addresses', () => {
    expect(selects(dnsService.spec.selector, deployment.spec.template.metadata.labels)).toBe(true);
    for (const protocol of ['UDP', 'TCP']) {
      const port = dnsService.spec.ports.find((p) => p.port === 53 && (p.protocol ?? 'TCP') === protocol);
      expect(port, `53/${protocol}`).toBeDefined();
      expect(containerPort(port!.targetPort ?? port!.port, protocol)?.containerPort, `target of 53/${protocol}`).toBe(53);
    }
    expect(dnsService.spec.type).toBe('LoadBalancer');
    expect(dnsService.spec.externalTrafficPolicy).toBe('Local');
  });

  it('admits at the load balancer only ranges that access.allow serves', () => {
    const allowed = k8sConfig.access.allow.map((cidr) => ipaddr.parseCIDR(cidr));
    const ranges = dnsService.spec.loadBalancerSourceRanges ?? [];
    expect(ranges.length).toBeGreaterThan(0);
    for (const range of ranges) {
      const [address, bits] = ipaddr.parseCIDR(range);
      const covered = allowed.some(([net, netBits]) => net.kind() === address.kind() && netBits <= bits && address.match([net, netBits]));
      expect(covered, `${range} within access.allow`).toBe(true);
    }
  });

  it('serves HTTP inside the cluster on the port of the config', () => {
    expect(httpService.spec.type ?? 'ClusterIP').toBe('ClusterIP');
    expect(selects(httpService.spec.selector, deployment.spec.template.metadata.labels)).toBe(true);
    const port = httpService.spec.ports.find((p) => p.port === httpPort);
    expect(port).toBeDefined();
    expect(containerPort(port!.targetPort ?? port!.port, 'TCP')?.containerPort).toBe(httpPort);
  });

  it('points redis.url at the Redis Service, which selects the Redis pods', () => {
    const url = new URL(k8sConfig.redis.url);
    expect(url.protocol).toBe('redis:');
    const redisService = one<Service>('Service', url.hostname);
    const port = redisService.spec.ports.find((p) => p.port === Number(url.port || 6379));
    expect(port).toBeDefined();
    const redis = objects.filter((o): o is Deployment => o.kind === 'Deployment' && selects(redisService.spec.selector, (o as Deployment).spec.template.metadata.labels));
    expect(redis).toHaveLength(1);
    const redisPorts = redis[0]!.spec.template.spec.containers.flatMap((c) => c.ports ?? []);
    expect(redisPorts.some((p) => (typeof port!.targetPort === 'string' ? p.name === port!.targetPort : p.containerPort === (port!.targetPort ?? port!.port)))).toBe(true);
  });

  it('has a PodDisruptionBudget that selects the resolver pods', () => {
    const budgets = objects.filter((o) => o.kind === 'PodDisruptionBudget') as Array<K8sObject & { spec: { selector: { matchLabels: Labels } } }>;
    expect(budgets.some((budget) => selects(budget.spec.selector.matchLabels, deployment.spec.template.metadata.labels))).toBe(true);
  });
});

describe('container image', () => {
  it('builds in a separate stage from node:20-bookworm-slim with the tools for better-sqlite3', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(stages[0]!.args).toMatch(/\bAS build$/i);
    const base = /ARG\s+NODE_IMAGE=(\S+)/.exec(containerfile)?.[1];
    expect(base).toBe('node:20-bookworm-slim');
    for (const stage of stages) expect(stage.args).toMatch(/^(\$\{NODE_IMAGE\}|node:20-bookworm-slim)(\s|$)/);
    const buildRuns = instructions.slice(0, runStageStart).filter((i) => i.keyword === 'RUN').map((i) => i.args).join('\n');
    expect(buildRuns).toMatch(/apt-get install[^\n]*\bpython3\b/);
    expect(buildRuns).toMatch(/apt-get install[^\n]*\bg\+\+/);
  });

  it('prunes the dev dependencies only after npm ci has built dist/ and geo/asn.mmdb', () => {
    const runs = instructions.slice(0, runStageStart).filter((i) => i.keyword === 'RUN').map((i) => i.args).join(' && ');
    const ci = runs.indexOf('npm ci');
    const prune = runs.indexOf('npm prune --omit=dev');
    expect(ci).toBeGreaterThanOrEqual(0);
    expect(prune).toBeGreaterThan(ci);
    expect(runs).not.toMatch(/npm ci[^&]*--(omit=dev|production|ignore-scripts)/);
  });

  it('runs as a numeric non-root user', () => {
    const users = runStage.filter((i) => i.keyword === 'USER').map((i) => i.args);
    expect(users.length).toBeGreaterThan(0);
    const [uid, gid] = users.at(-1)!.split(':').map(Number);
    expect(uid).toBeGreaterThan(0);
    if (gid !== undefined) expect(gid).toBeGreaterThan(0);
  });

  it('exposes DNS over UDP and TCP and the HTTP port of its configuration', () => {
    const exposed = new Set(all('EXPOSE').flatMap((args) => args.split(/\s+/)));
    expect(exposed).toContain('53/udp');
    expect(exposed).toContain('53/tcp');
    expect(exposed).toContain(`${imageHttpPort}/tcp`);
    for (const listen of imageConfig.dns.listen) expect(parseHostPort(listen, 53).port).toBe(53);
    expect(isWildcard(imageConfig.http.listen, 8080)).toBe(true);
  });

  it('checks /health with node on the HTTP port of its configuration', () => {
    const healthcheck = lastOf('HEALTHCHECK');
    expect(healthcheck).toMatch(/CMD \["node"/);
    const url = /WACHTPOST_HEALTH_URL=(\S+)/.exec(all('ENV').join(' '))?.[1];
    const target = healthcheck.includes('WACHTPOST_HEALTH_URL') ? url : /https?:\/\/[^"'\s)]+/.exec(healthcheck)?.[0];
    expect(target).toBeDefined();
    const parsed = new URL(target!);
    expect(parsed.pathname).toBe('/health');
    expect(Number(parsed.port)).toBe(imageHttpPort);
  });

  it('starts `wachtpost serve` with the configuration it ships, and keeps the history on a volume', () => {
    const entrypoint = JSON.parse(lastOf('ENTRYPOINT')) as string[];
    const cmd = JSON.parse(lastOf('CMD')) as string[];
    expect(entrypoint[0]).toBe('node');
    expect(entrypoint[1]).toBe(`/opt/wachtpost/${binPath}`);
    expect(cmd[0]).toBe('serve');
    const path = configPathOf(cmd);
    // The Kubernetes Deployment passes the same path.
    expect(path).toBe(configPath);
    const copy = runStage.find((i) => i.keyword === 'COPY' && i.args.startsWith('deploy/container/wachtpost.yaml '));
    expect(copy?.args.split(/\s+/)[1]).toBe(path);
    const volumes = all('VOLUME').flatMap((args) => (args.startsWith('[') ? (JSON.parse(args) as string[]) : args.split(/\s+/)));
    expect(volumes.some((volume) => imageConfig.history.path.startsWith(`${volume.replace(/\/$/, '')}/`))).toBe(true);
    expect(lastOf('STOPSIGNAL')).toBe('SIGTERM');
  });

  it('lets into the build context exactly what the COPY instructions take from it', () => {
    const ignore = read(join(DEPLOY, 'container/Containerfile.dockerignore'))
      .split(/\r?\n/)
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'));
    expect(ignore[0]).toBe('*');
    const included = ignore.filter((line) => line.startsWith('!')).map((line) => line.slice(1).replace(/\/$/, ''));
    const sources = instructions
      .filter((i) => i.keyword === 'COPY' && !i.args.includes('--from='))
      .flatMap((i) => i.args.split(/\s+/).filter((word) => !word.startsWith('--')).slice(0, -1));
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) expect(included, source).toContain(source.replace(/^\.\//, '').replace(/\/$/, ''));
    // Built inside the image; a host copy must not shadow it.
    expect(ignore).toContain('geo/asn.mmdb');
  });
});

describe('systemd unit', () => {
  it.each([
    ['AmbientCapabilities', 'CAP_NET_BIND_SERVICE'],
    ['CapabilityBoundingSet', 'CAP_NET_BIND_SERVICE'],
    ['NoNewPrivileges', 'yes'],
    ['ProtectSystem', 'strict'],
    ['ProtectHome', 'yes'],
    ['PrivateTmp', 'yes'],
    ['PrivateDevices', 'yes'],
    ['ProtectKernelTunables', 'yes'],
    ['ProtectKernelModules', 'yes'],
    ['ProtectKernelLogs', 'yes'],
    ['ProtectControlGroups', 'yes'],
    ['RestrictNamespaces', 'yes'],
    ['LockPersonality', 'yes'],
    ['MemoryDenyWriteExecute', 'no'],
    ['SystemCallFilter', '@system-service'],
    ['StateDirectory', 'wachtpost'],
    ['ConfigurationDirectory', 'wachtpost'],
    ['EnvironmentFile', '-/etc/wachtpost/secrets.env'],
    ['KillSignal', 'SIGTERM'],
    ['Restart', 'on-failure'],
  ])('[Service] %s=%s', (key, value) => {
    expect(serviceValue(key)).toBe(value);
  });

  it('runs as a dedicated user', () => {
    const dynamic = service.get('DynamicUser')?.[0];
    const user = service.get('User')?.[0];
    expect(dynamic === 'yes' || (user !== undefined && user !== 'root' && user !== '0')).toBe(true);
  });

  it('restricts sockets to IPv4, IPv6 and Unix', () => {
    expect(new Set(serviceValue('RestrictAddressFamilies').split(/\s+/))).toEqual(new Set(['AF_INET', 'AF_INET6', 'AF_UNIX']));
  });

  it('explains why MemoryDenyWriteExecute stays off', () => {
    const lines = unitText.split(/\r?\n/);
    const at = lines.findIndex((line) => line.startsWith('MemoryDenyWriteExecute='));
    const comment = lines
      .slice(0, at)
      .reverse()
      .findIndex((line) => !line.startsWith('#'));
    const block = lines.slice(at - (comment < 0 ? at : comment), at).join(' ');
    expect(block).toMatch(/JIT/);
  });

  it('serves the configuration from ConfigurationDirectory, checked first, with the package bin', () => {
    const start = serviceValue('ExecStart');
    const [node, script, command, ...rest] = start.split(/\s+/);
    expect(node).toBe('/usr/bin/node');
    expect(script).toBe(`/opt/wachtpost/${binPath}`);
    expect(command).toBe('serve');
    const path = configPathOf(rest);
    expect(posix.dirname(path)).toBe(`/etc/${serviceValue('ConfigurationDirectory')}`);
    // Containers and Kubernetes use the same path.
    expect(path).toBe(configPath);
    const pre = serviceValue('ExecStartPre').split(/\s+/);
    expect(pre.slice(0, 3)).toEqual([node, script, 'check-config']);
    expect(pre[3]).toBe(path);
    expect(posix.dirname(serviceValue('EnvironmentFile').replace(/^-/, ''))).toBe(posix.dirname(path));
  });

  it('reloads with SIGHUP to the main process', () => {
    expect(serviceValue('ExecReload')).toMatch(/^\/(usr\/)?bin\/kill -(s )?(SIG)?HUP \$MAINPID$/);
  });

  it('keeps the history of the example configuration in StateDirectory', () => {
    expect(basename(dirname(exampleConfig.history.path))).toBe(serviceValue('StateDirectory'));
    expect(exampleConfig.history.path.startsWith(`/var/lib/${serviceValue('StateDirectory')}/`)).toBe(true);
  });

  it('waits longer on stop than the drain takes', () => {
    const stop = timeSpanMs(serviceValue('TimeoutStopSec'));
    const drain = Math.max(exampleConfig.dns.drain_timeout_ms, loadConfig({ text: '', overrides: UPSTREAM }).dns.drain_timeout_ms);
    expect(stop).toBeGreaterThan(drain + KILL_GRACE_MS);
  });

  it('raises the descriptor limit', () => {
    expect(Number(serviceValue('LimitNOFILE'))).toBeGreaterThanOrEqual(65_536);
  });
});

describe('Grafana dashboard', () => {
  const { names, histograms } = registeredMetrics();

  it('finds the metric registrations in src/', () => {
    expect(names).toContain('wachtpost_dns_queries_total');
    expect(names).toContain('wachtpost_feed_clients');
    expect(histograms).toContain('wachtpost_upstream_latency_seconds');
    expect(names.size).toBeGreaterThanOrEqual(20);
  });

  it('queries only metrics the code registers (histograms with _bucket, _sum or _count)', () => {
    expect(queried.size).toBeGreaterThan(0);
    for (const metric of queried) expect(isRegistered(metric, { names, histograms }), metric).toBe(true);
  });

  it('covers actions, rcodes, cache hit ratio, upstream p50/p99, events, feed clients and gaps', () => {
    const text = queries.join('\n');
    expect(text).toMatch(/sum by \(action\) \(rate\(wachtpost_dns_actions_total/);
    expect(text).toMatch(/sum by \(rcode\) \(rate\(wachtpost_dns_replies_total/);
    expect(text).toMatch(/wachtpost_cache_hits_total[\s\S]*wachtpost_cache_misses_total/);
    expect(text).toContain('wachtpost_cache_hit_ratio');
    for (const quantile of ['0.5', '0.99']) {
      expect(text).toContain(`histogram_quantile(${quantile}, sum by (le) (rate(wachtpost_upstream_latency_seconds_bucket`);
    }
    for (const metric of [
      'wachtpost_events_published_total',
      'wachtpost_events_stored_total',
      'wachtpost_events_dropped_total',
      'wachtpost_feed_clients',
      'wachtpost_feed_gaps_total',
    ]) {
      expect(queried, metric).toContain(metric);
    }
  });

  it('charts client latency, each upstream, detections, health and every process', () => {
    const text = queries.join('\n');
    expect(text).toContain('histogram_quantile(0.99, sum by (le, transport, source) (rate(wachtpost_dns_answer_latency_seconds_bucket');
    expect(text).toMatch(/sum by \(server\) \(rate\(wachtpost_upstream_answers_total/);
    expect(text).toMatch(/sum by \(server, cause\) \(rate\(wachtpost_upstream_failures_total/);
    expect(text).toContain('histogram_quantile(0.99, sum by (le, server) (rate(wachtpost_upstream_latency_seconds_bucket');
    for (const metric of [
      'wachtpost_upstream_timeouts_total',
      'wachtpost_upstream_up',
      'wachtpost_detections_total',
      'wachtpost_tcp_connections',
      'wachtpost_tcp_cap_reached_total',
      'wachtpost_ready',
      'wachtpost_degraded',
      'wachtpost_history_size_bytes',
      'wachtpost_dnstap_dropped_total',
      'wachtpost_build_info',
    ]) {
      expect(queried, metric).toContain(metric);
    }
    for (const metric of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_p99_seconds']) {
      expect(text).toMatch(new RegExp(`by \\(instance, process\\) \\(.*${metric}`));
    }
  });

  it('takes its data source from the ${DS_PROMETHEUS} input', () => {
    expect(dashboard.__inputs).toContainEqual(expect.objectContaining({ name: 'DS_PROMETHEUS', type: 'datasource', pluginId: 'prometheus' }));
    const sources = [
      ...panels.filter((panel) => panel.type !== 'row').map((panel) => panel.datasource),
      ...panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.datasource)),
      ...dashboard.templating.list.map((variable) => variable.datasource),
    ];
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) expect(source?.uid).toBe('${DS_PROMETHEUS}');
  });

  it('has well-formed panels and queries', () => {
    const ids = panels.map((panel) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of panels) {
      expect(panel.gridPos.x + panel.gridPos.w, panel.title).toBeLessThanOrEqual(24);
      if (panel.type !== 'row') expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
    }
    for (const query of queries) {
      const stack: string[] = [];
      const pairs: Record<string, string> = { ')': '(', ']': '[', '}': '{' };
      for (const char of query.replace(/"[^"]*"/g, '""')) {
        if ('([{'.includes(char)) stack.push(char);
        else if (char in pairs) expect(stack.pop(), query).toBe(pairs[char]);
      }
      expect(stack, query).toEqual([]);
    }
  });
});
