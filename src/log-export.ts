import { logs } from '@opentelemetry/api';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-grpc';
import type { Resource } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, ConsoleLogRecordExporter, LoggerProvider, type LogRecordExporter } from '@opentelemetry/sdk-logs';
import type { LogExportConfig } from './config';
import { ExportMonitor } from './export-monitor';
import type { Logger } from './logger';
import type { Shutdown } from './tracing';

/**
 * Sends the service's log records over OTLP gRPC to the same collector as
 * the spans. The records themselves come from the logger (logger.ts), which
 * hands each line to the OpenTelemetry logs API. Returns the flushing shutdown.
 */
export function initLogExport(config: LogExportConfig, resource: Resource, log: Logger): Shutdown {
  const exporter = config.enabled ? buildExporter(config, log) : undefined;
  if (!exporter) return async () => {};

  const provider = new LoggerProvider({
    resource,
    processors: [new BatchLogRecordProcessor({ exporter, ...config.batch })],
  });
  logs.setGlobalLoggerProvider(provider);
  return async () => {
    try {
      await provider.shutdown();
    } catch (error) {
      log.warn({ error: String(error) }, 'some log records could not be delivered at shutdown');
    } finally {
      // Lines written from here on go to stdout only.
      logs.disable();
      // The processor skips its exporter's shutdown when the last flush failed.
      await exporter.shutdown();
    }
  };
}

function buildExporter(config: LogExportConfig, log: Logger): LogRecordExporter | undefined {
  switch (config.exporter) {
    case 'none':
      return undefined;
    case 'console':
      return new ConsoleLogRecordExporter();
    case 'otlp':
      return new ExportMonitor(new OTLPLogExporter({ url: config.endpoint }), log, 'log record', config.endpoint);
  }
}
