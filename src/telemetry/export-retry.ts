import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { markReportedByExportMonitor } from './diagnostics';

/** What span and log record exporters have in common. */
export interface Exporter<T> {
  export(items: T[], done: (result: ExportResult) => void): void;
  shutdown(): Promise<void>;
  forceFlush?(): Promise<void>;
}

/** Told about every export attempt, to report on them. */
export interface ExportObserver {
  /** An attempt failed; `retryInMs` is set when the batch will be tried again. */
  attemptFailed(error: Error | undefined, retryInMs: number | undefined): void;
  attemptSucceeded(): void;
}

// Backoff between attempts: 1 s, 2 s, 4 s, then every 5 s, each ±20%.
const INITIAL_BACKOFF_MS = 1_000;
const MAX_BACKOFF_MS = 5_000;
const JITTER = 0.2;

/**
 * Codes the OTLP specification says to retry (protocol/exporter.md, "Retry"):
 * gRPC CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE, UNAVAILABLE,
 * DATA_LOSS; HTTP 429, 502, 503, 504; and a connection that failed.
 */
const RETRYABLE_GRPC = new Set([1, 4, 10, 11, 14, 15]);
const RETRYABLE_HTTP = new Set([429, 502, 503, 504]);
// The OTLP/HTTP exporters' own list (@opentelemetry/otlp-exporter-base 0.301,
// http-transport-utils.ts, isHttpTransportNetworkErrorRetryable).
const RETRYABLE_NETWORK = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND']);
const GRPC_DEADLINE_EXCEEDED = 4;
const GRPC_UNAVAILABLE = 14;
/*
 * The OTLP/HTTP exporters retry 429/502/503/504 and timeouts themselves, for
 * up to their own timeout; when they give up, the error they report carries
 * no code, only one of these messages (@opentelemetry/otlp-exporter-base
 * 0.301: otlp-export-delegate.ts, "Export failed with retryable status";
 * http-transport-utils.ts, "Request timed out").
 */
const HTTP_GAVE_UP_RETRYABLE = 'Export failed with retryable status';
const HTTP_TIMED_OUT = 'Request timed out';

function errorCode(error: Error | undefined): unknown {
  return (error as { code?: unknown } | undefined)?.code;
}

function isRetryable(error: Error | undefined): boolean {
  const code = errorCode(error);
  if (typeof code === 'number') return code < 100 ? RETRYABLE_GRPC.has(code) : RETRYABLE_HTTP.has(code);
  if (typeof code === 'string') return RETRYABLE_NETWORK.has(code);
  return error?.message === HTTP_GAVE_UP_RETRYABLE || error?.message === HTTP_TIMED_OUT;
}

/**
 * After these the connection itself is suspect: retried on a fresh exporter.
 * UNAVAILABLE: after a few failed connections gRPC's own reconnection backs
 * off for up to two minutes, long after the collector is back.
 * DEADLINE_EXCEEDED or an HTTP timeout: the collector's host may have vanished
 * without closing the connection (a deleted pod); measured on a real cluster,
 * the old channel kept failing with "Waiting for LB pick" for 70–150 s, while
 * a fresh one resolves the name again and reaches the new collector
 * (test/collector-rollout.test.mts, "a collector whose host vanishes").
 */
function needsFreshConnection(error: Error | undefined): boolean {
  const code = errorCode(error);
  return code === GRPC_UNAVAILABLE || code === GRPC_DEADLINE_EXCEEDED || error?.message === HTTP_TIMED_OUT;
}

export interface RetryBudget {
  /** A batch is given up once this long has passed (the batch processor's export timeout). */
  budgetMs: number;
  /** How long one attempt may take (the exporter's timeout): no retry starts that could end past the budget. */
  attemptTimeoutMs: number;
  /** The most items held at once, exported or waiting: what the processor's flush hands over at once (its queue, and the batch under way). */
  maxHeldItems: number;
}

/**
 * Retries an export the collector could not take (gRPC UNAVAILABLE, as while
 * it starts or restarts) with exponential backoff, as the OTLP specification
 * asks: the 0.301 gRPC exporters do not retry at all, and the HTTP ones only
 * within one export timeout (test/reliability.test.mts, "a collector that
 * starts late", over both). The batch processor waits for the export
 * meanwhile, so new data waits in its queue, and a full queue drops (as do
 * batches the processor hands over beside the one under way, see export()). A
 * retry starts only if it would end within the budget, and not past the
 * shutdown's deadline (see stopRetryingAt).
 * Not read: the server's own delay. The HTTP exporters honour a Retry-After
 * within their timeout; a longer one, like any failure, gets the backoff
 * below. gRPC's RetryInfo (which the 0.301 exporter does not decode) is not
 * seen, so RESOURCE_EXHAUSTED, retryable only with it, is not retried.
 */
export class RetryingExporter<T> implements Exporter<T> {
  private exporter: Exporter<T>;
  private retryUntil = Infinity;
  /** The last attempt failed in a way worth retrying: the collector is not taking data. */
  private collectorAway = false;
  /** Retries waiting for their time: each wakes early if the shutdown's deadline comes first. */
  private readonly sleeping = new Set<() => void>();
  private pending = 0;
  private exporting = false;
  private readonly waiting: Array<() => void> = [];

  constructor(
    private readonly createExporter: () => Exporter<T>,
    private readonly observer: ExportObserver,
    private readonly budget: RetryBudget,
  ) {
    this.exporter = createExporter();
  }

  /** Items handed to export() and not yet exported or given up on. */
  get inFlight(): number {
    return this.pending;
  }

  /**
   * One batch at a time, as the specification promises exporters ("Export()
   * will never be called concurrently"); batches handed over meanwhile wait
   * their turn. The processor's flush (at shutdown, or forceFlush) hands over
   * every queued batch at once, and all of them are delivered
   * (test/export-pipeline.test.mts, "a shutdown with three batches queued").
   * SDK 3.1's BatchSpanProcessor also breaks the promise after every failed
   * export (its `.catch` clears `_isExporting` after its `.finally` has started
   * the next batch), so while the collector was away the batches held here grew
   * by one per failure: 23 of them, 36,784 spans and records, after 5 minutes
   * at 800 requests/s, and the pod-shaped service was OOM-killed 8 minutes into
   * the soak's outage (docs/performance.md, "The soak";
   * test/batch-processor.test.mts, "one batch at a time"). So while the
   * collector is away one batch waits and any further one is failed at once,
   * and the processor counts it lost; and never is more held than one flush
   * hands over. Not once the shutdown has begun: its flush hands over every
   * queued batch at once, and each gets its turn, even after the collector
   * failed once (test/export-pipeline.test.mts, "a collector that failed just
   * before the shutdown"). The budget runs from here, as the processor's own
   * timeout does.
   */
  export(items: T[], answer: (result: ExportResult) => void): void {
    // Every loss is counted from the processor's metrics and reported by ExportMonitor, not again by the SDK.
    const done = (result: ExportResult) => {
      if (result.code === ExportResultCode.SUCCESS) return answer(result);
      answer({ code: result.code, error: markReportedByExportMonitor(result.error ?? new Error(`${items.length} items not exported`)) });
    };
    const giveUpAt = Date.now() + this.budget.budgetMs;
    const shuttingDown = this.retryUntil !== Infinity;
    if (this.exporting && this.waiting.length > 0 && this.collectorAway && !shuttingDown) {
      return done({ code: ExportResultCode.FAILED, error: new Error('export() called while the collector is away, a batch is exported and another waits: dropped') });
    }
    if (this.pending + items.length > this.budget.maxHeldItems) {
      return done({ code: ExportResultCode.FAILED, error: new Error(`export() called with ${this.pending} items held, more than a flush hands over: dropped`) });
    }
    this.pending += items.length;
    if (this.exporting) this.waiting.push(() => this.start(items, done, giveUpAt));
    else this.start(items, done, giveUpAt);
  }

  private start(items: T[], done: (result: ExportResult) => void, giveUpAt: number): void {
    this.exporting = true;
    const finish = (result: ExportResult): void => {
      this.pending -= items.length;
      this.exporting = false;
      this.waiting.shift()?.(); // before `done`, which may hand over a batch at once: that one waits behind it
      done(result);
    };
    const attempt = (backoffMs: number): void => {
      const exporter = this.exporter;
      const answered = (result: ExportResult): void => {
        this.collectorAway = result.code !== ExportResultCode.SUCCESS && isRetryable(result.error);
        if (result.code === ExportResultCode.SUCCESS) {
          this.observer.attemptSucceeded();
          return finish(result);
        }
        const retryInMs = backoffMs * (1 + JITTER * (2 * Math.random() - 1));
        const startsAt = Date.now() + retryInMs;
        const retry = isRetryable(result.error) && startsAt + this.budget.attemptTimeoutMs <= giveUpAt && startsAt < this.retryUntil;
        this.observer.attemptFailed(result.error, retry ? retryInMs : undefined);
        if (needsFreshConnection(result.error)) this.renew(exporter);
        if (!retry) return finish(result);
        void this.sleep(retryInMs).then(() => attempt(Math.min(2 * backoffMs, MAX_BACKOFF_MS)));
      };
      try {
        exporter.export(items, answered);
      } catch (error) {
        // The SDK's processors outlive an exporter that throws (a log body that cannot be
        // serialized, say), and so must the batches behind this one: this batch fails.
        answered({ code: ExportResultCode.FAILED, error: error instanceof Error ? error : new Error(String(error)) });
      }
    };
    attempt(INITIAL_BACKOFF_MS);
  }

  /**
   * For the shutdown: no retry starts after `deadline` (a Date.now() time),
   * and none at all if the collector was away at the last attempt (it is not
   * waited for; one that just hiccups is). A batch waiting for a retry later
   * than that tries once more now, rather than give up untried.
   */
  stopRetryingAt(deadline: number): void {
    this.retryUntil = Math.min(this.retryUntil, this.collectorAway ? Date.now() : deadline);
    for (const wakeEarly of this.sleeping) wakeEarly();
  }

  forceFlush(): Promise<void> {
    return this.exporter.forceFlush?.() ?? Promise.resolve();
  }

  async shutdown(): Promise<void> {
    this.stopRetryingAt(Date.now());
    await this.exporter.shutdown();
  }

  private renew(failed: Exporter<T>): void {
    if (failed !== this.exporter) return; // another batch renewed it already
    this.exporter = this.createExporter();
    failed.shutdown().catch(() => {});
  }

  /** Resolves after `ms`, or at once if the shutdown's deadline comes first: then the retry is the batch's last. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wakeAt = Date.now() + ms;
      const wake = () => {
        clearTimeout(timer);
        this.sleeping.delete(wakeEarly);
        resolve();
      };
      const wakeEarly = () => {
        if (wakeAt >= this.retryUntil) wake();
      };
      const timer = setTimeout(wake, ms);
      this.sleeping.add(wakeEarly);
    });
  }
}
