import { SPAN_REPORTS, lostIn } from '../../harness/export-reports.mts';
import type { LogLine } from '../../harness/service.mts';
import { markdownTable } from './markdown.mts';
import { PATHS } from './settings.mts';
import type { SoakSample, SoakRun } from './soak-subject.mts';

/** Issue 25's limits: growth after the warm-up, and memory after the outage against before it. */
export const SLOPE_LIMIT_MIB_PER_MIN = 0.1;
export const RETURN_TOLERANCE = 0.1;

export interface Slopes {
  fromMinute: number;
  toMinute: number;
  samples: number;
  /** Least-squares slope, MiB per minute. */
  rssMiBPerMin: number;
  /** Of heap used read at each sample's end: swings with the young generation and old space between major GCs. */
  heapUsedMiBPerMin: number;
  /** Of heap used averaged over each sample (read every 100 ms): the heap-used figure. */
  heapUsedMeanMiBPerMin: number;
  /** Of the heap used just after GCs (the lowest in each sample): what survives a GC. */
  heapFloorMiBPerMin: number;
}

/** A sample's memory figures; above the heap's total, `v8PagesMiB` is the page pool (bench/lib/resident-pages.mts). */
const MEMORY_FIELDS = ['rssMiB', 'heapUsedMiB', 'heapUsedMeanMiB', 'heapUsedFloorMiB', 'heapTotalMiB', 'v8PagesMiB'] as const;
type Memory = Record<(typeof MEMORY_FIELDS)[number], number>;

/** Heap used averaged over a sample; soaks from before the mean was read have the reading at its end. */
export const heapUsedOf = (memory: Pick<SoakSample, 'heapUsedMiB' | 'heapUsedMeanMiB'>): number =>
  Number.isFinite(memory.heapUsedMeanMiB) ? memory.heapUsedMeanMiB! : memory.heapUsedMiB;

export interface SoakSummary {
  key: string;
  label: string;
  shape: SoakRun['shape'];
  /** Over the steady part (after the warm-up, before the outage): the figure. */
  steady: Slopes;
  /** Over everything after the warm-up, the outage and its aftermath included. */
  afterWarmUp: Slopes;
  outage: {
    fromMinute: number;
    toMinute: number;
    /** Means of the last samples (up to 3) before the outage and at the end of the run, and the highest in between. */
    before: Memory;
    peak: Memory;
    after: Memory;
    rssReturned: boolean;
    heapUsedReturned: boolean;
    /** After the run's quiet time without requests. */
    quiet: SoakRun['quiet'];
    rssReturnedWhenQuiet: boolean;
    /** After a memory-reducing GC at the end of the quiet time, which releases V8's page pool (null when not read). */
    rssReturnedAfterMemoryReducingGc: boolean | null;
  };
  /** The outages after the first (`--soak-outages`): whether each takes more memory, or the pages the first left in V8's pool. */
  laterOutages: Array<{ fromMinute: number; toMinute: number; peak: Memory; after: Memory }>;
  spans: {
    expected: number;
    received: number;
    sentByService: number;
    /** What the sink did not receive, and what the service reported lost (ExportMonitor): they must be equal. */
    notReceived: number;
    reportedLost: number;
    exact: boolean;
    /** Losses reported outside the export failure (before "span export is failing", after "span export recovered"). */
    reportedLostWhileUp: number;
  };
  logRecords: { expected: number; received: number; notReceived: number; reportedLost: number; exact: boolean };
  requests: { answered: number; failed: number };
}

/** Least-squares slope of y over x. */
export function slope(points: Array<[number, number]>): number {
  const n = points.length;
  if (n < 2) return NaN;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  return sxx === 0 ? NaN : points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0) / sxx;
}

function slopes(samples: SoakSample[]): Slopes {
  // Soaks before the mean was read have none: NaN, shown as "–".
  const slopeOf = (pick: (s: SoakSample) => number | undefined) =>
    slope(samples.flatMap((s): Array<[number, number]> => (Number.isFinite(pick(s)) ? [[s.minute, pick(s)!]] : [])));
  return {
    fromMinute: samples[0]?.minute ?? NaN,
    toMinute: samples.at(-1)?.minute ?? NaN,
    samples: samples.length,
    rssMiBPerMin: slopeOf((s) => s.rssMiB),
    heapUsedMiBPerMin: slopeOf((s) => s.heapUsedMiB),
    heapUsedMeanMiBPerMin: slopeOf((s) => s.heapUsedMeanMiB),
    heapFloorMiBPerMin: slopeOf((s) => s.heapUsedFloorMiB),
  };
}

const combine = (samples: SoakSample[], pick: (values: number[]) => number): Memory =>
  Object.fromEntries(MEMORY_FIELDS.map((field) => [field, pick(samples.map((s) => s[field] ?? NaN))])) as Memory;
const mean = (samples: SoakSample[]) => combine(samples, (values) => values.reduce((sum, v) => sum + v, 0) / values.length);
const highest = (samples: SoakSample[]) => combine(samples, (values) => Math.max(...values));

/** Losses the kit reported while export worked: before its first "failing" line, or after its last "recovered" one. */
function lostWhileUp(lines: LogLine[]): number {
  const firstFailing = lines.findIndex(SPAN_REPORTS.failing);
  const lastRecovered = lines.findLastIndex(SPAN_REPORTS.recovered);
  return lines.reduce((sum, line, i) => {
    const up = firstFailing === -1 || i < firstFailing || (lastRecovered !== -1 && i > lastRecovered);
    return up && SPAN_REPORTS.loss(line) ? sum + lostIn(line) : sum;
  }, 0);
}

interface OutageCycle {
  outage: SoakSample[];
  recovery: SoakSample[];
  /** Where it starts: the end of the sample before its first. */
  fromMinute: number;
}

/** Each outage of a run with the recovery after it, in order: the samples' phases, run by run. */
function outageCycles(samples: SoakSample[]): OutageCycle[] {
  const cycles: OutageCycle[] = [];
  samples.forEach((sample, i) => {
    const last = cycles.at(-1);
    if (sample.phase === 'outage' && (!last || last.recovery.length > 0)) cycles.push({ outage: [sample], recovery: [], fromMinute: samples[i - 1]?.minute ?? 0 });
    else if (sample.phase === 'outage') last!.outage.push(sample);
    else if (sample.phase === 'recovery') last?.recovery.push(sample);
  });
  return cycles;
}

export function summarizeSoak(run: SoakRun): SoakSummary {
  const steady = run.samples.filter((s) => s.phase === 'steady');
  const [first = { outage: [], recovery: [], fromMinute: steady.at(-1)?.minute ?? 0 }, ...later] = outageCycles(run.samples);
  const { outage, recovery } = first;
  const before = mean(steady.slice(-3));
  const after = mean(recovery.slice(-3));
  const around = [...outage, ...recovery];
  const everyOutage = run.samples.filter((s) => s.phase === 'outage' || s.phase === 'recovery');
  const t = run.totals;
  const notReceived = t.spansExpected - t.spansReceived;
  const logsNotReceived = t.logRecordsExpected - t.logRecordsReceived;
  return {
    key: run.key,
    label: run.label,
    shape: run.shape,
    steady: slopes(steady),
    afterWarmUp: slopes([...steady, ...everyOutage]),
    outage: {
      fromMinute: first.fromMinute,
      toMinute: outage.at(-1)?.minute ?? NaN,
      before,
      peak: highest(around),
      after,
      rssReturned: after.rssMiB <= before.rssMiB * (1 + RETURN_TOLERANCE),
      heapUsedReturned: heapUsedOf(after) <= heapUsedOf(before) * (1 + RETURN_TOLERANCE),
      quiet: run.quiet,
      rssReturnedWhenQuiet: run.quiet.rssMiB <= before.rssMiB * (1 + RETURN_TOLERANCE),
      rssReturnedAfterMemoryReducingGc: run.quiet.afterMemoryReducingGc ? run.quiet.afterMemoryReducingGc.rssMiB <= before.rssMiB * (1 + RETURN_TOLERANCE) : null,
    },
    laterOutages: later.map((cycle) => ({
      fromMinute: cycle.fromMinute,
      toMinute: cycle.outage.at(-1)!.minute,
      peak: highest([...cycle.outage, ...cycle.recovery]),
      after: mean(cycle.recovery.slice(-3)),
    })),
    spans: {
      expected: t.spansExpected,
      received: t.spansReceived,
      sentByService: t.spansSentByService,
      notReceived,
      reportedLost: run.serviceReports.spansReportedLost,
      exact: notReceived === run.serviceReports.spansReportedLost,
      reportedLostWhileUp: lostWhileUp(run.reportLines),
    },
    logRecords: { expected: t.logRecordsExpected, received: t.logRecordsReceived, notReceived: logsNotReceived, reportedLost: t.logRecordsReportedLost, exact: logsNotReceived === t.logRecordsReportedLost },
    requests: { answered: t.requests, failed: t.failed },
  };
}

const f = (v: number, digits = 1) => (Number.isFinite(v) ? v.toFixed(digits) : '–');
const signed = (v: number) => (Number.isFinite(v) ? `${v >= 0 ? '+' : ''}${v.toFixed(2)}` : '–');

/** The per-sample table: one row per sample (a minute over an hour). */
export function sampleTable(run: SoakRun): string {
  const header = ['min', 'phase', 'answered / failed', 'p99 ms 42 / 123', 'CPU %', 'RSS (V8 pages) MiB', 'heap used (after GC) / total MiB', 'GC ms (longest)', 'loop delay max ms', 'spans sent → received', ...(run.shape === 'pod' ? ['cgroup rss / cache MiB'] : [])];
  const rows = run.samples.map((s) => [
    f(s.minute, 1),
    s.phase,
    `${s.requests} / ${s.failed}`,
    PATHS.map((path) => f(s.p99MsByPath[path] ?? NaN, 1)).join(' / '),
    f(s.cpuPercent, 0),
    `${f(s.rssMiB)} (${f(s.v8PagesMiB)})`,
    `${f(heapUsedOf(s))} (${f(s.heapUsedFloorMiB)}) / ${f(s.heapTotalMiB)}`,
    `${f(s.gcMs, 0)} (${f(s.gcMaxPauseMs, 1)})`,
    f(s.eventLoopDelayMaxMs, 1),
    `${s.spansSent} → ${s.spansReceived}`,
    ...(s.cgroup ? [`${f(s.cgroup.rssMiB)} / ${f(s.cgroup.cacheMiB)}`] : run.shape === 'pod' ? ['–'] : []),
  ]);
  return markdownTable(header, rows);
}

/** The verdict lines under the table. */
export function summaryLines(summary: SoakSummary): string[] {
  const { steady, afterWarmUp, outage, laterOutages, spans, logRecords } = summary;
  const within = (v: number) => (!Number.isFinite(v) ? 'n/a' : v <= SLOPE_LIMIT_MIB_PER_MIN ? 'within' : 'OVER');
  const returned = (yes: boolean) => (yes ? 'returned' : 'did NOT return');
  const reduced = outage.quiet.afterMemoryReducingGc;
  return [
    `Slopes over the steady part (minute ${f(steady.fromMinute)} to ${f(steady.toMinute)}, ${steady.samples} samples, least squares): ` +
      `RSS ${signed(steady.rssMiBPerMin)} MiB/min, heap used (mean of each sample) ${signed(steady.heapUsedMeanMiBPerMin)} MiB/min, heap used after GC ${signed(steady.heapFloorMiBPerMin)} MiB/min ` +
      `(${[steady.rssMiBPerMin, steady.heapUsedMeanMiBPerMin, steady.heapFloorMiBPerMin].map(within).join(' / ')} the ${SLOPE_LIMIT_MIB_PER_MIN} MiB/min limit); ` +
      `heap used read at each sample's end ${signed(steady.heapUsedMiBPerMin)} (its swing, not growth).`,
    `  Over everything after the warm-up, the outage included: RSS ${signed(afterWarmUp.rssMiBPerMin)}, heap used ${signed(afterWarmUp.heapUsedMeanMiBPerMin)}, ` +
      `after GC ${signed(afterWarmUp.heapFloorMiBPerMin)} MiB/min.`,
    `Collector away from minute ${f(outage.fromMinute)} to ${f(outage.toMinute)}: RSS ${f(outage.before.rssMiB)} MiB before, peak ${f(outage.peak.rssMiB)}, ` +
      `${f(outage.after.rssMiB)} at the end: ${returned(outage.rssReturned)} within ${RETURN_TOLERANCE * 100}%; heap used ${f(heapUsedOf(outage.before))} → peak ` +
      `${f(heapUsedOf(outage.peak))} → ${f(heapUsedOf(outage.after))} MiB: ${returned(outage.heapUsedReturned)}; after GC ${f(outage.before.heapUsedFloorMiB)} → ` +
      `${f(outage.peak.heapUsedFloorMiB)} → ${f(outage.after.heapUsedFloorMiB)}.`,
    `  Heap total ${f(outage.before.heapTotalMiB)} → peak ${f(outage.peak.heapTotalMiB)} → ${f(outage.after.heapTotalMiB)} MiB; resident in V8 pages ` +
      `${f(outage.before.v8PagesMiB)} → ${f(outage.peak.v8PagesMiB)} → ${f(outage.after.v8PagesMiB)} (above the heap's total: pooled pages).`,
    `  After ${outage.quiet.afterS} s without requests: RSS ${f(outage.quiet.rssMiB)} MiB (${returned(outage.rssReturnedWhenQuiet)} within ${RETURN_TOLERANCE * 100}% of before the outage), ` +
      `resident in V8 pages ${f(outage.quiet.v8PagesMiB)}, heap ${f(outage.quiet.heapUsedMiB)} used / ${f(outage.quiet.heapTotalMiB)} total.`,
    ...(reduced
      ? [
          `  Then after a memory-reducing GC (${f(reduced.gcMs, 0)} ms, V8's page pool released): RSS ${f(reduced.rssMiB)} MiB ` +
            `(${returned(outage.rssReturnedAfterMemoryReducingGc === true)} within ${RETURN_TOLERANCE * 100}%), resident in V8 pages ${f(reduced.v8PagesMiB)}, heap ${f(reduced.heapUsedMiB)} used / ${f(reduced.heapTotalMiB)} total.`,
        ]
      : []),
    ...laterOutages.map(
      (later, i) =>
        `Outage ${i + 2} (minute ${f(later.fromMinute)} to ${f(later.toMinute)}): RSS peak ${f(later.peak.rssMiB)} MiB, ${f(later.after.rssMiB)} at the end of its recovery ` +
          `(the first: peak ${f(outage.peak.rssMiB)}, end ${f(outage.after.rssMiB)}); resident in V8 pages peak ${f(later.peak.v8PagesMiB)} (the first: ${f(outage.peak.v8PagesMiB)}); ` +
          `heap total peak ${f(later.peak.heapTotalMiB)} (the first: ${f(outage.peak.heapTotalMiB)}).`,
    ),
    `Spans: ${spans.expected} made (requests answered × calibration), ${spans.sentByService} exported by the service, ${spans.received} received by the sink; ` +
      `${spans.notReceived} not received, ${spans.reportedLost} reported lost by the service: ${spans.exact ? 'equal, every loss accounted for' : 'NOT equal'}; ` +
      `${spans.reportedLostWhileUp} reported lost while export worked.`,
    `Log records: ${logRecords.expected} made, ${logRecords.received} received, ${logRecords.notReceived} not received, ${logRecords.reportedLost} reported lost: ${logRecords.exact ? 'equal' : 'NOT equal'}.`,
    `Requests: ${summary.requests.answered} answered, ${summary.requests.failed} failed.`,
  ];
}
