import { ROOT_CONTEXT, context } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { Logger } from './logger';

/** What span and log record exporters have in common. */
interface Exporter<T> {
  export(items: T[], done: (result: ExportResult) => void): void;
  shutdown(): Promise<void>;
  forceFlush?(): Promise<void>;
}

/**
 * Wraps an exporter to make failed exports visible without flooding the
 * log: one line when export starts failing, one summary of what was lost in
 * each interval while it keeps failing, one line when it recovers. (The OTLP
 * gRPC exporters do not retry, and the SDK reports nothing by default: a
 * collector that is away would otherwise lose data silently.)
 */
export class ExportMonitor<T> implements Exporter<T> {
  private failure: string | undefined;
  private lostSinceReport = 0;
  private lostWhileFailing = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly exporter: Exporter<T>,
    private readonly log: Logger,
    private readonly what: 'span' | 'log record',
    private readonly destination: string,
    reportIntervalMs = 30_000,
  ) {
    this.timer = setInterval(() => this.inRoot(() => this.reportLosses()), reportIntervalMs).unref();
  }

  export(items: T[], done: (result: ExportResult) => void): void {
    this.exporter.export(items, (result) => {
      // The batch was handed over inside whichever request filled it: report outside any trace.
      this.inRoot(() => {
        if (result.code === ExportResultCode.SUCCESS) this.succeeded();
        else this.failed(items.length, result.error);
      });
      done(result);
    });
  }

  forceFlush(): Promise<void> {
    return this.exporter.forceFlush?.() ?? Promise.resolve();
  }

  async shutdown(): Promise<void> {
    clearInterval(this.timer);
    this.inRoot(() => this.reportLosses());
    await this.exporter.shutdown();
  }

  private failed(count: number, error: Error | undefined): void {
    this.lostSinceReport += count;
    this.lostWhileFailing += count;
    if (this.failure !== undefined) return;
    this.failure = error?.message ?? 'unknown error';
    this.log.warn(
      { destination: this.destination, error: this.failure, lost: count },
      `${this.what} export is failing; ${this.what}s are dropped until it recovers (the service keeps serving)`,
    );
    this.lostSinceReport = 0;
  }

  private succeeded(): void {
    if (this.failure === undefined) return;
    this.reportLosses();
    this.log.info({ destination: this.destination, lost: this.lostWhileFailing }, `${this.what} export recovered`);
    this.failure = undefined;
    this.lostWhileFailing = 0;
  }

  private reportLosses(): void {
    if (this.lostSinceReport === 0) return;
    this.log.warn(
      { destination: this.destination, error: this.failure, lost: this.lostSinceReport },
      `${this.what}s dropped since the last report: export still failing`,
    );
    this.lostSinceReport = 0;
  }

  private inRoot(report: () => void): void {
    context.with(ROOT_CONTEXT, report);
  }
}
