import assert from 'node:assert/strict';
import { it } from 'node:test';
import { readReports } from '../bench/lib/service-reports.mts';
import { LOG_RECORD_REPORTS, SPAN_REPORTS } from '../harness/export-reports.mts';
import type { LogLine } from '../harness/service.mts';

/*
 * The tests and the benchmark read what the service says about its export
 * from its log lines. They read them as the real ExportMonitor writes them,
 * so a reworded line fails here instead of silently counting nothing.
 */
const { ExportMonitor } = await import('../dist/telemetry/export-monitor.js');

function monitorWriting(lines: LogLine[], what: 'span' | 'log record') {
  const write = (level: string, msg: string, fields: object = {}) => void lines.push({ level, msg, ...fields });
  return new ExportMonitor(what, 'http://127.0.0.1:4317', 3_600_000, write);
}

it('the benchmark and the tests find every span loss the export monitor reports, and no log record loss among them', () => {
  const lines: LogLine[] = [];
  for (const what of ['span', 'log record'] as const) {
    const monitor = monitorWriting(lines, what);
    const signal = what === 'span' ? 'span' : 'log';
    const processed = monitor.meterProvider.getMeter('test').createCounter(`otel.sdk.processor.${signal}.processed`);
    monitor.attemptFailed(new Error('14 UNAVAILABLE: No connection established'), 1_000);
    processed.add(5, { 'error.type': 'queue_full' }); // said at once
    processed.add(3, { 'error.type': 'queue_full' }); // in the summary
    processed.add(2, { 'error.type': 'unavailable' }); // an export given up on
    monitor.attemptSucceeded(); // the summary, then "recovered"
    processed.add(4, { 'error.type': 'queue_full' }); // a new overflow: said at once again
    monitor.shutdown();
  }
  assert.deepEqual(readReports(lines), {
    exportFailingLines: 1,
    dropReportLines: 1,
    recoveredLines: 1,
    spansReportedLost: 5 + 3 + 2 + 4,
    queueOverflowLines: 2,
    // the log record monitor's own: export failing, queue full twice, one summary
    otherWarnings: 4,
  });
  assert.equal(lines.filter(LOG_RECORD_REPORTS.failing).length, 1);
  assert.equal(lines.filter(LOG_RECORD_REPORTS.loss).reduce((sum, line) => sum + Number(line.lost), 0), 14);
  assert.equal(lines.filter(SPAN_REPORTS.recovered).length, 1);
});
