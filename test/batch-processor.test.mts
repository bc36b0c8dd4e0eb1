import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { BatchSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace';

/*
 * One batch at a time. The specification promises exporters that "Export()
 * will never be called concurrently for the same exporter instance" (trace/sdk.md,
 * "Export(batch)"). SDK 3.1's BatchSpanProcessor breaks it after a failed
 * export: in _maybeStartTimer, `.finally` starts the next batch and the
 * `.catch` behind it then clears `_isExporting`, so the next span that fills a
 * batch starts one more export beside it (@opentelemetry/sdk-trace
 * dist/export/BatchSpanProcessorBase). While the collector is away, every
 * failure adds one; RetryingExporter keeps the promise for it.
 */
const { RetryingExporter } = await import('../dist/telemetry/export-retry.js');

// The collector is away. RetryingExporter's budget below leaves no time for a retry, so each batch is
// answered in one attempt; the processor's fault follows any failure.
const UNAVAILABLE: ExportResult = { code: ExportResultCode.FAILED, error: Object.assign(new Error('14 UNAVAILABLE: No connection established'), { code: 14 }) };
const NO_TIME_TO_RETRY = { budgetMs: 1, attemptTimeoutMs: 10_000 };

/** An exporter that answers when the test says so, and remembers how many batches it held at once. */
function heldExporter() {
  const waiting: Array<(result: ExportResult) => void> = [];
  const seen = { calls: 0, mostAtOnce: 0 };
  return {
    seen,
    waiting,
    export(_spans: unknown[], done: (result: ExportResult) => void) {
      seen.calls += 1;
      waiting.push(done);
      seen.mostAtOnce = Math.max(seen.mostAtOnce, waiting.length);
    },
    /** Fails the oldest batch, then lets the processor's promise callbacks run. */
    async failOldest() {
      waiting.shift()?.(UNAVAILABLE);
      await new Promise((resolve) => setImmediate(resolve));
    },
    shutdown: async () => {},
    forceFlush: async () => {},
  };
}

/** What the processor reads of a finished span: sampled, and a resource with nothing pending. */
const span = { spanContext: () => ({ traceFlags: 1 }), resource: { asyncAttributesPending: false } } as unknown as ReadableSpan;

// The processor times out an export it handed over after exportTimeoutMillis; an export the test holds keeps
// the test process alive until then, so 2 s rather than a minute (each test takes milliseconds).
const BATCH = { maxExportBatchSize: 10, maxQueueSize: 1_000, scheduledDelayMillis: 60_000, exportTimeoutMillis: 2_000 };

/** A full batch of finished spans: the processor exports it at once unless it thinks an export is running. */
function fillBatch(processor: BatchSpanProcessor): void {
  for (let i = 0; i < BATCH.maxExportBatchSize; i += 1) processor.onEnd(span);
}

/** Three rounds of: a batch fails while the next waits in the queue, then another batch fills. */
async function failWhileBusy(processor: BatchSpanProcessor, exporter: ReturnType<typeof heldExporter>): Promise<void> {
  fillBatch(processor); // exported at once
  for (let round = 0; round < 3; round += 1) {
    fillBatch(processor); // waits: an export is running
    await exporter.failOldest(); // the processor starts the waiting batch, then forgets it is exporting
    fillBatch(processor); // so this one is exported beside it
  }
}

describe('one batch at a time', () => {
  it("SDK 3.1's BatchSpanProcessor calls export() beside a running one after a failed export (if this fails, the SDK is fixed: RetryingExporter's guard can go)", async () => {
    const exporter = heldExporter();
    const processor = new BatchSpanProcessor({ exporter, ...BATCH });
    await failWhileBusy(processor, exporter);
    assert.equal(exporter.seen.mostAtOnce, 4, 'one more batch held at once after each failure');
  });

  it('RetryingExporter hands the exporter below one batch at a time, and while the collector is away keeps one waiting and fails the rest at once, so what it holds is bounded', async () => {
    const exporter = heldExporter();
    const retrying = new RetryingExporter<unknown>(() => exporter, { attemptFailed: () => {}, attemptSucceeded: () => {} }, { ...NO_TIME_TO_RETRY, maxHeldItems: 1_000 });
    const answers: ExportResult[] = [];
    const held: number[] = [];
    const processor = new BatchSpanProcessor({
      exporter: {
        export(spans: unknown[], done: (result: ExportResult) => void) {
          retrying.export(spans, (result) => done(answers[answers.push(result) - 1]!));
          held.push(retrying.inFlight);
        },
        shutdown: () => retrying.shutdown(),
        forceFlush: () => retrying.forceFlush(),
      },
      ...BATCH,
    });
    await failWhileBusy(processor, exporter);
    assert.equal(exporter.seen.mostAtOnce, 1, 'one batch at a time reaches the exporter');
    assert.equal(Math.max(...held), 2 * BATCH.maxExportBatchSize, 'at most two batches held: one exported, one waiting');
    assert.ok(answers.some((answer) => /another waits: dropped/.test(String(answer.error?.message))), 'a batch handed over beside two others is failed at once');
    while (exporter.waiting.length > 0) await exporter.failOldest();
    assert.equal(retrying.inFlight, 0, 'every batch answered');
  });

  it('RetryingExporter after a batch the collector refused (it is up; the batch was bad): the batches handed over at once all wait their turn', async () => {
    const exporter = heldExporter();
    const retrying = new RetryingExporter<unknown>(() => exporter, { attemptFailed: () => {}, attemptSucceeded: () => {} }, { ...NO_TIME_TO_RETRY, maxHeldItems: 1_000 });
    const answers: ExportResult[] = [];
    const batch = () => new Array(BATCH.maxExportBatchSize).fill(0);
    retrying.export(batch(), (result) => answers.push(result));
    exporter.waiting.shift()!({ code: ExportResultCode.FAILED, error: Object.assign(new Error('3 INVALID_ARGUMENT: refused'), { code: 3 }) });
    for (let i = 0; i < 3; i += 1) retrying.export(batch(), (result) => answers.push(result));
    assert.equal(answers.length, 1, 'only the refused batch is answered');
    assert.equal(retrying.inFlight, 3 * BATCH.maxExportBatchSize, 'one exported, two waiting');
  });

  it('RetryingExporter never holds more than a flush hands over, even while the collector answers (slowly)', () => {
    const exporter = heldExporter();
    const retrying = new RetryingExporter<unknown>(() => exporter, { attemptFailed: () => {}, attemptSucceeded: () => {} }, { ...NO_TIME_TO_RETRY, maxHeldItems: 25 });
    const answers: ExportResult[] = [];
    for (let batch = 0; batch < 4; batch += 1) retrying.export(new Array(BATCH.maxExportBatchSize).fill(0), (result) => answers.push(result));
    assert.equal(retrying.inFlight, 20, 'two batches of 10 held: one exported, one waiting');
    assert.equal(answers.length, 2, 'the third and fourth failed at once');
    assert.match(String(answers[0]!.error?.message), /more than a flush hands over: dropped/);
  });
});
