import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { LOG_RECORD_REPORTS, SPAN_REPORTS, lostIn } from '../../harness/export-reports.mts';
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

/**
 * The same from a log too large to read at once (a soak's: three lines per
 * /users/123 request), streamed, parsing only the kit's own report lines
 * (`"component":"telemetry"`): `otherWarnings` then counts the kit's alone.
 * Also the log records the log export reported lost, and the kit's lines in order.
 */
export async function readReportsFromFile(file: string): Promise<{ spans: ServiceReports; logRecordsReportedLost: number; lines: LogLine[] }> {
  const kit: LogLine[] = [];
  for await (const line of createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity })) {
    if (!line.includes('"component":"telemetry"')) continue;
    try {
      kit.push(JSON.parse(line) as LogLine);
    } catch {
      // a line cut short by a crash: not a report
    }
  }
  return { spans: readReports(kit), logRecordsReportedLost: kit.filter(LOG_RECORD_REPORTS.loss).reduce((sum, line) => sum + lostIn(line), 0), lines: kit };
}
