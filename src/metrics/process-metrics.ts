import { collectDefaultMetrics, Gauge, type Registry } from 'prom-client';

/** One registry's metrics as prom-client JSON, the form the cluster primary sums. */
export type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/**
 * prom-client's process and Node.js metrics (CPU, RSS, heap, event-loop lag, handles,
 * GC), labelled with the process they describe: "primary" or "worker-N". Summing RSS or
 * averaging event-loop lag across processes would hide the one process in trouble, so
 * every process keeps series of its own (see perProcess).
 */
export function processMetrics(registry: Registry, process: string): void {
  collectDefaultMetrics({ register: registry, labels: { process } });
}

/** `wachtpost_build_info{version,node} 1`, for dashboards and for spotting mixed versions. */
export function buildInfo(registry: Registry, version: string): void {
  new Gauge({
    name: 'wachtpost_build_info',
    help: 'Always 1; the labels say which Wachtpost and which Node.js run',
    labelNames: ['version', 'node'],
    aggregator: 'max',
    registers: [registry],
  }).set({ version, node: process.versions.node }, 1);
}

/**
 * Every process's series of the default metrics are distinct by their `process` label, so
 * combining them must keep each as it is. prom-client's own aggregators would do so too,
 * except 'omit' (process_start_time_seconds), which drops the metric whole: keep those.
 */
export function perProcess(registries: readonly MetricsJson[]): MetricsJson[] {
  return registries.map((metrics) => metrics.map((metric) => (metric.aggregator === 'omit' ? { ...metric, aggregator: 'first' as const } : metric)));
}
