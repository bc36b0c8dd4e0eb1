import { DiagLogLevel, diag, type DiagLogger } from '@opentelemetry/api';
import { getStringFromEnv, loggingErrorHandler, setGlobalErrorHandler } from '@opentelemetry/core';
import { stdout } from './stdout';

export type ReportLevel = 'error' | 'warn' | 'info' | 'debug' | 'trace';

/**
 * One JSON line on stdout, shaped like the service's pino lines: the kit's
 * reports about itself (export failing, data dropped, SDK diagnostics). They
 * never go through the log export: a report that export fails must not travel
 * through the export that fails, nor become one more record to lose.
 */
export function report(level: ReportLevel, message: string, fields: Record<string, unknown> = {}): void {
  let line: string;
  try {
    line = JSON.stringify({ level, time: new Date().toISOString(), component: 'telemetry', ...fields, msg: message });
  } catch {
    line = JSON.stringify({ level, time: new Date().toISOString(), component: 'telemetry', msg: message });
  }
  stdout.write(`${line}\n`);
}

/** SDK warnings that say again what ExportMonitor reports, counted, from the processors' metrics (sdk-logs 3.1 says nothing of its drops). */
const REPORTED_BY_MONITOR = /^Dropped \d+ spans because maxQueueSize reached/;
let monitorReportsDrops = false;

let installed = false;

/**
 * What the 0.301 OTLP exporters say about their settings without naming the
 * variable, again for every exporter the RetryingExporter makes after a lost
 * connection, and the gRPC one again at its first send (it reads its
 * certificate files then): while the collector was away, the same line every
 * second (test/config.test.mts, "said once even while the collector is away").
 * From otlp-grpc-exporter-base (otlp-grpc-configuration, otlp-grpc-env-configuration)
 * and otlp-exporter-base (otlp-node-http-env-configuration).
 */
const EXPORTER_SETTINGS_WARNING = /^(URL path should not be set|URL protocol should be|Failed to read (root certificate|client certificate chain|client certificate private key) file|Client key and certificate must both be provided|Configuration: )/;

/**
 * The SDK reads a variable again for every exporter it makes (one per signal, and a
 * fresh one after each lost connection), and warns again each time: a warning about
 * an OTEL_* variable, or one of the exporters' own about their settings, is said
 * once (test/config.test.mts, "serves with bad OTEL_* values"). Others (a partial
 * success, a drop) are news each time. Bounded, in case such a warning ever
 * carries something that changes.
 */
const warned = new Set<string>();
const saidBefore = (message: string): boolean => {
  if (!/\bOTEL_[A-Z_]+/.test(message) && !EXPORTER_SETTINGS_WARNING.test(message)) return false;
  if (warned.has(message)) return true;
  if (warned.size < 256) warned.add(message);
  return false;
};

/**
 * The SDK's own messages (OTEL_LOG_LEVEL) as report lines. The default is
 * `warn`, not the specification's `info`: at `info` the OTLP/HTTP exporters
 * write a line for every failed export. Once per process.
 */
export function routeDiagnostics(): void {
  if (installed) return;
  const raw = getStringFromEnv('OTEL_LOG_LEVEL');
  // A name only: the enum also maps numbers back to names (DiagLogLevel['60'] is 'INFO'), which is no level.
  const level: unknown = raw === undefined ? undefined : DiagLogLevel[raw.trim().toUpperCase() as keyof typeof DiagLogLevel];
  const named = typeof level === 'number' ? (level as DiagLogLevel) : undefined;
  const details = (args: unknown[]) => (args.length > 0 ? { args: args.map((arg) => (arg instanceof Error ? arg.message : arg)) } : {});
  const logger: DiagLogger = {
    error: (message, ...args) => report('error', message, details(args)),
    warn: (message, ...args) => {
      if (!(monitorReportsDrops && REPORTED_BY_MONITOR.test(message)) && !saidBefore(message)) report('warn', message, details(args));
    },
    info: (message, ...args) => report('info', message, details(args)),
    debug: (message, ...args) => report('debug', message, details(args)),
    verbose: (message, ...args) => report('trace', message, details(args)),
  };
  installed = true;
  diag.setLogger(logger, { logLevel: named ?? DiagLogLevel.WARN, suppressOverrideMessage: true });
  if (raw !== undefined && named === undefined) {
    diag.warn(`ignoring OTEL_LOG_LEVEL="${raw}": it must be one of none, error, warn, info, debug, verbose, all; using warn`);
  }
}

/**
 * Leaves out what ExportMonitor reports already: the span processor's "Dropped N
 * spans" where the kit exports the spans, and, where the kit exports every signal
 * that exports at all, whatever the SDK hands its global error handler (down to
 * `debug`): the failed exports, which ExportMonitor reports, and the rarer
 * failures it does not count (a console export, a forced flush, async
 * attributes). Beside an export NodeSDK builds (`zipkin`, or the kit without its
 * export: README, "Dropping the optional parts"), only the kit's own failed
 * exports are left out, and the SDK reports the rest (test/config.test.mts,
 * "OTEL_TRACES_EXPORTER=zipkin").
 */
export function leaveOutWhatTheKitReports({ spans, everyExport }: { spans: boolean; everyExport: boolean }): void {
  monitorReportsDrops = spans;
  const sdkReports = loggingErrorHandler();
  setGlobalErrorHandler((error) => {
    if (everyExport || (error instanceof Error && reportedByTheKit.has(error))) diag.debug(`SDK error: ${String(error)}`);
    else sdkReports(error);
  });
}

/**
 * The failed exports of the kit's own pipelines, which ExportMonitor reports: left
 * out of the SDK's reports even beside an export NodeSDK builds, where they came
 * as a stack trace per failed batch on top of the kit's line (test/config.test.mts,
 * "OTEL_TRACES_EXPORTER=console").
 */
const reportedByTheKit = new WeakSet<Error>();

export function markReportedByExportMonitor(error: Error): Error {
  reportedByTheKit.add(error);
  return error;
}
