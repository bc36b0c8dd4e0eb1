import { ROOT_CONTEXT, context } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import type { Logger } from './logger';

/**
 * Wraps the span exporter to make failed exports visible without flooding
 * the log: one line when export starts failing, one summary of the spans
 * lost in each interval while it keeps failing, one line when it recovers.
 * (The OTLP gRPC exporter does not retry, and the SDK reports nothing by
 * default: a collector that is away would otherwise lose spans silently.)
 */
export class ExportMonitor implements SpanExporter {
  private failure: string | undefined;
  private lostSinceReport = 0;
  private lostWhileFailing = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly exporter: SpanExporter,
    private readonly log: Logger,
    private readonly destination: string,
    reportIntervalMs = 30_000,
  ) {
    this.timer = setInterval(() => this.reportLosses(), reportIntervalMs).unref();
  }

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.exporter.export(spans, (result) => {
      // The batch was handed over inside whichever request filled it: report outside any trace.
      context.with(ROOT_CONTEXT, () => {
        if (result.code === ExportResultCode.SUCCESS) this.succeeded();
        else this.failed(spans.length, result.error);
      });
      done(result);
    });
  }

  forceFlush(): Promise<void> {
    return this.exporter.forceFlush?.() ?? Promise.resolve();
  }

  async shutdown(): Promise<void> {
    clearInterval(this.timer);
    this.reportLosses();
    await this.exporter.shutdown();
  }

  private failed(spanCount: number, error: Error | undefined): void {
    this.lostSinceReport += spanCount;
    this.lostWhileFailing += spanCount;
    if (this.failure !== undefined) return;
    this.failure = error?.message ?? 'unknown error';
    this.log.warn(
      { destination: this.destination, error: this.failure, lost_spans: spanCount },
      'trace export is failing; spans are dropped until it recovers (the service keeps serving)',
    );
    this.lostSinceReport = 0;
  }

  private succeeded(): void {
    if (this.failure === undefined) return;
    this.reportLosses();
    this.log.info({ destination: this.destination, lost_spans: this.lostWhileFailing }, 'trace export recovered');
    this.failure = undefined;
    this.lostWhileFailing = 0;
  }

  private reportLosses(): void {
    if (this.lostSinceReport === 0) return;
    this.log.warn(
      { destination: this.destination, error: this.failure, lost_spans: this.lostSinceReport },
      'spans dropped since the last report: trace export still failing',
    );
    this.lostSinceReport = 0;
  }
}
