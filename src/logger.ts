import { trace } from '@opentelemetry/api';
import pino from 'pino';
import { loadConfig } from './config';

/**
 * JSON lines on stdout. A line written while a span is active carries that
 * span's trace_id and span_id, so a log line leads to its trace.
 */
export const logger = pino({
  level: loadConfig().logLevel,
  base: undefined,
  timestamp: pino.stdTimeFunctions.isoTime,
  formatters: { level: (label) => ({ level: label }) },
  mixin() {
    const span = trace.getActiveSpan();
    if (!span) return {};
    const { traceId, spanId } = span.spanContext();
    return { trace_id: traceId, span_id: spanId };
  },
});

export type Logger = typeof logger;
