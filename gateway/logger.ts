import pino, { type Logger } from 'pino';

/**
 * The process log. Never give it patient data (national ids, names, results): those live only in
 * the audit store. Redaction below is a second line of defence, not the first.
 */
export function createLogger(opts: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  return pino(
    {
      level: opts.level ?? 'info',
      base: { service: 'xzq-gateway' },
      redact: { paths: ['req.headers.authorization', 'nationalId', 'name', 'identifier', 'body'], censor: '[redacted]' },
    },
    opts.destination as pino.DestinationStream | undefined,
  );
}

export const silentLogger = (): Logger => pino({ level: 'silent' });
