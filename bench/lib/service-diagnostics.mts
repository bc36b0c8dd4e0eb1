import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../harness/service.mts';
import { waitFor } from '../../harness/wait.mts';

/**
 * What the service measures about itself (bench/service-diagnostics.cjs, preloaded):
 * one line per signal, covering the time since the one before.
 */
export const DIAGNOSTICS_PRELOAD = join(ROOT, 'bench', 'service-diagnostics.cjs');
const SIGNAL: NodeJS.Signals = 'SIGUSR2';

export interface ExportWindow {
  /** export() calls, and the items handed to them (a retried batch counts again). */
  calls: number;
  items: number;
  /** The synchronous part of every call, summed, and of the longest one. */
  syncMs: number;
  maxSyncMs: number;
  /** The longest call's batch size, how long it spent serializing, and the main thread's CPU time in it (the wall time includes CFS throttling in the pod). */
  itemsInMax: number;
  serializeMsInMax: number;
  cpuMsInMax: number;
  /** Since the process started: items whose export succeeded, or failed (an attempt: a retry may still succeed). */
  exportedTotal: number;
  failedTotal: number;
}

/** The batch span processor's queue in the window: the most spans it held, its capacity, and the longest a batch was in flight (taken → export answered). */
export interface SpanQueue {
  peak: number;
  capacity: number;
  maxInFlightMs: number;
}

export interface Stalls {
  thresholdMs: number;
  count: number;
  totalMs: number;
  byCauseMs: { gc: number; spanExport: number; logExport: number; other: number };
}

export interface DiagnosticsLine {
  diagnostics: number;
  pid: number;
  windowMs: number;
  eventLoopDelayMs: { p50: number; p99: number; max: number; mean: number; samples: number };
  eventLoopUtilization: number;
  gc: { ms: number; count: number; maxPauseMs: number; byKindMs: Record<'minor' | 'major' | 'incremental' | 'weakcb', number> };
  /**
   * `heapUsed` at the signal; `heapUsedMean` of readings every 100 ms in the window (null when it was shorter);
   * `heapUsedAfterGcMin`: the lowest heap used read just after a GC in the window (null when none ran).
   */
  memoryMiB: { rss: number; heapUsed: number; heapTotal: number; heapUsedMean: number | null; heapUsedAfterGcMin: number | null; external: number; arrayBuffers: number; spaces: Record<string, number> };
  /** Gaps of more than `thresholdMs` between ticks of a 1 ms interval, summed, and what of them overlapped each cause. */
  stalls: Stalls;
  spanExport: ExportWindow;
  logExport: ExportWindow;
  /** Absent when the preload found no span batch processor (capacity 0 when it took no batch). */
  spanQueue?: SpanQueue;
  /** On the first line: the exporter modules it found and timed. */
  timedModules?: string[];
  /** When asked for one: how long the memory-reducing GC before this reading took. */
  memoryReducingGcMs?: number;
}

/** The figures of one phase as the tables and the result JSON carry them. */
export interface InsideFigures {
  eventLoopDelayMs: { p50: number; p99: number; max: number };
  eventLoopUtilization: number;
  /** Milliseconds of GC pause per second of the phase, the longest pause, and by kind (ms). */
  gcMsPerS: number;
  gcMaxPauseMs: number;
  gcByKindMs: DiagnosticsLine['gc']['byKindMs'];
  /** The longest synchronous step of the span export in the phase: its ms, its batch's spans, its serializing ms. */
  spanExport: { batches: number; spans: number; maxSyncMs: number; spansInMax: number; serializeMsInMax: number; cpuMsInMax: number };
  logExport: { batches: number; records: number; maxSyncMs: number; recordsInMax: number; serializeMsInMax: number; cpuMsInMax: number };
  spanQueue?: SpanQueue;
  heapUsedMiB: number;
  rssMiB: number;
}

export function insideFigures(line: DiagnosticsLine): InsideFigures {
  const { spanExport: spans, logExport: logs } = line;
  return {
    eventLoopDelayMs: { p50: line.eventLoopDelayMs.p50, p99: line.eventLoopDelayMs.p99, max: line.eventLoopDelayMs.max },
    eventLoopUtilization: line.eventLoopUtilization,
    gcMsPerS: line.gc.ms / (line.windowMs / 1000),
    gcMaxPauseMs: line.gc.maxPauseMs,
    gcByKindMs: line.gc.byKindMs,
    spanExport: { batches: spans.calls, spans: spans.items, maxSyncMs: spans.maxSyncMs, spansInMax: spans.itemsInMax, serializeMsInMax: spans.serializeMsInMax, cpuMsInMax: spans.cpuMsInMax },
    logExport: { batches: logs.calls, records: logs.items, maxSyncMs: logs.maxSyncMs, recordsInMax: logs.itemsInMax, serializeMsInMax: logs.serializeMsInMax, cpuMsInMax: logs.cpuMsInMax },
    spanQueue: line.spanQueue?.capacity ? line.spanQueue : undefined,
    heapUsedMiB: line.memoryMiB.heapUsed,
    rssMiB: line.memoryMiB.rss,
  };
}

/** Asks a running service for its diagnostics line, and reads it from the file it writes. */
export class ServiceDiagnostics {
  readonly file: string;
  private readonly pid: number;
  private asked = 0;

  constructor(file: string, pid: number) {
    this.file = file;
    this.pid = pid;
  }

  /** The environment that tells the preload where to write. */
  static env(file: string): Record<string, string> {
    return { BENCH_DIAGNOSTICS_FILE: file, BENCH_DIAGNOSTICS_SIGNAL: SIGNAL };
  }

  /**
   * Ends the current window: the line covers the time since the last call
   * (or since the process started). The service answers when its event loop
   * gets to the signal; a process that does not answer within `timeoutMs` fails the run.
   * With `gcFirst`, the service runs a GC before the reading: `full` (it needs node --expose-gc) to read the live
   * heap, `memory-reducing` to have V8 release its page pool as well.
   */
  async take(options: { gcFirst?: 'full' | 'memory-reducing'; timeoutMs?: number } = {}): Promise<DiagnosticsLine> {
    const { gcFirst, timeoutMs = 30_000 } = options;
    const wanted = ++this.asked;
    if (gcFirst) writeFileSync(`${this.file}.request`, gcFirst === 'full' ? 'full-gc' : 'reduce-memory');
    process.kill(this.pid, SIGNAL);
    return waitFor(() => this.lines().find((line) => line.diagnostics === wanted), `diagnostics line ${wanted} from pid ${this.pid}`, timeoutMs, 20);
  }

  lines(): DiagnosticsLine[] {
    if (!existsSync(this.file)) return [];
    const text = readFileSync(this.file, 'utf8');
    // Complete lines only: a read can land while the service is still writing its last one.
    return text
      .slice(0, text.lastIndexOf('\n') + 1)
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as DiagnosticsLine);
  }
}
