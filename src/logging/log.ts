import pino, { type Logger } from 'pino';

/** Structured JSON logs on stdout; anything that could hold a secret is redacted by path. */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { pid: process.pid },
    redact: {
      paths: [
        'token',
        'secret',
        'password',
        'key',
        '*.token',
        '*.secret',
        '*.password',
        '*.key',
        'req.headers.authorization',
        'req.headers.cookie',
        'res.headers["set-cookie"]',
      ],
      censor: '[redacted]',
    },
  });
}
