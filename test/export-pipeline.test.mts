import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ROOT } from '../harness/service.mts';

/*
 * Nothing lost at shutdown that could be delivered, and what could not be is
 * reported, to the item: the kit's pipelines (RetryingExporter, ExportMonitor)
 * behind the SDK's own batch processors and providers, shut down as init.ts
 * does it, with exporters that answer as each case says
 * (test/fixtures/pipeline-shutdown.mjs).
 */
interface Outcome {
  delivered: { spans: number; logs: number };
  /** What the kit's reports say was lost, by signal and reason. */
  lost: Record<'span' | 'log record', Record<string, number>>;
}

function shutDown(scenario: object): Outcome {
  const run = spawnSync(process.execPath, [join(ROOT, 'test/fixtures/pipeline-shutdown.mjs')], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', SCENARIO: JSON.stringify(scenario) },
    timeout: 60_000,
  });
  assert.equal(run.status, 0, run.stderr);
  const lines = run.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
  const lost: Outcome['lost'] = { span: {}, 'log record': {} };
  for (const line of lines.filter((l) => / dropped since the last report$/.test(String(l.msg)))) {
    const what = String(line.msg).startsWith('log record') ? 'log record' : 'span';
    for (const [reason, count] of Object.entries(line.by_reason as Record<string, number>)) lost[what][reason] = (lost[what][reason] ?? 0) + count;
  }
  const summary = lines.find((line) => 'delivered' in line);
  assert.ok(summary, `the fixture's summary line: ${run.stdout}`);
  return { ...(summary as Pick<Outcome, 'delivered'>), lost };
}

describe('the export pipelines at shutdown', () => {
  it('a shutdown with three batches queued behind one in flight delivers every span (the processor hands them over at once)', () => {
    const outcome = shutDown({ spans: { count: 5000, answer: 'after 100 ms', inFlightFirst: true }, logs: { count: 0, answer: 'after 10 ms' }, deadlineMs: 10_000 });
    assert.equal(outcome.delivered.spans, 2048 + 5000);
    assert.deepEqual(outcome.lost, { span: {}, 'log record': {} });
  });

  it('a collector that failed just before the shutdown (one UNAVAILABLE) still gets every queued batch: none is dropped untried', () => {
    // The batch in flight waits for its retry; the flush hands over four more behind it. Each gets its turn.
    const outcome = shutDown({ spans: { count: 8000, answer: 'unavailable once, then after 10 ms', inFlightFirst: true }, logs: { count: 0, answer: 'after 10 ms' }, deadlineMs: 10_000 });
    assert.equal(outcome.delivered.spans, 2048 + 8000);
    assert.deepEqual(outcome.lost, { span: {}, 'log record': {} });
  });

  it('log records a collector never takes are reported lost at the deadline, every one of them, not only the batch on its way', () => {
    const outcome = shutDown({ spans: { count: 0, answer: 'after 10 ms' }, logs: { count: 2000, answer: 'never' }, deadlineMs: 500 });
    assert.equal(outcome.delivered.logs, 0);
    assert.deepEqual(outcome.lost['log record'], { 'shutdown deadline': 2000 });
  });

  it('a refused span batch does not end the wait for the log records (the SDK\'s shutdown rejects at once when it is refused)', () => {
    const outcome = shutDown({ spans: { count: 1, answer: 'refused' }, logs: { count: 2000, answer: 'after 100 ms' }, deadlineMs: 10_000 });
    assert.equal(outcome.delivered.logs, 2000);
    assert.deepEqual(outcome.lost, { span: { 'export failed': 1 }, 'log record': {} });
  });
});
