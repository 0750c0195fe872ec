import { Counter, Gauge, type Registry } from 'prom-client';

/**
 * A counter whose value is read at scrape time from counts the code keeps anyway (plain
 * number fields and typed arrays): the hot path increments a number, never a labelled
 * metric. `collect` sets the current totals with `metric.inc(labels, value)`.
 */
export function collectedCounter(registry: Registry, name: string, help: string, labelNames: string[], collect: (metric: Counter) => void): void {
  new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      collect(this);
    },
  });
}

/**
 * A gauge read at scrape time, like collectedCounter. `aggregator` says how the cluster
 * primary combines the workers' values: summed (a count), or the lowest or highest.
 */
export function collectedGauge(
  registry: Registry,
  name: string,
  help: string,
  labelNames: string[],
  aggregator: 'sum' | 'min' | 'max',
  collect: (metric: Gauge) => void,
): void {
  new Gauge({
    name,
    help,
    labelNames,
    aggregator,
    registers: [registry],
    collect() {
      this.reset();
      collect(this);
    },
  });
}
