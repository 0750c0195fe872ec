/** The soak's curves: one panel per measure over the minutes, minutes without an upstream shaded. */
import { PALETTE, escapeXml, tickStep } from '../throughput/report.js';

export interface Series {
  label: string;
  values: readonly number[];
}

export interface Panel {
  title: string;
  series: readonly Series[];
}

const WIDTH = 960;
const LEFT = 70;
const RIGHT = 230;
const PANEL_HEIGHT = 150;
const GAP = 40;
const TOP = 40;

/** Stacked line charts sharing the minute axis; `down[m]` shades minute m (upstream stopped). */
export function soakSvg(title: string, minutes: number, down: readonly boolean[], panels: readonly Panel[]): string {
  const height = TOP + panels.length * (PANEL_HEIGHT + GAP) + 10;
  const plotWidth = WIDTH - LEFT - RIGHT;
  const x = (minute: number): number => LEFT + (plotWidth * minute) / Math.max(1, minutes);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    `<text x="${LEFT}" y="22" font-size="15">${escapeXml(title)}</text>`,
  ];
  panels.forEach((panel, p) => {
    const top = TOP + p * (PANEL_HEIGHT + GAP) + 16;
    const max = Math.max(1, ...panel.series.flatMap((series) => series.values));
    const step = tickStep(max);
    const scaleMax = Math.ceil(max / step) * step;
    const y = (value: number): number => top + PANEL_HEIGHT * (1 - value / scaleMax);
    parts.push(`<text x="${LEFT}" y="${top - 6}" font-weight="bold">${escapeXml(panel.title)}</text>`);
    down.forEach((isDown, minute) => {
      if (isDown) parts.push(`<rect x="${x(minute)}" y="${top}" width="${x(minute + 1) - x(minute)}" height="${PANEL_HEIGHT}" fill="#eee"/>`);
    });
    for (let tick = 0; tick <= scaleMax; tick += step) {
      parts.push(
        `<line x1="${LEFT}" x2="${LEFT + plotWidth}" y1="${y(tick)}" y2="${y(tick)}" stroke="#ddd"/>`,
        `<text x="${LEFT - 6}" y="${y(tick) + 4}" text-anchor="end">${Math.round(tick).toLocaleString('en')}</text>`,
      );
    }
    const labelEvery = Math.max(1, Math.ceil(minutes / 15));
    for (let minute = 0; minute <= minutes; minute += labelEvery) {
      parts.push(`<text x="${x(minute)}" y="${top + PANEL_HEIGHT + 14}" text-anchor="middle">${minute}</text>`);
    }
    panel.series.forEach((series, s) => {
      // Each value is the minute's figure, drawn at the minute's end.
      const points = series.values.map((value, minute) => `${x(minute + 1).toFixed(1)},${y(value).toFixed(1)}`).join(' ');
      const colour = PALETTE[s % PALETTE.length]!;
      parts.push(
        `<polyline points="${points}" fill="none" stroke="${colour}" stroke-width="2"/>`,
        `<rect x="${LEFT + plotWidth + 16}" y="${top + s * 18}" width="12" height="12" fill="${colour}"/>`,
        `<text x="${LEFT + plotWidth + 34}" y="${top + s * 18 + 10}">${escapeXml(series.label)}</text>`,
      );
    });
    parts.push(`<line x1="${LEFT}" x2="${LEFT + plotWidth}" y1="${y(0)}" y2="${y(0)}" stroke="#000"/>`);
  });
  parts.push(`<text x="${LEFT + plotWidth / 2}" y="${height - 4}" text-anchor="middle">minute (grey: upstream stopped)</text>`, '</svg>');
  return `${parts.join('\n')}\n`;
}
