import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';

/*
 * RetryingExporter (src/telemetry/export-retry.ts) with scripted exporters:
 * each attempt's outcome is given in advance, the clock is mocked, and the
 * test sees every attempt, every fresh exporter and every report.
 */
const { RetryingExporter } = await import('../dist/telemetry/export-retry.js');

/** An error as the OTLP exporters report it: gRPC codes are numbers below 100, HTTP statuses numbers, network codes strings. */
function failure(message: string, code?: number | string): ExportResult {
  return { code: ExportResultCode.FAILED, error: Object.assign(new Error(message), code === undefined ? {} : { code }) };
}
const SUCCESS: ExportResult = { code: ExportResultCode.SUCCESS };
const UNAVAILABLE = failure('14 UNAVAILABLE: No connection established', 14);
const DEADLINE_EXCEEDED = failure('4 DEADLINE_EXCEEDED: Waiting for LB pick', 4);
const INVALID_ARGUMENT = failure('3 INVALID_ARGUMENT: bad data', 3);

interface Scripted {
  /** Outcomes in order, shared by every exporter the RetryingExporter creates; each answers after `answerMs`. */
  outcomes: ExportResult[];
  answerMs?: number;
}

function scripted({ outcomes, answerMs = 0 }: Scripted) {
  const attempts: Array<{ exporter: number; at: number }> = [];
  const reports: Array<{ kind: 'failed' | 'succeeded'; retryInMs?: number }> = [];
  let exporters = 0;
  const retrying = new RetryingExporter<string>(
    () => {
      const exporter = (exporters += 1);
      return {
        export(_items: string[], done: (result: ExportResult) => void) {
          attempts.push({ exporter, at: Date.now() });
          const outcome = outcomes.shift() ?? SUCCESS;
          setTimeout(() => done(outcome), answerMs);
        },
        shutdown: async () => {},
      };
    },
    {
      attemptFailed: (_error: Error | undefined, retryInMs: number | undefined) => void reports.push({ kind: 'failed', retryInMs }),
      attemptSucceeded: () => void reports.push({ kind: 'succeeded' }),
    },
    { budgetMs: 60_000, attemptTimeoutMs: 10_000, maxHeldItems: 1_000 },
  );
  return { retrying, attempts, reports, exporters: () => exporters };
}

/** Exports one batch and runs the mocked clock until it is done (or `limitMs` have passed). */
async function exportOnce(retrying: InstanceType<typeof RetryingExporter<string>>, limitMs = 120_000): Promise<ExportResult[]> {
  const results: ExportResult[] = [];
  retrying.export(['item'], (result) => results.push(result));
  for (let elapsed = 0; results.length === 0 && elapsed < limitMs; elapsed += 100) {
    mock.timers.tick(100);
    await Promise.resolve();
  }
  return results;
}

beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 }));
afterEach(() => mock.timers.reset());

describe('RetryingExporter: what it retries', () => {
  it('gRPC UNAVAILABLE (a collector starting): retried with backoff, on a fresh exporter, until it succeeds', async () => {
    const { retrying, attempts, reports, exporters } = scripted({ outcomes: [UNAVAILABLE, UNAVAILABLE, SUCCESS] });
    assert.deepEqual((await exportOnce(retrying)).map((r) => r.code), [ExportResultCode.SUCCESS]);
    assert.equal(attempts.length, 3);
    assert.deepEqual(attempts.map((a) => a.exporter), [1, 2, 3], 'a fresh exporter (a fresh connection) after each UNAVAILABLE');
    const gaps = [attempts[1]!.at - attempts[0]!.at, attempts[2]!.at - attempts[1]!.at];
    assert.ok(gaps[0]! >= 800 && gaps[0]! <= 1300, `about 1 s, then about 2 s: ${gaps}`);
    assert.ok(gaps[1]! >= 1600 && gaps[1]! <= 2500, `about 1 s, then about 2 s: ${gaps}`);
    assert.deepEqual(reports.map((r) => r.kind), ['failed', 'failed', 'succeeded']);
    assert.ok(reports.slice(0, 2).every((r) => r.retryInMs !== undefined), 'each failure says a retry follows');
    assert.equal(exporters(), 3);
  });

  it('gRPC DEADLINE_EXCEEDED (a collector whose host vanished): retried on a fresh exporter, which resolves the name again', async () => {
    const { retrying, attempts } = scripted({ outcomes: [DEADLINE_EXCEEDED, SUCCESS] });
    assert.deepEqual((await exportOnce(retrying)).map((r) => r.code), [ExportResultCode.SUCCESS]);
    assert.deepEqual(attempts.map((a) => a.exporter), [1, 2]);
  });

  it('a permanent gRPC error is given up at once, on the same exporter', async () => {
    const { retrying, attempts, reports, exporters } = scripted({ outcomes: [INVALID_ARGUMENT] });
    const [result] = await exportOnce(retrying);
    assert.equal(result!.code, ExportResultCode.FAILED);
    assert.equal(attempts.length, 1);
    assert.deepEqual(reports, [{ kind: 'failed', retryInMs: undefined }]);
    assert.equal(exporters(), 1);
  });

  it('HTTP: 429 and 503 with their status are retried, 400 is not', async () => {
    for (const [status, attempts] of [[429, 2], [503, 2], [400, 1]] as const) {
      const run = scripted({ outcomes: [failure(`status ${status}`, status), SUCCESS] });
      await exportOnce(run.retrying);
      assert.equal(run.attempts.length, attempts, `HTTP ${status}`);
    }
  });

  it('HTTP: what the OTLP/HTTP exporters report when their own retries gave up (no code) is retried', async () => {
    // @opentelemetry/otlp-exporter-base 0.301: otlp-export-delegate.ts and http-transport-utils.ts.
    for (const message of ['Export failed with retryable status', 'Request timed out']) {
      const run = scripted({ outcomes: [failure(message), SUCCESS] });
      assert.deepEqual((await exportOnce(run.retrying)).map((r) => r.code), [ExportResultCode.SUCCESS], message);
      assert.equal(run.attempts.length, 2, message);
    }
    const timedOut = scripted({ outcomes: [failure('Request timed out'), SUCCESS] });
    await exportOnce(timedOut.retrying);
    assert.deepEqual(timedOut.attempts.map((a) => a.exporter), [1, 2], 'a timed-out connection is not reused');
  });

  it('a connection refused or a name not found (network codes) is retried; an unknown code-less error is not', async () => {
    const refused = scripted({ outcomes: [failure('connect ECONNREFUSED', 'ECONNREFUSED'), SUCCESS] });
    await exportOnce(refused.retrying);
    assert.equal(refused.attempts.length, 2);
    // A name that does not resolve (the collector's Service being recreated), as the OTLP/HTTP exporters report it.
    const notFound = scripted({ outcomes: [failure('getaddrinfo ENOTFOUND otel-collector', 'ENOTFOUND'), SUCCESS] });
    await exportOnce(notFound.retrying);
    assert.equal(notFound.attempts.length, 2);
    const unknown = scripted({ outcomes: [failure('something else')] });
    await exportOnce(unknown.retrying);
    assert.equal(unknown.attempts.length, 1);
  });
});

describe('RetryingExporter: the budget', () => {
  it('starts no attempt that could end past the budget (the batch processor gives up there)', async () => {
    // Budget 60 s, attempts of up to 10 s; every attempt times out after 10 s.
    const { retrying, attempts } = scripted({ outcomes: Array.from({ length: 20 }, () => DEADLINE_EXCEEDED), answerMs: 10_000 });
    const started = Date.now();
    const [result] = await exportOnce(retrying);
    assert.equal(result!.code, ExportResultCode.FAILED);
    const last = attempts.at(-1)!;
    assert.ok(last.at + 10_000 <= started + 60_000, `the last attempt started at +${last.at - started} ms and could run until +${last.at + 10_000 - started} ms`);
    assert.ok(Date.now() - started <= 60_000, `given up within the budget: ${Date.now() - started} ms`);
    assert.ok(attempts.length >= 4, `retried while there was time: ${attempts.length} attempts`);
  });

  it('at shutdown: a batch waiting for its retry tries once more at once, and no more if the collector is still away', async () => {
    for (const [second, expected] of [[SUCCESS, ExportResultCode.SUCCESS], [UNAVAILABLE, ExportResultCode.FAILED]] as const) {
      const { retrying, attempts } = scripted({ outcomes: [UNAVAILABLE, second, SUCCESS] });
      const results: ExportResult[] = [];
      retrying.export(['item'], (result) => results.push(result));
      mock.timers.tick(1);
      await Promise.resolve();
      assert.equal(retrying.inFlight, 1, 'waiting for its retry (1 s)');
      retrying.stopRetryingAt(Date.now() + 10_000);
      for (let i = 0; i < 5; i += 1) await Promise.resolve(); // the retry starts
      mock.timers.tick(1); // and is answered
      for (let i = 0; i < 5; i += 1) await Promise.resolve();
      assert.deepEqual(results.map((r) => r.code), [expected]);
      assert.equal(attempts.length, 2, 'one more attempt, at once, not after the backoff');
      assert.equal(retrying.inFlight, 0);
    }
  });

  it('an exporter that throws fails its batch, and the batch behind it still goes', async () => {
    const results: ExportResult[] = [];
    let calls = 0;
    const retrying = new RetryingExporter<string>(
      () => ({
        export(_items: string[], done: (result: ExportResult) => void) {
          calls += 1;
          if (calls === 1) throw new RangeError('Maximum call stack size exceeded');
          done(SUCCESS);
        },
        shutdown: async () => {},
      }),
      { attemptFailed: () => {}, attemptSucceeded: () => {} },
      { budgetMs: 60_000, attemptTimeoutMs: 10_000, maxHeldItems: 1_000 },
    );
    retrying.export(['cyclic'], (result) => results.push(result));
    retrying.export(['next'], (result) => results.push(result));
    assert.deepEqual(results.map((r) => r.code), [ExportResultCode.FAILED, ExportResultCode.SUCCESS]);
    assert.match(String(results[0]!.error), /RangeError/);
    assert.equal(retrying.inFlight, 0);
  });

});
