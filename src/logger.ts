import { formatWithOptions } from 'node:util';
import { SeverityNumber, logs, trace, type AttributeValue, type Attributes } from '@opentelemetry/api';
import pino from 'pino';
import { loadConfig } from './config';
import { stdout } from './stdout';

const SEVERITY: Record<number, { number: SeverityNumber; text: string }> = {
  10: { number: SeverityNumber.TRACE, text: 'TRACE' },
  20: { number: SeverityNumber.DEBUG, text: 'DEBUG' },
  30: { number: SeverityNumber.INFO, text: 'INFO' },
  40: { number: SeverityNumber.WARN, text: 'WARN' },
  50: { number: SeverityNumber.ERROR, text: 'ERROR' },
  60: { number: SeverityNumber.FATAL, text: 'FATAL' },
};

/** What one log call can put in a record: each value (and the body) is cut at this length... */
export const MAX_VALUE_LENGTH = 4096;
/** ...and at most this many fields become attributes (the OTEL_ATTRIBUTE_COUNT_LIMIT default). */
export const MAX_ATTRIBUTES = 128;
/** How much of a nested object is looked at to serialize it, whatever its size. */
const MAX_SERIALIZED_VALUES = 1000;

const truncate = (text: string) => (text.length > MAX_VALUE_LENGTH ? `${text.slice(0, MAX_VALUE_LENGTH - 1)}…` : text);

/**
 * An object as bounded JSON, whatever it holds: circular references,
 * BigInts, Symbols and functions are written as text, a throwing getter or
 * toJSON as a note, and only the first MAX_SERIALIZED_VALUES values are visited.
 */
function toJson(value: unknown): string {
  const ancestors: unknown[] = [];
  let visited = 0;
  try {
    return truncate(
      JSON.stringify(value, function (this: unknown, _key, item: unknown) {
        if ((visited += 1) > MAX_SERIALIZED_VALUES) return '[…]';
        if (typeof item === 'bigint' || typeof item === 'symbol' || typeof item === 'function') return String(item);
        if (typeof item !== 'object' || item === null) return item;
        // JSON.stringify calls this with `this` the object holding `item`: drop the ancestors we have left.
        while (ancestors.length > 0 && ancestors.at(-1) !== this) ancestors.pop();
        if (ancestors.includes(item)) return '[Circular]';
        ancestors.push(item);
        return item;
      }) ?? String(value),
    );
  } catch (error) {
    return `[unserializable: ${(error as Error)?.message ?? String(error)}]`;
  }
}

function toAttributeValue(value: unknown): AttributeValue | undefined {
  switch (typeof value) {
    case 'string':
      return truncate(value);
    case 'number':
    case 'boolean':
      return value;
    case 'undefined':
      return undefined;
    case 'bigint':
    case 'symbol':
    case 'function':
      return truncate(String(value));
    default:
      return value === null ? undefined : toJson(value);
  }
}

function errorAttributes(error: Error): Attributes {
  return {
    'exception.type': toAttributeValue(error.name),
    'exception.message': toAttributeValue(error.message),
    'exception.stacktrace': toAttributeValue(error.stack),
  };
}

/** The message with its printf-style arguments (`%s`, `%d`, `%o`, `%j`) formatted in, as Node's util.format does. */
function formatMessage(message: unknown, rest: unknown[]): string | undefined {
  if (message === undefined || message === null) return undefined;
  try {
    return truncate(formatWithOptions({ depth: 3, breakLength: Infinity, maxArrayLength: 50, maxStringLength: MAX_VALUE_LENGTH }, message, ...rest));
  } catch (error) {
    return `[unformattable message: ${(error as Error)?.message ?? String(error)}]`;
  }
}

/**
 * Hands a log call to the OpenTelemetry logs API as a log record, from the
 * call's own arguments (no JSON to parse back). It runs inside the caller's
 * context, so the SDK stamps the record with the active span's trace id and
 * span id. Until a LoggerProvider is registered the API drops the records.
 * Every value can be logged, every record has a body (Sentry drops a record
 * without one), and one call exports at most MAX_ATTRIBUTES values of
 * MAX_VALUE_LENGTH characters.
 */
function toLogRecord(args: unknown[], level: number): void {
  const [first, ...rest] = args;
  const fields = typeof first === 'object' && first !== null ? first : undefined;
  const [message, ...formatArgs] = fields ? rest : args;
  const attributes: Attributes = {};
  let count = 0;
  if (fields instanceof Error) Object.assign(attributes, errorAttributes(fields));
  else if (fields) {
    for (const key in fields) {
      if (!Object.hasOwn(fields, key)) continue;
      if ((count += 1) > MAX_ATTRIBUTES) break;
      let value: unknown;
      try {
        value = (fields as Record<string, unknown>)[key];
      } catch (error) {
        value = `[unreadable: ${(error as Error)?.message ?? String(error)}]`;
      }
      if (value instanceof Error) Object.assign(attributes, errorAttributes(value));
      else attributes[key] = toAttributeValue(value);
    }
  }
  const body = formatMessage(message, formatArgs) ?? (fields instanceof Error ? fields.message : fields ? toJson(fields) : '');
  const severity = SEVERITY[level];
  logs.getLogger('users-api').emit({
    timestamp: Date.now(),
    severityNumber: severity?.number,
    severityText: severity?.text,
    body,
    attributes,
  });
}

let emitting = false;
let bridgeFailure: string | undefined;

function exportLogCall(args: unknown[], level: number): void {
  // A line the SDK logs while it handles a record (a diagnostic) goes to stdout only: no loop.
  if (emitting) return;
  emitting = true;
  try {
    toLogRecord(args, level);
  } catch (error) {
    // Never the caller's problem: the line still goes to stdout. Said once, on stdout only.
    if (bridgeFailure === undefined) {
      bridgeFailure = String(error);
      telemetryLogger.error({ error: bridgeFailure }, 'a log call could not be turned into an OTLP log record; its line is on stdout only');
    }
  } finally {
    emitting = false;
  }
}

const config = loadConfig();
const exportingLogs = config.logExport.enabled && config.logExport.exporter !== 'none';

const lineFormat = {
  level: config.logLevel,
  base: undefined,
  timestamp: pino.stdTimeFunctions.isoTime,
  formatters: { level: (label: string) => ({ level: label }) },
};

/**
 * JSON lines on stdout (for `kubectl logs`), and the same records as OTLP
 * logs. A line written while a span is active carries that span's trace_id
 * and span_id, so a log line leads to its trace and Sentry shows it in the trace.
 */
export const logger = pino(
  {
    ...lineFormat,
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
  },
  stdout,
);

/**
 * The telemetry pipeline's reports about itself (export failing, data
 * dropped, SDK diagnostics): the same JSON lines on stdout, never exported.
 * A report that export is failing must not travel through the export that
 * fails, nor become one more record to lose.
 */
export const telemetryLogger = pino(lineFormat, stdout);

export type Logger = typeof logger;
