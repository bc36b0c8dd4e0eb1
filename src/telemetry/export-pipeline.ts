import type { MeterProvider } from '@opentelemetry/api';
import { settleBy } from './deadline';
import { ExportMonitor } from './export-monitor';
import { RetryingExporter, type Exporter } from './export-retry';
import type { BatchSettings, OtlpExportSettings } from './settings';

/** What a batch processor is given: any exporter that can also be flushed. */
type FlushableExporter<T> = Exporter<T> & { forceFlush(): Promise<void> };

/** What differs between exporting spans and exporting log records. */
export interface SignalExport<T, P> {
  what: 'span' | 'log record';
  otlpExporter: (settings: OtlpExportSettings) => Exporter<T>;
  batchProcessor: (options: BatchSettings & { exporter: FlushableExporter<T>; selfObsMeterProvider: MeterProvider }) => P;
  /** A processor that calls `offered` for each item the batch processor behind it will take. */
  counter: (offered: () => void) => P;
  /** The SDK's console exporter behind its simple processor, as NodeSDK sets up `console`. */
  console: () => P;
}

export interface ExportPipeline<P> {
  /** The processors to give the SDK, in this order: the counter, the batch processor, the console's if asked for. */
  processors: P[];
  /**
   * Once the SDK's shutdown has begun: stops retrying past `deadline` (a
   * Date.now() time), waits up to then until the batch processor has
   * exported or given up on every item it took, then reports what was not
   * delivered.
   */
  finish(deadline: number): Promise<void>;
}

/**
 * The one shape of OTLP export, for spans and log records alike: the official
 * OTLP exporter, retried by RetryingExporter (the gRPC exporters do not retry),
 * watched by ExportMonitor (which counts every loss from the processor's own
 * self-observability metrics), behind the SDK's batch processor.
 * Each pipeline waits for its own items: the SDK's shutdown rejects as soon as
 * one span batch fails, while the log records may still be on their way
 * (test/export-pipeline.test.mts).
 */
export function buildExportPipeline<T, P>(signal: SignalExport<T, P>, settings: OtlpExportSettings, reportIntervalMs: number, also: { console: boolean }): ExportPipeline<P> {
  const monitor = new ExportMonitor(signal.what, settings.destination, reportIntervalMs);
  const retrying = new RetryingExporter<T>(() => signal.otlpExporter(settings), monitor, {
    budgetMs: settings.batch.exportTimeoutMillis,
    attemptTimeoutMs: settings.attemptTimeoutMs,
    maxHeldItems: settings.batch.maxQueueSize + settings.batch.maxExportBatchSize,
  });
  return {
    processors: [
      signal.counter(() => monitor.offered()),
      // SDK 3's processors read no OTEL_BSP_* / OTEL_BLRP_* themselves: the settings pass them in.
      signal.batchProcessor({ exporter: retrying, ...settings.batch, selfObsMeterProvider: monitor.meterProvider }),
      ...(also.console ? [signal.console()] : []),
    ],
    async finish(deadline) {
      retrying.stopRetryingAt(deadline);
      await settleBy(monitor.allProcessed(), deadline);
      monitor.shutdown();
    },
  };
}
