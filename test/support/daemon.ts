import { spawn, type ChildProcess } from 'node:child_process';

export interface Daemon {
  readonly child: ChildProcess;
  /** What it wrote to stderr so far, for start-up errors. */
  stderr(): string;
  /** SIGTERM, then waits for it to exit; nothing when it has exited already. */
  stop(): Promise<void>;
}

/** Starts a server a test depends on (knotd, unbound) in the foreground, its stderr kept. */
export function spawnDaemon(command: string, args: string[]): Daemon {
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    stderr: () => stderr,
    stop: async () => {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}
