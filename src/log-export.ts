import { logs } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import {
  BatchLogRecordProcessor,
  ConsoleLogRecordExporter,
  LoggerProvider,
  type LogRecordExporter,
  type LogRecordProcessor,
  type ReadableLogRecord,
} from '@opentelemetry/sdk-logs';
import type { LogExportConfig } from './config';
import { ExportMonitor } from './export-monitor';
import type { Logger } from './logger';
import { otlpLogExporter } from './otlp-exporters';
import type { Shutdown } from './tracing';

/**
 * Sends the service's log records over OTLP to the same collector as
 * the spans. The records themselves come from the logger (logger.ts), which
 * hands each line to the OpenTelemetry logs API. Returns the flushing shutdown.
 */
export function initLogExport(config: LogExportConfig, resource: Resource, log: Logger): Shutdown {
  const exporter = config.enabled ? buildExporter(config, log) : undefined;
  if (!exporter) return async () => {};

  const monitor = exporter instanceof ExportMonitor ? exporter : undefined;
  const provider = new LoggerProvider({
    resource,
    processors: [
      ...(monitor ? [countHandedOver(monitor)] : []),
      new BatchLogRecordProcessor({ exporter, ...config.batch }),
    ],
  });
  logs.setGlobalLoggerProvider(provider);
  return async () => {
    // Lines written from here on go to stdout only.
    logs.disable();
    try {
      await provider.shutdown();
    } catch (error) {
      log.warn({ error: String(error) }, 'some log records could not be delivered at shutdown');
    } finally {
      // The processor skips its exporter's shutdown when the last flush failed;
      // the monitor must still say what was lost.
      await exporter.shutdown();
    }
  };
}

/** Tells the monitor how many records went to the batch processor, so no drop goes unsaid. */
function countHandedOver(monitor: ExportMonitor<ReadableLogRecord>): LogRecordProcessor {
  return {
    onEmit: () => monitor.handedToProcessor(1),
    forceFlush: async () => {},
    shutdown: async () => {},
  };
}

function buildExporter(config: LogExportConfig, log: Logger): LogRecordExporter | undefined {
  switch (config.exporter) {
    case 'none':
      return undefined;
    case 'console':
      return new ConsoleLogRecordExporter();
    case 'otlp':
      return new ExportMonitor<ReadableLogRecord>(otlpLogExporter(config.otlp), log, 'log record', config.otlp.endpoint);
  }
}
