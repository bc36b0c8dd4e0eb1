import { logs } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import {
  BatchLogRecordProcessor,
  ConsoleLogRecordExporter,
  LoggerProvider,
  type LogRecordExporter,
  type ReadableLogRecord,
} from '@opentelemetry/sdk-logs';
import type { LogExportConfig } from './config';
import { settleBy } from './deadline';
import { ExportMonitor } from './export-monitor';
import { RetryingExporter } from './export-retry';
import { MAX_ATTRIBUTES, MAX_VALUE_LENGTH, type Logger } from './logger';
import { otlpLogExporter } from './otlp-exporters';
import type { Shutdown } from './tracing';

/**
 * Sends the service's log records over OTLP to the same collector as
 * the spans. The records themselves come from the logger (logger.ts), which
 * hands each line to the OpenTelemetry logs API. Returns the flushing
 * shutdown. `log` is for the pipeline's reports about itself.
 */
export function initLogExport(config: LogExportConfig, resource: Resource, log: Logger): Shutdown {
  if (!config.enabled) return async () => {};
  const { exporter, monitor } = buildExporter(config, log);
  if (!exporter) return async () => {};

  const provider = new LoggerProvider({
    resource,
    logRecordLimits: { attributeCountLimit: MAX_ATTRIBUTES, attributeValueLengthLimit: MAX_VALUE_LENGTH },
    // The monitor counts what the processor drops or fails to export from the processor's own metrics.
    processors: [new BatchLogRecordProcessor({ exporter, ...config.batch, selfObsMeterProvider: monitor?.meterProvider })],
  });
  logs.setGlobalLoggerProvider(provider);
  return async (deadline) => {
    // Lines written from here on go to stdout only.
    logs.disable();
    const retrying = exporter instanceof RetryingExporter ? exporter : undefined;
    retrying?.stopRetryingAt(deadline);
    const flushed = (await settleBy(provider.shutdown(), deadline)) && (await settleBy(retrying?.idle() ?? Promise.resolve(), deadline));
    monitor?.shutdown(flushed ? 0 : retrying?.inFlight);
  };
}

/** The exporter, and for OTLP the monitor that reports on it. */
function buildExporter(config: LogExportConfig, log: Logger): { exporter?: LogRecordExporter; monitor?: ExportMonitor } {
  switch (config.exporter) {
    case 'none':
      return {};
    case 'console':
      return { exporter: new ConsoleLogRecordExporter() };
    case 'otlp': {
      const monitor = new ExportMonitor(log, 'log record', config.otlp.endpoint);
      // Retries stop before the processor's own export timeout would give up on the batch.
      const exporter = new RetryingExporter<ReadableLogRecord>(() => otlpLogExporter(config.otlp), monitor, config.batch.exportTimeoutMillis);
      return { exporter, monitor };
    }
  }
}
