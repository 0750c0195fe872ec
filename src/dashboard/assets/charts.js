// Charts drawn with uPlot (served from this server: /dashboard/vendor/uplot.js, no CDN).
// uPlot paints on a canvas, which says nothing to a screen reader or a test: every chart
// therefore has its title and legend (uPlot's own HTML), axis labels as HTML beside the
// canvas, a spoken summary on the plot (role="img"), and its figures in a table that only
// screen readers see.

import uPlot from './vendor/uplot.js';
import { clockZone, formatTime, onClockChange, timeZoneName } from './clock.js';

const ACTIONS = [
  { key: 'allow', label: 'Allowed', colour: '--allow-line' },
  { key: 'monitor', label: 'Monitored', colour: '--monitor-line' },
  { key: 'block', label: 'Blocked', colour: '--block-line' },
  { key: 'exempt', label: 'Exempted', colour: '--exempt-line' },
];

/** A tick on the time axis: the date at midnight, else the hour ("06:00"), in the page's clock. */
function tickText(ms) {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone: timeZoneName() })
      .formatToParts(new Date(ms))
      .map((part) => [part.type, part.value]),
  );
  return parts.hour === '00' && parts.minute === '00' ? `${parts.day} ${parts.month}` : `${parts.hour}:${parts.minute}`;
}

function cssColour(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || 'currentColor';
}

/**
 * Queries per action per hour, one line each, with time along the bottom (in the page's
 * clock) and queries up the side. `onBucket(start, end)` is called when a bar's hour is
 * clicked (drill-down into the history).
 */
export class ActionsChart {
  constructor(container, { title, onBucket = null, height = 220 }) {
    this.container = container;
    this.title = title;
    this.onBucket = onBucket;
    this.height = height;
    this.plot = null;
    this.buckets = [];
    const part = (tag, className) => Object.assign(document.createElement(tag), { className });
    this.yLabel = part('span', 'axis-label axis-y');
    this.host = part('div', 'chart-plot');
    this.host.setAttribute('role', 'img');
    this.xLabel = part('span', 'axis-label axis-x');
    const frame = part('div', 'chart-frame');
    frame.append(this.yLabel, this.host, this.xLabel);
    this.table = part('table', 'visually-hidden');
    container.replaceChildren(frame, this.table);
    onClockChange(() => this.draw());
    // The panel's width changes with the window (side panels move below the table).
    new ResizeObserver(() => this.plot?.setSize({ width: this.width(), height: this.height })).observe(this.host);
  }

  width() {
    return Math.max(200, Math.floor(this.host.clientWidth));
  }

  /** `buckets`: [{start, allow, monitor, block, exempt}], oldest first, one per hour. */
  update(buckets) {
    this.buckets = Array.isArray(buckets) ? buckets : [];
    this.draw();
  }

  clear() {
    this.buckets = [];
    this.plot?.destroy();
    this.plot = null;
    this.host.removeAttribute('aria-label');
    this.xLabel.textContent = this.yLabel.textContent = '';
    this.table.replaceChildren();
  }

  draw() {
    this.plot?.destroy();
    this.plot = null;
    if (this.buckets.length === 0) return this.clear();
    const totals = Object.fromEntries(ACTIONS.map(({ key }) => [key, this.buckets.reduce((sum, bucket) => sum + (Number(bucket[key]) || 0), 0)]));
    const first = this.buckets[0].start;
    const last = this.buckets.at(-1).start;
    this.host.setAttribute(
      'aria-label',
      `${this.title}, ${formatTime(first, { seconds: false })} to ${formatTime(last + 3_600_000, { seconds: false })}: ` +
        ACTIONS.map(({ key, label }) => `${label.toLowerCase()} ${totals[key].toLocaleString('en-GB')}`).join(', '),
    );
    const utc = clockZone() === 'utc';
    this.xLabel.textContent = `Hour (${utc ? 'UTC' : "this computer's time"})`;
    this.yLabel.textContent = 'Queries per hour';
    this.fillTable(first, last);
    const text = cssColour('--text');
    const grid = cssColour('--line');
    const axis = () => ({ stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } });
    const options = {
      title: this.title,
      width: this.width(),
      height: this.height,
      tzDate: (seconds) => (utc ? uPlot.tzDate(new Date(seconds * 1000), 'Etc/UTC') : new Date(seconds * 1000)),
      scales: { x: { time: true }, y: { range: (_plot, _min, max) => [0, Math.max(4, max)] } },
      axes: [{ ...axis(), values: (_plot, splits) => splits.map((seconds) => tickText(seconds * 1000)) }, { ...axis(), size: 50 }],
      series: [
        { label: 'Hour', value: (_plot, seconds) => (seconds === null ? '' : formatTime(seconds * 1000, { seconds: false })) },
        ...ACTIONS.map(({ label, colour }) => ({ label, stroke: cssColour(colour), width: 2, points: { show: false } })),
      ],
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
    };
    const data = [this.buckets.map((bucket) => bucket.start / 1000), ...ACTIONS.map(({ key }) => this.buckets.map((bucket) => Number(bucket[key]) || 0))];
    this.plot = new uPlot(options, data, this.host);
    if (this.onBucket !== null) {
      this.plot.over.addEventListener('click', () => {
        const index = this.plot?.cursor.idx;
        if (index === null || index === undefined) return;
        const start = this.buckets[index].start;
        this.onBucket(start, start + 3_600_000);
      });
      this.plot.over.title = 'Click an hour to search its stored events';
    }
  }

  /** The figures for screen readers: the hours with any query, oldest first. */
  fillTable(first, last) {
    const caption = document.createElement('caption');
    caption.textContent = `${this.title}, ${formatTime(first, { seconds: false })} to ${formatTime(last + 3_600_000, { seconds: false })}; hours without queries left out`;
    const row = (cellTag, texts) => {
      const element = document.createElement('tr');
      for (const text of texts) element.append(Object.assign(document.createElement(cellTag), { textContent: text }));
      return element;
    };
    const head = document.createElement('thead');
    head.append(row('th', ['Hour', ...ACTIONS.map(({ label }) => label)]));
    const body = document.createElement('tbody');
    for (const bucket of this.buckets) {
      const counts = ACTIONS.map(({ key }) => Number(bucket[key]) || 0);
      if (counts.some((value) => value > 0)) body.append(row('td', [formatTime(bucket.start, { seconds: false }), ...counts.map(String)]));
    }
    this.table.replaceChildren(caption, head, body);
  }
}
