import { pino, type Logger } from 'pino';

export type { Logger };

/** Structured logs; tokens, secrets and card data are redacted wherever they appear by these names. */
export function createLogger(name: string, level = process.env.LOG_LEVEL?.trim() || 'info'): Logger {
  return pino({
    name,
    level,
    redact: {
      paths: ['token', '*.token', 'authorization', '*.authorization', 'headers.authorization', 'secret', '*.secret', 'paymentMethod', '*.paymentMethod'],
      censor: '[redacted]',
    },
  });
}
