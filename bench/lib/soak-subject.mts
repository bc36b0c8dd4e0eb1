import { setTimeout as delay } from 'node:timers/promises';
import { freePort } from '../../harness/loopback.mts';
import { type LogLine } from '../../harness/service.mts';
import { cpuSeconds, rssMiB } from '../../harness/stats.mts';
import { calibrate, expectedItems } from './calibration.mts';
import type { ReceiverCounts } from './collector-metrics.mts';
import { CountingSink } from './counting-sink.mts';
import { runFixedRate } from './fixed-rate.mts';
import { heapSnapshotFlags, takeHeapSnapshot } from './heap-snapshots.mts';
import { launch } from './launch.mts';
import { deploymentLimits, type PodLimits, type PodMemory } from './pod-cgroup.mts';
import { deprioritize, pin, type Pinning } from './pinning.mts';
import { v8PagesMiB } from './resident-pages.mts';
import type { DiagnosticsLine } from './service-diagnostics.mts';
import { readReportsFromFile, type ServiceReports } from './service-reports.mts';
import { PATHS, RESULTS } from './settings.mts';
import { phaseOf, type SoakPhase, type SoakPlan } from './soak-plan.mts';
import type { Variant } from './variants.mts';

/** One sample of a soak: the load of one interval, and the service's state at its end. */
export interface SoakSample {
  sample: number;
  phase: SoakPhase;
  /** Minutes from the start of the first sample to the end of this one. */
  minute: number;
  /** Requests answered, and those that failed (no answer, or not 2xx). */
  requests: number;
  failed: number;
  achievedRps: number;
  /** Per endpoint, and the slowest answer of all. */
  p99MsByPath: Record<string, number>;
  maxMs: number;
  /** From /proc, outside the service: its resident memory, the part in V8's heap pages, and the CPU it used in the interval (% of one core). */
  rssMiB: number;
  v8PagesMiB: number;
  cpuPercent: number;
  /**
   * From inside (process.memoryUsage and the heap spaces): heap used at the sample's end, its mean over the
   * interval (read every 100 ms), and its floor, the lowest just after a GC in the interval.
   */
  heapUsedMiB: number;
  /** Absent from soaks before the mean was read (2026-12-05T02-59). */
  heapUsedMeanMiB?: number;
  heapUsedFloorMiB: number;
  heapTotalMiB: number;
  externalMiB: number;
  oldSpaceMiB: number;
  /** GC pauses in the interval, in all and the longest. */
  gcMs: number;
  gcMaxPauseMs: number;
  eventLoopDelayP99Ms: number;
  eventLoopDelayMaxMs: number;
  /** Spans and log records the interval's answered requests made (the calibration's counts per request). */
  spansExpected: number;
  logRecordsExpected: number;
  /** Spans whose export the service saw succeed in the interval, and spans the sink received (0 while it is away). */
  spansSent: number;
  spansReceived: number;
  logRecordsReceived: number;
  /** The pod-shaped run: what its memory cgroup is charged for. */
  cgroup?: { usageMiB: number; rssMiB: number; cacheMiB: number };
}

export interface SoakRun {
  key: string;
  label: string;
  shape: 'free core' | 'pod';
  /** The CPUs the service ran on. */
  cpus: string | undefined;
  spansPerRequest: Record<string, number>;
  logRecordsPerRequest: Record<string, number>;
  samples: SoakSample[];
  totals: {
    requests: number;
    failed: number;
    /** From the requests answered and the calibration. */
    spansExpected: number;
    /** By the sink, over its lives before and after the outage. */
    spansReceived: number;
    /** Whose export the service saw succeed (the diagnostics preload). */
    spansSentByService: number;
    logRecordsExpected: number;
    logRecordsReceived: number;
    logRecordsReportedLost: number;
  };
  /** The ExportMonitor's lines over the soak, summed, and the lines themselves in order (for when each loss happened). */
  serviceReports: ServiceReports;
  reportLines: LogLine[];
  /** Memory after the plan's quiet time without requests, once the last sample is in. */
  quiet: QuietMemory;
  pod?: PodLimits & PodMemory & { throttledPeriods: number; periods: number; throttledS: number };
  heapSnapshots: string[];
  exitCode: number | null;
  notes: string[];
}

export interface MemoryReading {
  rssMiB: number;
  v8PagesMiB: number;
  heapUsedMiB: number;
  heapTotalMiB: number;
}

export interface QuietMemory extends MemoryReading {
  afterS: number;
  /**
   * Read once more just after a memory-reducing GC, which releases V8's page pool: what RSS kept that was
   * V8's to give back, rather than the service's. (Absent from soaks before 2026-12-05T02-59.)
   */
  afterMemoryReducingGc?: MemoryReading & { gcMs: number };
}

function memoryReading(pid: number, line: DiagnosticsLine): MemoryReading {
  return { rssMiB: rssMiB(pid), v8PagesMiB: v8PagesMiB(pid), heapUsedMiB: line.memoryMiB.heapUsed, heapTotalMiB: line.memoryMiB.heapTotal };
}

const zero: ReceiverCounts = { acceptedSpans: 0, refusedSpans: 0, acceptedLogRecords: 0, refusedLogRecords: 0 };

/**
 * One service's soak: calibrated like a bench variant, then `plan.samples`
 * intervals at a steady open-loop rate with the endpoints alternating. The
 * counting sink is stopped for the outage phase and comes back on the same
 * ports; the service is never told.
 */
export async function soakOne(variant: Variant, plan: SoakPlan, pinning: Pinning, where: { cpus: string | undefined; logDir: string; stamp: string }): Promise<SoakRun> {
  const notes: string[] = [];
  const log = (message: string) => process.stderr.write(`[soak] ${variant.key}: ${message}\n`);
  const startSink = async (at?: CountingSink) => {
    const started = await CountingSink.start(at);
    pin(started.process.pid!, pinning.collector);
    deprioritize(started.process.pid!); // as in the bench: below the load generator it shares a core with
    return started;
  };
  if (variant.exportTo === 'collector') throw new Error(`the soak sends spans to the counting sink: ${variant.key} exports to the real collector`);
  let sink = variant.exportTo === 'sink' ? await startSink() : undefined;
  const firstSink = sink;
  const endpoint = sink ? sink.endpoint : `http://127.0.0.1:${await freePort()}`;
  const name = `soak-${variant.key}`;
  const launched = await launch(variant, endpoint, pinning, {
    name,
    logDir: where.logDir,
    diagnostics: true,
    cpus: where.cpus,
    // Both shapes run with the Deployment's environment; the free core without its cgroup.
    deploymentEnv: deploymentLimits().env,
    nodeFlags: plan.heapSnapshots ? heapSnapshotFlags(RESULTS) : [],
  }).catch(async (error: unknown) => {
    await sink?.stop();
    throw error;
  });
  const { service, cgroup } = launched;
  const diagnostics = launched.diagnostics!;
  const heapSnapshots: string[] = [];
  try {
    log(`ready in ${service.startToReadyMs.toFixed(0)} ms on CPU ${where.cpus ?? 'any'}${cgroup ? ` in cgroup ${cgroup.name}` : ''}`);
    const calibration = await calibrate(service.url, sink, variant);
    notes.push(...calibration.notes);
    log(`spans per request ${JSON.stringify(calibration.spansPerRequest)}, log records per request ${JSON.stringify(calibration.logRecordsPerRequest)}`);

    let before: ReceiverCounts | undefined = sink ? await sink.read() : undefined;
    let received = { spans: 0, logs: 0 };
    const count = (now: ReceiverCounts | undefined) => {
      const got = { spans: now && before ? now.acceptedSpans - before.acceptedSpans : 0, logs: now && before ? now.acceptedLogRecords - before.acceptedLogRecords : 0 };
      received = { spans: received.spans + got.spans, logs: received.logs + got.logs };
      before = now;
      return got;
    };
    let last: DiagnosticsLine = await diagnostics.take();
    const sentAtStart = last.spanExport.exportedTotal;
    const samples: SoakSample[] = [];
    const snapshot = async (which: 'early' | 'late') => {
      const file = await takeHeapSnapshot(service.process.pid!, service.url, RESULTS, `${where.stamp}-soak-${variant.key}-${which}.heapsnapshot`);
      heapSnapshots.push(file);
      log(`heap snapshot (${which}): ${file}`);
    };
    const started = performance.now();
    let cpu = { s: cpuSeconds(service.process.pid!), at: started };
    let carried = { spans: 0, logs: 0 }; // counted when the sink stopped: shown with the next sample
    for (let sample = 0; sample < plan.samples; sample += 1) {
      const phase = phaseOf(plan, sample);
      if (phase === 'outage' && sink) {
        carried = count((await sink.stop()) ?? before);
        sink = undefined;
        before = undefined;
        log('counting sink stopped: the collector is away');
      }
      if (phase === 'recovery' && !sink && firstSink) {
        sink = await startSink(firstSink);
        before = zero;
        log(`counting sink back on ${sink.endpoint}`);
      }
      // A snapshot leaves RSS tens of MiB higher (117 → 200 MiB in the pod, 267 → 312 on a free core, when one
      // was taken at the end of the warm-up): taken at the start of the warm-up and after the last sample,
      // it moves no figure the summary reads.
      if (plan.heapSnapshots && sample === 0) await snapshot('early');
      const run = await runFixedRate(service.url, plan.rate, plan.sampleS);
      const line = await diagnostics.take();
      const got = count(sink ? await sink.read() : undefined);
      const cpuNow = { s: cpuSeconds(service.process.pid!), at: performance.now() };
      const entry: SoakSample = {
        sample,
        phase,
        minute: (performance.now() - started) / 60_000,
        requests: run.load.responses,
        failed: run.load.errors + run.load.non2xx,
        achievedRps: run.achievedRps,
        p99MsByPath: Object.fromEntries(Object.entries(run.load.latencyByPath).map(([path, latency]) => [path, latency.p99Ms])),
        maxMs: run.load.maxMs,
        ...memoryReading(service.process.pid!, line),
        cpuPercent: ((cpuNow.s - cpu.s) / ((cpuNow.at - cpu.at) / 1000)) * 100,
        heapUsedMeanMiB: line.memoryMiB.heapUsedMean ?? NaN,
        heapUsedFloorMiB: line.memoryMiB.heapUsedAfterGcMin ?? NaN,
        externalMiB: line.memoryMiB.external,
        oldSpaceMiB: line.memoryMiB.spaces.old_space ?? NaN,
        gcMs: line.gc.ms,
        gcMaxPauseMs: line.gc.maxPauseMs,
        eventLoopDelayP99Ms: line.eventLoopDelayMs.p99,
        eventLoopDelayMaxMs: line.eventLoopDelayMs.max,
        spansExpected: expectedItems(run.load.perPath, calibration.spansPerRequest),
        logRecordsExpected: expectedItems(run.load.perPath, calibration.logRecordsPerRequest),
        spansSent: line.spanExport.exportedTotal - last.spanExport.exportedTotal,
        spansReceived: got.spans + carried.spans,
        logRecordsReceived: got.logs + carried.logs,
        cgroup: cgroup?.usage(),
      };
      carried = { spans: 0, logs: 0 };
      cpu = cpuNow;
      last = line;
      samples.push(entry);
      if (run.note) notes.push(`sample ${sample} (${phase}): ${run.note}`);
      log(
        `${sample + 1}/${plan.samples} ${phase}: ${run.achievedRps.toFixed(0)} req/s, p99 ${PATHS.map((path) => entry.p99MsByPath[path]?.toFixed(1) ?? '–').join(' / ')} ms, CPU ${entry.cpuPercent.toFixed(0)}%, RSS ${entry.rssMiB.toFixed(1)} MiB, ` +
          `heap used ${entry.heapUsedMeanMiB?.toFixed(1)} (after GC ${entry.heapUsedFloorMiB.toFixed(1)})/${entry.heapTotalMiB.toFixed(1)} MiB, GC ${entry.gcMs.toFixed(0)} ms, spans ${entry.spansSent}→${entry.spansReceived}`,
      );
    }

    await delay(plan.quietS * 1000);
    const pid = service.process.pid!;
    const quiet: QuietMemory = { afterS: plan.quietS, ...memoryReading(pid, await diagnostics.take()) };
    const reducedLine = await diagnostics.take({ gcFirst: 'memory-reducing' });
    quiet.afterMemoryReducingGc = { ...memoryReading(pid, reducedLine), gcMs: reducedLine.memoryReducingGcMs ?? NaN };
    const memory = (m: MemoryReading) => `RSS ${m.rssMiB.toFixed(1)} MiB (V8 pages ${m.v8PagesMiB.toFixed(1)}), heap ${m.heapUsedMiB.toFixed(1)}/${m.heapTotalMiB.toFixed(1)} MiB`;
    log(`after ${plan.quietS} s without requests: ${memory(quiet)}; after a memory-reducing GC (${quiet.afterMemoryReducingGc.gcMs.toFixed(0)} ms): ${memory(quiet.afterMemoryReducingGc)}`);

    if (plan.heapSnapshots) await snapshot('late');

    // What is still queued leaves within the schedule delay: counted then, before the service stops. Its
    // shutdown makes log records of its own ("shutting down"), which no request made: reported apart.
    if (sink) await sink.settle({ quietMs: variant.flushQuietMs, maxMs: 60_000 });
    const end = await diagnostics.take();
    if (sink) count(await sink.read());
    const exitCode = await service.stop();
    if (exitCode !== 0) notes.push(`the service exited with ${exitCode} on SIGTERM`);
    const atShutdown = sink ? count((await sink.stop()) ?? before) : { spans: 0, logs: 0 };
    received = { spans: received.spans - atShutdown.spans, logs: received.logs - atShutdown.logs };
    if (atShutdown.spans || atShutdown.logs) notes.push(`during the service's shutdown the sink received ${atShutdown.spans} spans and ${atShutdown.logs} log records: not counted against the requests`);
    sink = undefined;
    const pod = cgroup ? { ...cgroup.limits, ...cgroup.memory(), ...cgroup.throttled() } : undefined;
    const reports = await readReportsFromFile(launched.logFile);
    const sum = (pick: (s: SoakSample) => number) => samples.reduce((total, s) => total + pick(s), 0);
    return {
      key: variant.key,
      label: variant.label,
      shape: variant.pod ? 'pod' : 'free core',
      cpus: where.cpus,
      spansPerRequest: calibration.spansPerRequest,
      logRecordsPerRequest: calibration.logRecordsPerRequest,
      samples,
      totals: {
        requests: sum((s) => s.requests),
        failed: sum((s) => s.failed),
        spansExpected: sum((s) => s.spansExpected),
        spansReceived: received.spans,
        spansSentByService: end.spanExport.exportedTotal - sentAtStart,
        logRecordsExpected: sum((s) => s.logRecordsExpected),
        logRecordsReceived: received.logs,
        logRecordsReportedLost: reports.logRecordsReportedLost,
      },
      serviceReports: reports.spans,
      reportLines: reports.lines,
      quiet,
      pod,
      heapSnapshots,
      exitCode,
      notes,
    };
  } finally {
    await service.stop();
    await sink?.stop();
    cgroup?.remove();
  }
}
