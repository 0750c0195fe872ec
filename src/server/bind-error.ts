const REASONS: Record<string, string> = {
  EADDRINUSE: 'the port is taken by another program (EADDRINUSE)',
  EACCES: 'permission denied (EACCES); ports below 1024 need CAP_NET_BIND_SERVICE',
  EADDRNOTAVAIL: 'no interface of this machine has that address (EADDRNOTAVAIL)',
};

/** A listener that could not bind, as one line for the operator: what, where, and why. */
export function bindError(what: string, error: unknown): Error {
  const { code, message } = error as { code?: string; message?: string };
  return new Error(`cannot serve ${what}: ${(code !== undefined && REASONS[code]) || (message ?? String(error))}`);
}
