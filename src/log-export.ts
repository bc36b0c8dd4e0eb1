import { logs } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, ConsoleLogRecordExporter, LoggerProvider } from '@opentelemetry/sdk-logs';
import { buildBatchExport, type Shutdown } from './batch-export';
import type { LogExportConfig } from './config';
import { MAX_ATTRIBUTES, MAX_VALUE_LENGTH, type Logger } from './logger';
import { otlpLogExporter } from './otlp-exporters';

/**
 * Sends the service's log records over OTLP to the same collector as
 * the spans. The records themselves come from the logger (logger.ts), which
 * hands each line to the OpenTelemetry logs API. Returns the flushing
 * shutdown. `log` is for the pipeline's reports about itself.
 */
export function initLogExport(config: LogExportConfig, resource: Resource, log: Logger): Shutdown {
  if (!config.enabled) return async () => {};
  const logExport = buildBatchExport(
    {
      what: 'log record',
      consoleExporter: () => new ConsoleLogRecordExporter(),
      otlpExporter: otlpLogExporter,
      batchProcessor: (options) => new BatchLogRecordProcessor(options),
    },
    config,
    log,
  );
  if (!logExport.processor) return async () => {};

  const provider = new LoggerProvider({
    resource,
    logRecordLimits: { attributeCountLimit: MAX_ATTRIBUTES, attributeValueLengthLimit: MAX_VALUE_LENGTH },
    processors: [logExport.processor],
  });
  logs.setGlobalLoggerProvider(provider);
  return async (deadline) => {
    // Lines written from here on go to stdout only.
    logs.disable();
    await logExport.shutdown(deadline, () => provider.shutdown());
  };
}
