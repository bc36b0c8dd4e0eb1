import { createNoopMeter, type Attributes, type Counter, type Meter, type MeterProvider } from '@opentelemetry/api';
import { report as writeReport } from './diagnostics';
import type { ExportObserver } from './export-retry';

type Reason = 'queue full' | 'export failed' | 'shutdown deadline';

/**
 * Makes lost spans or log records visible without flooding the log: one line
 * when export starts failing, one when the queue overflows, then one summary
 * per interval of what else was lost and why, and one line when export
 * recovers. The counts on the first three kinds add up to everything lost
 * on this side; the recovery line repeats the total of those from while
 * export failed. Not counted: items a collector took and then rejected in a
 * partial success, an export the exporters report as successful (with a
 * warning line of their own, OTEL_LOG_LEVEL=warn).
 *
 * The counts come from the batch processor itself: its self-observability
 * metrics (`selfObsMeterProvider`, the `otel.sdk.processor.*.processed`
 * counter, whose `error.type` says why an item was not exported), read here
 * as they are recorded, whatever OTEL_LOG_LEVEL says (the SDK itself says
 * nothing of a drop or a failed export below `warn`, and at `warn` writes a
 * stack trace per failed export: test/service.test.mts, "the collector away";
 * the counts at shutdown: test/export-pipeline.test.mts). What was never
 * processed at shutdown is what was handed to the processor (`offered`, told
 * by a processor in front of it) less what it processed: the processor's
 * queue size does not say, since its flush takes the queue out of it. The
 * lines are the kit's reports (diagnostics.ts): on stdout, never exported.
 */
export class ExportMonitor implements ExportObserver {
  /** Hand this to the batch processor as its `selfObsMeterProvider`. */
  readonly meterProvider: MeterProvider;
  private failure: string | undefined;
  private queueFull = false;
  private readonly lostSinceReport = new Map<Reason, number>();
  private lostWhileFailing = 0;
  private offeredCount = 0;
  private processedCount = 0;
  private whenAllProcessed: Array<() => void> = [];
  private closed = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly what: 'span' | 'log record',
    private readonly destination: string,
    reportIntervalMs: number,
    private readonly report: typeof writeReport = writeReport,
  ) {
    this.meterProvider = { getMeter: () => this.processorMeter() };
    this.timer = setInterval(() => this.reportLosses(), reportIntervalMs).unref();
  }

  attemptFailed(error: Error | undefined, retryInMs: number | undefined): void {
    if (this.closed || this.failure !== undefined) return;
    this.failure = error?.message ?? 'unknown error';
    const retrying = retryInMs !== undefined;
    this.report(
      'warn',
      retrying
        ? `${this.what} export is failing; retrying with backoff while ${this.what}s wait in the queue (dropped only if it fills)`
        : `${this.what} export is failing; ${this.what}s are dropped until it recovers (the service keeps serving)`,
      { destination: this.destination, error: this.failure, retrying },
    );
  }

  attemptSucceeded(): void {
    if (this.closed || this.failure === undefined) return;
    this.reportLosses();
    this.report('info', `${this.what} export recovered`, { destination: this.destination, lost: this.lostWhileFailing });
    this.failure = undefined;
    this.lostWhileFailing = 0;
  }

  /** One more item handed to the batch processor. */
  offered(): void {
    this.offeredCount += 1;
  }

  /** Resolves once the processor has exported, dropped or failed every item offered so far. */
  allProcessed(): Promise<void> {
    if (this.processedCount >= this.offeredCount) return Promise.resolve();
    return new Promise((resolve) => this.whenAllProcessed.push(resolve));
  }

  /** The last report, once everything was processed or the shutdown's deadline has passed: what was not processed was never delivered. */
  shutdown(): void {
    if (this.closed) return;
    const undelivered = this.offeredCount - this.processedCount;
    if (undelivered > 0) this.lose('shutdown deadline', undelivered);
    this.reportLosses();
    this.closed = true;
    clearInterval(this.timer);
  }

  /** From the processor's `processed` counter: `error.type` is unset when exported, `queue_full` when dropped, else the export error. */
  private processed(count: number, attributes: Attributes | undefined): void {
    this.processedCount += count;
    if (this.processedCount >= this.offeredCount) for (const resolve of this.whenAllProcessed.splice(0)) resolve();
    const errorType = attributes?.['error.type'];
    if (this.closed || errorType === undefined) return;
    if (errorType === 'queue_full' && !this.queueFull) {
      this.queueFull = true; // said at most once per report interval; later drops go into the summary
      if (this.failure !== undefined) this.lostWhileFailing += count;
      this.report('warn', `${this.what} queue full: ${this.what}s are dropped until export catches up`, { lost: count });
      return;
    }
    this.lose(errorType === 'queue_full' ? 'queue full' : 'export failed', count);
  }

  private lose(reason: Reason, count: number): void {
    this.lostSinceReport.set(reason, (this.lostSinceReport.get(reason) ?? 0) + count);
    if (this.failure !== undefined) this.lostWhileFailing += count;
  }

  private reportLosses(): void {
    this.queueFull = false;
    const byReason = Object.fromEntries([...this.lostSinceReport].filter(([, count]) => count > 0));
    this.lostSinceReport.clear();
    const lost = Object.values(byReason).reduce((sum, count) => sum + count, 0);
    if (lost === 0) return;
    this.report('warn', `${this.what}s dropped since the last report`, { destination: this.destination, error: this.failure, lost, by_reason: byReason });
  }

  /**
   * A Meter that hears the one instrument the monitor needs (the processed
   * counter); every other instrument is a no-op. The metrics API is all it
   * takes: no metrics SDK, nothing exported.
   */
  private processorMeter(): Meter {
    const counter: Counter = { add: (value, attributes) => this.processed(value, attributes) };
    const noop = createNoopMeter();
    return Object.assign(Object.create(noop) as Meter, {
      createCounter: (name: string) => (/^otel\.sdk\.processor\.\w+\.processed$/.test(name) ? counter : noop.createCounter(name)),
    });
  }
}
