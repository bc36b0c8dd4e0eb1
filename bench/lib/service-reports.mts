import { SPAN_REPORTS, lostIn } from '../../harness/export-reports.mts';
import type { LogLine } from '../../harness/service.mts';

/** What the traced service said about its span export: the lines ExportMonitor (src/export-monitor.ts) writes. */
export interface ServiceReports {
  /** "span export is failing; …": once when export starts failing. */
  exportFailingLines: number;
  /** "spans dropped since the last report": one per report interval with losses, and one at shutdown. */
  dropReportLines: number;
  recoveredLines: number;
  /** Spans the service said it lost: the `lost` of the queue-full and dropped lines, which add up to every loss. */
  spansReportedLost: number;
  /** "span queue full: …": at most once per report interval. */
  queueOverflowLines: number;
  /** Any other warning or error (log-record export reports included). */
  otherWarnings: number;
}

export function readReports(lines: LogLine[]): ServiceReports {
  const { failing, recovered, queueFull, dropped, loss } = SPAN_REPORTS;
  const count = (which: (line: LogLine) => boolean) => lines.filter(which).length;
  return {
    exportFailingLines: count(failing),
    dropReportLines: count(dropped),
    recoveredLines: count(recovered),
    spansReportedLost: lines.filter(loss).reduce((sum, line) => sum + lostIn(line), 0),
    queueOverflowLines: count(queueFull),
    otherWarnings: count((line) => (line.level === 'warn' || line.level === 'error') && ![failing, recovered, loss].some((which) => which(line))),
  };
}
