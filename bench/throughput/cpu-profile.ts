/** What a V8 CPU profile (node --cpu-prof) says about where the time went, as Markdown. */
import { readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Shortest useful name of a script: from src/, dist/ or node_modules/ on; node: built-ins as they are. */
function scriptOf(url: string): string {
  if (url === '') return '';
  return url.replace(/^file:\/\//, '').replace(/.*?\/(dist|src|node_modules)\//, '$1/');
}

/** Self time per function and per script, largest first, as shares of the profile's time. */
export function selfTimes(profile: Profile): { totalMs: number; functions: [string, number][]; scripts: [string, number][] } {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const functions = new Map<string, number>();
  const scripts = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, index) => {
    const delta = profile.timeDeltas[index] ?? 0;
    total += delta;
    const frame = byId.get(id)!.callFrame;
    const script = scriptOf(frame.url);
    const name = `${frame.functionName || '(anonymous)'}${script === '' ? '' : ` ${script}:${frame.lineNumber + 1}`}`;
    functions.set(name, (functions.get(name) ?? 0) + delta);
    const key = script === '' ? frame.functionName : script;
    scripts.set(key, (scripts.get(key) ?? 0) + delta);
  });
  const ranked = (map: Map<string, number>): [string, number][] => [...map].sort((a, b) => b[1] - a[1]).map(([name, time]) => [name, total === 0 ? 0 : time / total]);
  return { totalMs: total / 1000, functions: ranked(functions), scripts: ranked(scripts) };
}

/** A Markdown section per profile in `dir` (one per Wachtpost process): the top functions and scripts by self time. */
export async function profileReport(dir: string, top = 12): Promise<string> {
  const sections: string[] = [];
  const targets = await readdir(dir).catch(() => [] as string[]);
  for (const target of targets.sort()) {
    const files = (await readdir(join(dir, target))).filter((file) => file.endsWith('.cpuprofile'));
    for (const file of files.sort()) {
      const { totalMs, functions, scripts } = selfTimes(JSON.parse(await readFile(join(dir, target, file), 'utf8')) as Profile);
      const row = ([name, share]: [string, number]): string => `| ${(100 * share).toFixed(1)} % | \`${name.replaceAll('|', '\\|')}\` |`;
      sections.push(
        `### ${target}: ${basename(file)} (${Math.round(totalMs).toLocaleString('en')} ms sampled)\n\n` +
          `| self time | function |\n| ---: | --- |\n${functions.slice(0, top).map(row).join('\n')}\n\n` +
          `| self time | script |\n| ---: | --- |\n${scripts.slice(0, top).map(row).join('\n')}\n`,
      );
    }
  }
  return sections.length === 0 ? '' : `\n## CPU profiles (node --cpu-prof; the busiest process is the worker)\n\n${sections.join('\n')}`;
}
