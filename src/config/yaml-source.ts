import type { ErrorObject } from 'ajv';
import { LineCounter, isMap, isScalar, parseDocument, type Document } from 'yaml';

export interface ConfigProblem {
  /** Dotted field path, e.g. "dns.udp_size" ("" for the file as a whole). */
  path: string;
  /** 1-based line in the file, when the problem sits in it. */
  line?: number;
  message: string;
}

/** Every problem found in a file, not only the first. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';

  constructor(
    readonly problems: ConfigProblem[],
    readonly file = '<config>',
  ) {
    super(problems.map((problem) => formatProblem(file, problem)).join('\n'));
  }
}

export function formatProblem(file: string, problem: ConfigProblem): string {
  const where = problem.line === undefined ? file : `${file}:${problem.line}`;
  return `${where}: ${problem.path || '(file)'}: ${problem.message}`;
}

/**
 * A parsed YAML file that remembers where everything sits, so that schema and semantic
 * problems can be reported as FILE:LINE: field: message. Shared by the configuration and
 * every data file (catalogue, policy) so they all report errors the same way.
 */
export class YamlSource {
  /** Dotted paths whose values came from elsewhere (command-line flags), not the file. */
  readonly overridden = new Set<string>();

  private constructor(
    readonly file: string,
    readonly value: unknown,
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  /** Parses `text`; a YAML syntax error throws ConfigError with its line. */
  static parse(text: string, file: string): YamlSource {
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
    if (doc.errors.length > 0) {
      throw new ConfigError(
        doc.errors.map((error) => ({ path: '', line: lines.linePos(error.pos[0]).line, message: `YAML: ${error.message.split('\n')[0]}` })),
        file,
      );
    }
    return new YamlSource(file, doc.toJS() ?? {}, doc, lines);
  }

  /**
   * Turns ajv errors into problems at their lines; alternatives (anyOf of consts) become one
   * list. `prefix` is where the validated value sits in the file, when it is not the whole.
   */
  schemaProblems(errors: readonly ErrorObject[], prefix: readonly string[] = []): ConfigProblem[] {
    const allowed = new Map<string, unknown[]>();
    for (const error of errors) {
      if (error.keyword === 'const') allowed.set(error.instancePath, [...(allowed.get(error.instancePath) ?? []), error.params.allowedValue]);
    }
    const problems: ConfigProblem[] = [];
    for (const error of errors) {
      const path = [...prefix, ...error.instancePath.split('/').slice(1).map(decodePointer)];
      if (error.keyword === 'additionalProperties') {
        const key = String(error.params.additionalProperty);
        problems.push(this.locate([...path, key], `unknown setting "${key}"`, true));
      } else if (error.keyword === 'anyOf' && allowed.has(error.instancePath)) {
        problems.push(this.locate(path, `must be one of ${allowed.get(error.instancePath)!.join(', ')}`));
      } else if (error.keyword !== 'const' && error.keyword !== 'anyOf') {
        problems.push(this.locate(path, error.message ?? 'is invalid'));
      }
    }
    return dedupe(problems);
  }

  /** Points a problem at the deepest part of `path` present in the file. */
  locate(path: string[], message: string, atKey = false): ConfigProblem {
    const dotted = path.join('.');
    for (const flagPath of this.overridden) {
      if (dotted === flagPath || dotted.startsWith(`${flagPath}.`)) return { path: dotted, message: `${message} (from the command line)` };
    }
    for (let depth = path.length; depth > 0; depth--) {
      const offset = atKey && depth === path.length ? this.keyOffset(path) : this.valueOffset(path.slice(0, depth));
      if (offset !== undefined) return { path: dotted, line: this.lines.linePos(offset).line, message };
    }
    return { path: dotted, message };
  }

  private valueOffset(path: string[]): number | undefined {
    const node = this.doc.getIn(path.map(indexOrKey), true) as { range?: [number, number, number] } | undefined;
    return node && typeof node === 'object' && node.range ? node.range[0] : undefined;
  }

  private keyOffset(path: string[]): number | undefined {
    const parent = path.length === 1 ? this.doc.contents : this.doc.getIn(path.slice(0, -1).map(indexOrKey), true);
    if (!isMap(parent)) return undefined;
    for (const pair of parent.items) {
      if (isScalar(pair.key) && String(pair.key.value) === path.at(-1) && pair.key.range) return pair.key.range[0];
    }
    return undefined;
  }
}

function indexOrKey(step: string): string | number {
  return /^\d+$/.test(step) ? Number(step) : step;
}

function decodePointer(segment: string): string {
  return segment.replace(/~1/g, '/').replace(/~0/g, '~');
}

function dedupe(problems: ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  return problems.filter((problem) => {
    const key = `${problem.path}|${problem.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
