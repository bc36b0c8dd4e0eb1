import { ExportResultCode, type ExportResult } from '@opentelemetry/core';

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
 * DATA_LOSS; HTTP 429, 502, 503, 504; and a connection that failed. (The HTTP
 * exporters retry these a few times themselves; this goes on within the budget.)
 */
const RETRYABLE_GRPC = new Set([1, 4, 10, 11, 14, 15]);
const RETRYABLE_HTTP = new Set([429, 502, 503, 504]);
const RETRYABLE_NETWORK = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
const GRPC_UNAVAILABLE = 14;

function isRetryable(error: Error | undefined): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === 'number') return code < 100 ? RETRYABLE_GRPC.has(code) : RETRYABLE_HTTP.has(code);
  return typeof code === 'string' && RETRYABLE_NETWORK.has(code);
}

/**
 * Retries an export the collector could not take (gRPC UNAVAILABLE, as while
 * it starts or restarts) with exponential backoff, as the OTLP specification
 * asks: the 0.301 gRPC exporters do not retry at all. The batch processor
 * waits for the export meanwhile, so new data waits in its queue, and only a
 * full queue drops. A batch is retried while the next attempt would start
 * within `budgetMs` (the processor's export timeout), and not past the
 * shutdown's deadline (see stopRetryingAt).
 *
 * An UNAVAILABLE attempt is retried on a fresh exporter, hence a fresh
 * connection: after a few failed connections gRPC's own reconnection backs
 * off for up to two minutes, long after the collector is back.
 */
export class RetryingExporter<T> implements Exporter<T> {
  private exporter: Exporter<T>;
  private retryUntil = Infinity;
  private failing = false;
  private readonly sleeping = new Set<() => void>();
  private pending = 0;
  private whenIdle: Array<() => void> = [];

  constructor(
    private readonly createExporter: () => Exporter<T>,
    private readonly observer: ExportObserver,
    private readonly budgetMs: number,
  ) {
    this.exporter = createExporter();
  }

  /** Items handed to export() and not yet exported or given up on. */
  get inFlight(): number {
    return this.pending;
  }

  /** Resolves when no export is under way. */
  idle(): Promise<void> {
    return this.pending === 0 ? Promise.resolve() : new Promise((resolve) => this.whenIdle.push(resolve));
  }

  export(items: T[], done: (result: ExportResult) => void): void {
    this.pending += items.length;
    const giveUpAt = Date.now() + this.budgetMs;
    const attempt = (backoffMs: number): void => {
      const exporter = this.exporter;
      exporter.export(items, (result) => {
        this.failing = result.code !== ExportResultCode.SUCCESS;
        if (result.code === ExportResultCode.SUCCESS) {
          this.observer.attemptSucceeded();
          return finish(result);
        }
        const retryInMs = backoffMs * (1 + JITTER * (2 * Math.random() - 1));
        const retry = isRetryable(result.error) && Date.now() + retryInMs < Math.min(giveUpAt, this.retryUntil);
        this.observer.attemptFailed(result.error, retry ? retryInMs : undefined);
        if (!retry) return finish(result);
        if ((result.error as { code?: unknown } | undefined)?.code === GRPC_UNAVAILABLE) this.renew(exporter);
        void this.sleep(retryInMs).then((woken) => (woken ? attempt(Math.min(2 * backoffMs, MAX_BACKOFF_MS)) : finish(result)));
      });
    };
    const finish = (result: ExportResult): void => {
      this.pending -= items.length;
      done(result);
      if (this.pending === 0) for (const resolve of this.whenIdle.splice(0)) resolve();
    };
    attempt(INITIAL_BACKOFF_MS);
  }

  /**
   * For the shutdown: no retry starts after `deadline` (a Date.now() time),
   * and none at all if the last attempt failed (a collector that is away is
   * not waited for; one that just hiccups is). Batches waiting longer give up now.
   */
  stopRetryingAt(deadline: number): void {
    this.retryUntil = Math.min(this.retryUntil, this.failing ? Date.now() : deadline);
    for (const giveUp of this.sleeping) giveUp();
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

  /** Resolves true after `ms`, or false at once if the retry would start past the shutdown's deadline. */
  private sleep(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const wakeAt = Date.now() + ms;
      const giveUp = () => {
        if (wakeAt < this.retryUntil) return;
        clearTimeout(timer);
        this.sleeping.delete(giveUp);
        resolve(false);
      };
      const timer = setTimeout(() => {
        this.sleeping.delete(giveUp);
        resolve(true);
      }, ms);
      this.sleeping.add(giveUp);
    });
  }
}
