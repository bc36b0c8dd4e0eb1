import type { MeterProvider } from '@opentelemetry/api';
import type { BatchConfig, OtlpTarget, SignalExportConfig } from './config';
import { settleBy } from './deadline';
import { ExportMonitor } from './export-monitor';
import { RetryingExporter, type Exporter } from './export-retry';
import type { Logger } from './logger';

/** Flushes what is buffered and stops; gives up at `deadline` (a Date.now() time), saying what was not delivered. */
export type Shutdown = (deadline: number) => Promise<void>;

/** What a batch processor is given: any exporter that can also be flushed. */
type FlushableExporter<T> = Exporter<T> & { forceFlush(): Promise<void> };

/** What differs between exporting spans and exporting log records. */
export interface Signal<T, P> {
  what: 'span' | 'log record';
  consoleExporter: () => FlushableExporter<T>;
  otlpExporter: (target: OtlpTarget) => Exporter<T>;
  batchProcessor: (options: BatchConfig & { exporter: FlushableExporter<T>; selfObsMeterProvider?: MeterProvider }) => P;
}

export interface BatchExport<P> {
  /** The batch processor to give the provider; undefined when the exporter is `none`. */
  processor: P | undefined;
  /**
   * Runs `shutdownProvider` (which flushes the processor) until `deadline`,
   * with no retry past it, then says what was not delivered.
   */
  shutdown(deadline: number, shutdownProvider: () => Promise<void>): Promise<void>;
}

/**
 * The one shape of export, for spans and log records alike: over OTLP, the
 * exporter is watched by the ExportMonitor (which reports failures and
 * losses, counted from the processor's own metrics) and wrapped by the
 * RetryingExporter, behind a batch processor.
 */
export function buildBatchExport<T, P>(signal: Signal<T, P>, config: SignalExportConfig, log: Logger): BatchExport<P> {
  if (config.exporter === 'none') return { processor: undefined, shutdown: async (deadline, shutdownProvider) => void (await settleBy(shutdownProvider(), deadline)) };
  const monitor = config.exporter === 'otlp' ? new ExportMonitor(log, signal.what, config.otlp.endpoint) : undefined;
  // Retries stop before the processor's own export timeout would give up on the batch.
  const retrying = monitor ? new RetryingExporter<T>(() => signal.otlpExporter(config.otlp), monitor, config.batch.exportTimeoutMillis) : undefined;
  const exporter = retrying ?? signal.consoleExporter();
  return {
    // SDK 3's processors read no OTEL_BSP_* / OTEL_BLRP_* themselves: config passes them in.
    processor: signal.batchProcessor({ exporter, ...config.batch, selfObsMeterProvider: monitor?.meterProvider }),
    async shutdown(deadline, shutdownProvider) {
      retrying?.stopRetryingAt(deadline);
      // A failed last batch rejects the flush: the monitor has counted it already.
      const flushed = (await settleBy(shutdownProvider(), deadline)) && (await settleBy(retrying?.idle() ?? Promise.resolve(), deadline));
      monitor?.shutdown(flushed ? 0 : retrying?.inFlight);
    },
  };
}
