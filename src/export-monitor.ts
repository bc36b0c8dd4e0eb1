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
 * Wraps an exporter to make lost data visible without flooding the log: one
 * line when export starts failing, one when the queue overflows, then one
 * summary per interval of what else was lost and why, and one line when
 * export recovers; the counts on these lines add up to everything lost.
 * (The OTLP gRPC exporters do not retry, and the SDK reports nothing by
 * default: a collector that is away would otherwise lose data silently.)
 */
export class ExportMonitor<T> implements Exporter<T> {
  private failure: string | undefined;
  private queueFull = false;
  private readonly lostSinceReport = new Map<string, number>();
  private lostWhileFailing = 0;
  private handedOver = 0;
  private exportedOrFailed = 0;
  private droppedByQueue = 0;
  private closed = false;
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

  /** Counts what was handed to the batch processor, to find at shutdown what its full queue dropped unseen. */
  handedToProcessor(count: number): void {
    this.handedOver += count;
  }

  export(items: T[], done: (result: ExportResult) => void): void {
    this.exporter.export(items, (result) => {
      this.exportedOrFailed += items.length;
      // The batch was handed over inside whichever request filled it: report outside any trace.
      this.inRoot(() => {
        if (result.code === ExportResultCode.SUCCESS) this.succeeded();
        else this.failed(items.length, result.error);
      });
      done(result);
    });
  }

  /** The batch processor's queue was full: `count` items were dropped before export. */
  droppedByFullQueue(count: number): void {
    this.droppedByQueue += count;
    this.inRoot(() => {
      if (this.queueFull) return this.lose('queue full', count);
      this.queueFull = true; // said at most once per report interval
      this.log.warn({ lost: count }, `${this.what} queue full: ${this.what}s are dropped until export catches up`);
    });
  }

  forceFlush(): Promise<void> {
    return this.exporter.forceFlush?.() ?? Promise.resolve();
  }

  async shutdown(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    // The processor has flushed: whatever it was handed and neither exported nor reported was dropped by its full queue.
    const unseen = this.handedOver - this.exportedOrFailed - this.droppedByQueue;
    if (this.handedOver > 0 && unseen > 0) this.lose('queue full', unseen);
    this.inRoot(() => this.reportLosses());
    await this.exporter.shutdown();
  }

  private failed(count: number, error: Error | undefined): void {
    this.lostWhileFailing += count;
    if (this.failure !== undefined) return this.lose('export failing', count);
    this.failure = error?.message ?? 'unknown error';
    this.log.warn(
      { destination: this.destination, error: this.failure, lost: count },
      `${this.what} export is failing; ${this.what}s are dropped until it recovers (the service keeps serving)`,
    );
  }

  private succeeded(): void {
    if (this.failure === undefined) return;
    this.reportLosses();
    this.log.info({ destination: this.destination, lost: this.lostWhileFailing }, `${this.what} export recovered`);
    this.failure = undefined;
    this.lostWhileFailing = 0;
  }

  private lose(reason: string, count: number): void {
    this.lostSinceReport.set(reason, (this.lostSinceReport.get(reason) ?? 0) + count);
  }

  private reportLosses(): void {
    this.queueFull = false;
    if (this.lostSinceReport.size === 0) return;
    const byReason = Object.fromEntries(this.lostSinceReport);
    const lost = [...this.lostSinceReport.values()].reduce((sum, count) => sum + count, 0);
    this.lostSinceReport.clear();
    this.log.warn({ destination: this.destination, error: this.failure, lost, by_reason: byReason }, `${this.what}s dropped since the last report`);
  }

  private inRoot(report: () => void): void {
    context.with(ROOT_CONTEXT, report);
  }
}
