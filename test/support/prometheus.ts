import { execFile } from 'node:child_process';

/** `name{labels}` → value of every sample in Prometheus text. */
export function samplesOf(text: string): Map<string, number> {
  const found = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    found.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return found;
}

/** promtool's strict parser and linter over exposition text; resolves with its complaints ('' when clean). */
export function promtoolCheck(text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('promtool', ['check', 'metrics'], (error, stdout, stderr) => {
      if (error !== null && (error as { code?: unknown }).code === undefined) reject(error);
      else resolve(`${stdout}${stderr}`.trim());
    });
    child.stdin!.end(text);
  });
}
