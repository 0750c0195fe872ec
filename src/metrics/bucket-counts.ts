import { Histogram, type Registry } from 'prom-client';

/**
 * Observations counted per bucket in a typed array, for histograms fed on the hot path:
 * observing is a few comparisons and one increment, never a labelled prom-client call.
 * `counts[i]` holds observations in (bounds[i-1], bounds[i]]; the last slot those above
 * every bound. Read at scrape time by `collectedHistogram`.
 */
export class BucketCounts {
  readonly counts: Float64Array;
  sum = 0;

  constructor(readonly bounds: Float64Array) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
  }
}

type Labels = Record<string, string>;

/** One exposition value in the shape prom-client's registry formats (and its aggregator sums). */
interface Sample {
  labels: Record<string, string | number>;
  sharedLabels: Labels;
  value: number;
  metricName: string;
}

/**
 * A histogram whose series are read at scrape time from BucketCounts the code keeps:
 * `read` yields each series' labels and counts. Exposed exactly like a prom-client
 * Histogram (cumulative `_bucket` with `le`, `_sum`, `_count`), summed across workers.
 */
export class CollectedHistogram extends Histogram {
  constructor(
    registry: Registry,
    private readonly metric: string,
    private readonly description: string,
    labelNames: string[],
    private readonly bounds: Float64Array,
    private readonly read: () => Iterable<readonly [Labels, BucketCounts]>,
  ) {
    super({ name: metric, help: description, labelNames, buckets: [...bounds], registers: [registry] });
  }

  /** What prom-client's registry formats; get() (JSON, for the cluster primary) builds on it. */
  async getForPromString(): Promise<{ name: string; help: string; type: 'histogram'; values: Sample[]; aggregator: 'sum' }> {
    const values: Sample[] = [];
    const bucket = `${this.metric}_bucket`;
    for (const [labels, series] of this.read()) {
      let cumulative = 0;
      this.bounds.forEach((bound, i) => {
        cumulative += series.counts[i]!;
        values.push({ labels: { le: bound }, sharedLabels: labels, value: cumulative, metricName: bucket });
      });
      cumulative += series.counts[this.bounds.length]!;
      values.push({ labels: { le: '+Inf' }, sharedLabels: labels, value: cumulative, metricName: bucket });
      values.push({ labels: {}, sharedLabels: labels, value: series.sum, metricName: `${this.metric}_sum` });
      values.push({ labels: {}, sharedLabels: labels, value: cumulative, metricName: `${this.metric}_count` });
    }
    return { name: this.metric, help: this.description, type: 'histogram', values, aggregator: 'sum' };
  }
}
