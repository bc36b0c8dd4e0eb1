import { SeverityNumber, logs, trace, type Attributes } from '@opentelemetry/api';
import pino from 'pino';
import { loadConfig } from './config';

const SEVERITY: Record<string, SeverityNumber> = {
  trace: SeverityNumber.TRACE,
  debug: SeverityNumber.DEBUG,
  info: SeverityNumber.INFO,
  warn: SeverityNumber.WARN,
  error: SeverityNumber.ERROR,
  fatal: SeverityNumber.FATAL,
};

/**
 * Hands each log line to the OpenTelemetry logs API as a log record.
 * pino writes to it synchronously, inside the caller's context, so the SDK
 * stamps the record with the active span's trace id and span id. Until a
 * LoggerProvider is registered (log export off) the API drops the records.
 */
let emitting = false;
const otlpBridge = {
  write(line: string): void {
    // A line the SDK logs while it handles a record (a diagnostic) goes to stdout only: no loop.
    if (emitting) return;
    emitting = true;
    try {
      emitLogRecord(JSON.parse(line) as Record<string, unknown>);
    } finally {
      emitting = false;
    }
  },
};

function emitLogRecord(line: Record<string, unknown>): void {
  // trace_id and span_id are left out: the SDK sets them from the active span, as proper fields.
  const { level, time, msg, err, trace_id: _traceId, span_id: _spanId, ...fields } = line;
  const attributes: Attributes = {};
  for (const [key, value] of Object.entries(fields)) {
    attributes[key] = typeof value === 'object' && value !== null ? JSON.stringify(value) : (value as string | number | boolean);
  }
  if (err && typeof err === 'object') {
    const { type, message, stack } = err as { type?: string; message?: string; stack?: string };
    Object.assign(attributes, { 'exception.type': type, 'exception.message': message, 'exception.stacktrace': stack });
  }
  logs.getLogger('users-api').emit({
    timestamp: new Date(time as string),
    severityNumber: SEVERITY[level as string],
    severityText: String(level).toUpperCase(),
    body: msg as string,
    attributes,
  });
}

function destinations(): pino.DestinationStream | pino.MultiStreamRes {
  const config = loadConfig();
  const stdout = pino.destination({ fd: 1, sync: true });
  const exporting = config.logExport.enabled && config.logExport.exporter !== 'none';
  return exporting ? pino.multistream([{ stream: stdout, level: 'trace' }, { stream: otlpBridge, level: 'trace' }]) : stdout;
}

/**
 * JSON lines on stdout (for `kubectl logs`), and the same records as OTLP
 * logs. A line written while a span is active carries that span's trace_id
 * and span_id, so a log line leads to its trace and Sentry shows it in the trace.
 */
export const logger = pino(
  {
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
  },
  destinations(),
);

export type Logger = typeof logger;
