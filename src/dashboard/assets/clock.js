// One clock for every time on the page: this computer's time zone or UTC, chosen by the
// analyst and remembered in this browser. Every time is shown with its date; an element
// written through stamp() is rewritten when the choice changes, and charts re-draw.

const KEY = 'wachtpost-clock';
const listeners = new Set();
let zone = readChoice();

function readChoice() {
  try {
    return localStorage.getItem(KEY) === 'utc' ? 'utc' : 'local';
  } catch {
    return 'local';
  }
}

/** 'local' or 'utc'. */
export function clockZone() {
  return zone;
}

/** The zone's name for Intl and uPlot: undefined means this computer's. */
export function timeZoneName() {
  return zone === 'utc' ? 'UTC' : undefined;
}

/** "4 Dec 2026, 14:22:05", in the chosen zone; `seconds: false` and `year: false` drop those. */
export function formatTime(ts, { seconds = true, year = true } = {}) {
  const date = new Date(ts);
  if (Number.isNaN(date.getTime())) return '';
  return date.toLocaleString('en-GB', {
    day: 'numeric',
    month: 'short',
    ...(year ? { year: 'numeric' } : {}),
    hour: '2-digit',
    minute: '2-digit',
    ...(seconds ? { second: '2-digit' } : {}),
    hourCycle: 'h23',
    timeZone: timeZoneName(),
  });
}

/** Writes `ts` into `element` (and the exact UTC instant into its title), kept in step with the clock. */
export function stamp(element, ts, { seconds = true, year = true } = {}) {
  element.dataset.ts = String(ts);
  element.dataset.format = `${seconds ? 's' : ''}${year ? 'y' : ''}`;
  element.textContent = formatTime(ts, { seconds, year });
  element.title = new Date(ts).toISOString();
  return element;
}

/** Calls `listener()` after every change of the clock; returns the function that removes it. */
export function onClockChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function setClockZone(next) {
  zone = next === 'utc' ? 'utc' : 'local';
  try {
    localStorage.setItem(KEY, zone);
  } catch {
    // A browser that keeps nothing: the choice lasts for this page.
  }
  for (const element of document.querySelectorAll('[data-ts]')) {
    const format = element.dataset.format ?? 'sy';
    element.textContent = formatTime(Number(element.dataset.ts), { seconds: format.includes('s'), year: format.includes('y') });
  }
  for (const listener of listeners) listener();
}

/** Wires a <select> with options 'local' and 'utc' to the clock. */
export function clockSelect(select) {
  select.value = zone;
  select.addEventListener('change', () => setClockZone(select.value));
  onClockChange(() => {
    select.value = zone;
  });
}

const pad = (n) => String(n).padStart(2, '0');

/** `ts` as a datetime-local input's value ("2026-12-04T14:00:00") in the chosen zone. */
export function inputValue(ts) {
  const date = new Date(ts);
  const utc = zone === 'utc';
  const parts = utc
    ? [date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate(), date.getUTCHours(), date.getUTCMinutes(), date.getUTCSeconds()]
    : [date.getFullYear(), date.getMonth() + 1, date.getDate(), date.getHours(), date.getMinutes(), date.getSeconds()];
  return `${parts[0]}-${pad(parts[1])}-${pad(parts[2])}T${pad(parts[3])}:${pad(parts[4])}:${pad(parts[5])}`;
}

/** Epoch ms of a datetime-local input's value read in the chosen zone; NaN when it is none. */
export function fromInputValue(text) {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(text)) return Number.NaN;
  return new Date(zone === 'utc' ? `${text}Z` : text).getTime();
}
