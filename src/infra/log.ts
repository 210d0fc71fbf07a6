import { pino, type Logger } from 'pino';

/**
 * The root logger. Fields that may carry personal data are redacted wherever they appear, so a
 * logged event or request never leaks an email, phone number or raw id.
 */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'pulse' },
    redact: {
      paths: ['*.traits', '*.properties', '*.context', '*.email', '*.phone', '*.userId', '*.anonymousId', '*.identifiers', 'authorization', '*.authorization', '*.key'],
      censor: '[redacted]',
    },
  });
}

export type { Logger };
