import pino from 'pino';
import { loadConfig } from './config';
import { stdout } from './telemetry';

/**
 * JSON lines on stdout (for `kubectl logs`). Once tracing runs, the pino
 * instrumentation adds trace_id and span_id to each line written inside a
 * span, and sends the same record as an OTLP log record, so Sentry shows it
 * in its trace.
 */
export const logger = pino(
  {
    level: loadConfig().logLevel,
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  },
  stdout,
);
