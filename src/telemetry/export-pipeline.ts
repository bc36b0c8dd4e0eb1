import type { MeterProvider } from '@opentelemetry/api';
import { settleBy } from './deadline';
import { ExportMonitor } from './export-monitor';
import { RetryingExporter, type Exporter } from './export-retry';
import type { BatchSettings, OtlpExportSettings } from './settings';

/** What a batch processor is given: any exporter that can also be flushed. */
type FlushableExporter<T> = Exporter<T> & { forceFlush(): Promise<void> };

/** What differs between exporting spans and exporting log records. */
export interface Signal<T, P> {
  what: 'span' | 'log record';
  otlpExporter: (settings: OtlpExportSettings) => Exporter<T>;
  batchProcessor: (options: BatchSettings & { exporter: FlushableExporter<T>; selfObsMeterProvider: MeterProvider }) => P;
}

export interface ExportPipeline<P> {
  /** The batch processor to give the SDK. */
  processor: P;
  /**
   * Stops retrying past `deadline` (a Date.now() time), waits up to then for
   * `flush` (the SDK's shutdown, which flushes the processor) and for the
   * export under way, then reports what was not delivered.
   */
  finish(deadline: number, flush: Promise<void>): Promise<void>;
}

/**
 * The one shape of OTLP export, for spans and log records alike: the official
 * OTLP exporter, retried by RetryingExporter (the gRPC exporters do not retry),
 * watched by ExportMonitor (which counts every loss from the processor's own
 * self-observability metrics), behind the SDK's batch processor.
 */
export function buildExportPipeline<T, P>(signal: Signal<T, P>, settings: OtlpExportSettings, reportIntervalMs: number): ExportPipeline<P> {
  const monitor = new ExportMonitor(signal.what, settings.destination, reportIntervalMs);
  const retrying = new RetryingExporter<T>(() => signal.otlpExporter(settings), monitor, {
    budgetMs: settings.batch.exportTimeoutMillis,
    attemptTimeoutMs: settings.attemptTimeoutMillis,
  });
  return {
    // SDK 3's processors read no OTEL_BSP_* / OTEL_BLRP_* themselves: the settings pass them in.
    processor: signal.batchProcessor({ exporter: retrying, ...settings.batch, selfObsMeterProvider: monitor.meterProvider }),
    async finish(deadline, flush) {
      retrying.stopRetryingAt(deadline);
      // A failed last batch rejects the flush: the monitor has counted it already.
      const flushed = (await settleBy(flush, deadline)) && (await settleBy(retrying.idle(), deadline));
      monitor.shutdown(flushed ? 0 : retrying.inFlight);
    },
  };
}
