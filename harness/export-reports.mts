import type { LogLine } from './service.mts';

/**
 * Reads the lines src/export-monitor.ts writes about one signal's export
 * ("span" or "log record"). The `lost` on the loss lines (queue full, dropped
 * since the last report) adds up to every item lost; the recovered line's
 * `lost` repeats them.
 */
function exportReports(what: 'span' | 'log record') {
  const queueFull = (line: LogLine) => line.msg.startsWith(`${what} queue full`);
  const dropped = (line: LogLine) => line.msg === `${what}s dropped since the last report`;
  return {
    failing: (line: LogLine) => line.msg.startsWith(`${what} export is failing`),
    recovered: (line: LogLine) => line.msg === `${what} export recovered`,
    queueFull,
    dropped,
    /** Either line that counts a loss. */
    loss: (line: LogLine) => queueFull(line) || dropped(line),
  };
}

export const SPAN_REPORTS = exportReports('span');
export const LOG_RECORD_REPORTS = exportReports('log record');

/** The count a report line carries. */
export const lostIn = (line: LogLine) => Number(line.lost ?? 0);
