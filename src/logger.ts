import { SeverityNumber, logs, trace, type Attributes } from '@opentelemetry/api';
import pino from 'pino';
import { loadConfig } from './config';

const SEVERITY: Record<number, { number: SeverityNumber; text: string }> = {
  10: { number: SeverityNumber.TRACE, text: 'TRACE' },
  20: { number: SeverityNumber.DEBUG, text: 'DEBUG' },
  30: { number: SeverityNumber.INFO, text: 'INFO' },
  40: { number: SeverityNumber.WARN, text: 'WARN' },
  50: { number: SeverityNumber.ERROR, text: 'ERROR' },
  60: { number: SeverityNumber.FATAL, text: 'FATAL' },
};

let emitting = false;

/**
 * Hands a log call to the OpenTelemetry logs API as a log record, from the
 * call's own arguments (no JSON to parse back). It runs inside the caller's
 * context, so the SDK stamps the record with the active span's trace id and
 * span id. Until a LoggerProvider is registered the API drops the records.
 */
function exportLogCall(args: unknown[], level: number): void {
  // A line the SDK logs while it handles a record (a diagnostic) goes to stdout only: no loop.
  if (emitting) return;
  emitting = true;
  try {
    const [first, second] = args;
    const fields = typeof first === 'object' && first !== null ? first : undefined;
    const message = fields ? second : first;
    const attributes: Attributes = {};
    for (const [key, value] of Object.entries(fields ?? {})) {
      if (value instanceof Error) {
        Object.assign(attributes, { 'exception.type': value.name, 'exception.message': value.message, 'exception.stacktrace': value.stack });
      } else if (typeof value === 'object' && value !== null) {
        attributes[key] = JSON.stringify(value);
      } else if (value !== undefined) {
        attributes[key] = value as string | number | boolean;
      }
    }
    const severity = SEVERITY[level];
    logs.getLogger('users-api').emit({
      timestamp: Date.now(),
      severityNumber: severity?.number,
      severityText: severity?.text,
      body: bodyOf(fields, message),
      attributes,
    });
  } finally {
    emitting = false;
  }
}

/** Sentry drops a log record without a body: a call without a message gets its fields as the body. */
function bodyOf(fields: object | undefined, message: unknown): string {
  if (typeof message === 'string') return message;
  if (fields instanceof Error) return fields.message;
  if (message !== undefined) return String(message);
  try {
    return JSON.stringify(fields ?? {});
  } catch {
    return Object.keys(fields ?? {}).join(', ');
  }
}

const config = loadConfig();
const exportingLogs = config.logExport.enabled && config.logExport.exporter !== 'none';

/**
 * JSON lines on stdout (for `kubectl logs`), and the same records as OTLP
 * logs. A line written while a span is active carries that span's trace_id
 * and span_id, so a log line leads to its trace and Sentry shows it in the trace.
 */
export const logger = pino({
  level: config.logLevel,
  base: undefined,
  timestamp: pino.stdTimeFunctions.isoTime,
  formatters: { level: (label) => ({ level: label }) },
  mixin() {
    const span = trace.getActiveSpan();
    if (!span) return {};
    const { traceId, spanId } = span.spanContext();
    return { trace_id: traceId, span_id: spanId };
  },
  hooks: exportingLogs
    ? {
        logMethod(args, write, level) {
          exportLogCall(args, level);
          write.apply(this, args);
        },
      }
    : {},
});

export type Logger = typeof logger;
