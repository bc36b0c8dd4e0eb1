import { closedLoop, summarize, type LoadSummary } from '../../harness/load.mts';
import { rssMiB } from '../../harness/stats.mts';
import { calibrate, expectedItems } from './calibration.mts';
import type { ReceiverCounts } from './collector-metrics.mts';
import { runFixedRate, type RateRun } from './fixed-rate.mts';
import { launch } from './launch.mts';
import type { PodLimits, PodMemory } from './pod-cgroup.mts';
import type { Pinning } from './pinning.mts';
import { exportEndpoint, startReceiver } from './receivers.mts';
import { insideFigures, type InsideFigures, type ServiceDiagnostics } from './service-diagnostics.mts';
import { readReports, type ServiceReports } from './service-reports.mts';
import { PATHS, settings } from './settings.mts';
import type { Variant } from './variants.mts';

export interface Phase {
  load: LoadSummary;
  spansExpected: number;
  spansReceived: number;
  /** Trace export bytes per span received, and the largest export request so far, where the receiver counts bytes. */
  bytesPerSpan?: number;
  largestExportBytes?: number;
  spansRefused: number;
  spansLost: number;
  spansLostPercent: number;
  /** Measured inside the service over this phase alone (bench/service-diagnostics.cjs); absent with --no-diagnostics. */
  inside?: InsideFigures;
}

/** A fixed-rate phase: the rate asked for, and whether the service kept up with it. */
export interface RatePhase extends Phase, Omit<RateRun, 'load' | 'answers'> {}

export interface VariantResult {
  key: string;
  label: string;
  table: 'headline' | 'collector' | 'pod';
  exportTo: 'sink' | 'collector' | 'none';
  /** The pod-shaped run: its limits, the kernel's memory peak and OOM counters, and CPU throttling. */
  pod?: PodLimits & PodMemory & { throttledPeriods: number; periods: number; throttledS: number };
  startToReadyMs: number;
  rssReadyMiB: number;
  /** After the warm-up: the base for growth under load. */
  rssWarmMiB: number;
  rssAfterSaturationMiB: number;
  rssEndMiB: number;
  spansPerRequest: Record<string, number>;
  logRecordsPerRequest: Record<string, number>;
  saturation: Phase;
  /** The phase at --fixed-rate (also among `rates`): the main table and the targets read it. */
  fixed: RatePhase | undefined;
  /** Every --fixed-rates phase, lowest rate first. */
  rates: RatePhase[];
  serviceReports: ServiceReports;
  exitCode: number | null;
  /** Every request the process answered (warm-up, probe, runs): profiles are divided by it. */
  requestsServed: number;
  notes: string[];
}

function delta(after: ReceiverCounts, before: ReceiverCounts): { accepted: number; refused: number; bytes?: number; largest?: number } {
  const bytes = after.exportBytes !== undefined && before.exportBytes !== undefined ? after.exportBytes - before.exportBytes : undefined;
  return { accepted: after.acceptedSpans - before.acceptedSpans, refused: after.refusedSpans - before.refusedSpans, bytes, largest: after.largestExportBytes };
}

/** Runs `load` as one window of the service's own diagnostics: a line just before, to start it, and one just after. */
async function observed<T>(diagnostics: ServiceDiagnostics | undefined, load: () => Promise<T>): Promise<{ run: T; inside?: InsideFigures }> {
  await diagnostics?.take();
  const run = await load();
  const line = await diagnostics?.take();
  return { run, inside: line && insideFigures(line) };
}

/** One variant from start to stop: calibration, warm-up, saturation, fixed rates, memory, and what it logged. */
export async function measure(
  variant: Variant,
  pinning: Pinning,
  logDir: string,
  options: { fixed: boolean; nodeFlags?: string[]; calibration?: Record<string, number> },
): Promise<VariantResult> {
  const notes: string[] = [];
  const receiver = await startReceiver(variant, pinning);
  const endpoint = await exportEndpoint(receiver);
  const name = `${variant.key}${options.nodeFlags ? '-profiled' : ''}`;
  // A profiled run is for the profile alone: nothing else in the process.
  const launched = await launch(variant, endpoint, pinning, { name, logDir, nodeFlags: options.nodeFlags, diagnostics: settings.diagnostics && !options.nodeFlags }).catch(async (error: unknown) => {
    await receiver?.stop();
    throw error;
  });
  const { service, cgroup, diagnostics } = launched;
  const log = (message: string) => process.stderr.write(`[bench] ${variant.key}: ${message}\n`);
  log(`ready in ${service.startToReadyMs.toFixed(0)} ms`);
  const rssReadyMiB = rssMiB(service.process.pid!);
  try {
    const calibration = await calibrate(service.url, receiver?.metrics, variant, options.calibration);
    const { spansPerRequest } = calibration;
    notes.push(...calibration.notes);
    if (receiver) log(`spans per request: ${JSON.stringify(spansPerRequest)}`);
    let served = receiver ? settings.calibrationRequests * PATHS.length : 0; // requests this process answered (for per-request CPU in profiles)

    // One pool of connections per path: /users/123 sleeps 50 ms, and one pool cycling through both would be paced by it.
    const pools = PATHS.map((path) => ({ paths: [path], connections: settings.connections }));
    const warm = summarize(await closedLoop({ baseUrl: service.url, pools, durationMs: settings.warmupS * 1000 }));
    log(`warm-up ${warm.rps.toFixed(0)} req/s`);
    // The warm-up's rate includes the cold JIT: size the counted run from a short probe after it.
    const probe = summarize(await closedLoop({ baseUrl: service.url, pools, durationMs: settings.probeS * 1000 }));
    served += warm.responses + probe.responses;
    const rssWarmMiB = rssMiB(service.process.pid!);
    if (receiver) await receiver.metrics.settle({ quietMs: variant.flushQuietMs, maxMs: variant.flushQuietMs + 20_000 });

    // Saturation: a request count from the warm-up rate, so the run ends with nothing in flight.
    const saturationS = variant.saturationS ?? settings.saturationS;
    const before = receiver ? await receiver.metrics.read() : undefined;
    const counted = pools.map((pool) => ({ ...pool, requests: Math.round(((probe.perPath[pool.paths[0]!] ?? 0) / probe.elapsedS) * saturationS) }));
    const { run: load, inside: saturationInside } = await observed(diagnostics, async () =>
      summarize(await closedLoop({ baseUrl: service.url, pools: counted, durationMs: (saturationS * 2 + 10) * 1000 })),
    );
    const rssAfterSaturationMiB = rssMiB(service.process.pid!);
    served += load.responses;
    log(`saturation ${load.rps.toFixed(0)} req/s over ${load.elapsedS.toFixed(1)} s, p99 ${load.p99Ms.toFixed(1)} ms${stallSummary(saturationInside)}`);
    if (load.cutOff) notes.push('saturation run hit its deadline: span accounting approximate');
    const spansExpected = variant.traced ? expectedItems(load.perPath, spansPerRequest) : 0;
    const afterSaturation = receiver ? await receiver.metrics.settle({ quietMs: variant.flushQuietMs, maxMs: 60_000, atLeast: before!.acceptedSpans + spansExpected }) : undefined;
    const saturation = phase(load, spansExpected, receiver ? delta(afterSaturation!, before!) : { accepted: 0, refused: 0 }, saturationInside);

    const rates: RatePhase[] = [];
    for (const rate of options.fixed ? settings.fixedRates : []) {
      const beforeFixed = receiver ? await receiver.metrics.read() : undefined;
      const { run, inside } = await observed(diagnostics, () => runFixedRate(service.url, rate, settings.fixedS));
      log(`fixed ${rate}/s: ${run.achievedRps.toFixed(0)} req/s, p50 ${run.load.p50Ms.toFixed(2)} ms, p99 ${run.load.p99Ms.toFixed(2)} ms${stallSummary(inside)}${run.note ? `; ${run.note}` : ''}`);
      if (run.note) notes.push(`${rate}/s: ${run.note}`);
      const fixedExpected = variant.traced ? expectedItems(run.load.perPath, spansPerRequest) : 0;
      const afterFixed = receiver
        ? await receiver.metrics.settle({ quietMs: variant.flushQuietMs, maxMs: 60_000, atLeast: beforeFixed!.acceptedSpans + fixedExpected })
        : undefined;
      const received = receiver ? delta(afterFixed!, beforeFixed!) : { accepted: 0, refused: 0 };
      rates.push({ ...phase(run.load, fixedExpected, received, inside), rate, achievedRps: run.achievedRps, sustained: run.sustained, note: run.note });
      served += run.load.responses;
    }
    const rssEndMiB = rssMiB(service.process.pid!);
    const exitCode = await service.stop();
    const pod = cgroup ? { ...cgroup.limits, ...cgroup.memory(), ...cgroup.throttled() } : undefined;
    if (pod) log(`pod: peak ${pod.peakMiB.toFixed(0)} MiB of ${(pod.memoryBytes / 2 ** 20).toFixed(0)}, ${pod.limitHits} limit hits, ${pod.oomKills} OOM kills, throttled ${pod.throttledS.toFixed(1)} s`);
    if (exitCode !== 0) notes.push(`the service exited with ${exitCode} on SIGTERM`);
    if (diagnostics && variant.traced && saturation.inside?.spanExport.batches === 0) notes.push('the diagnostics preload saw no span export call: its exporter was not found among the loaded modules');
    return {
      key: variant.key,
      label: variant.label,
      table: variant.table,
      exportTo: variant.exportTo,
      pod,
      startToReadyMs: service.startToReadyMs,
      rssReadyMiB,
      rssWarmMiB,
      rssAfterSaturationMiB,
      rssEndMiB,
      spansPerRequest,
      logRecordsPerRequest: calibration.logRecordsPerRequest,
      saturation,
      fixed: rates.find((r) => r.rate === settings.fixedRate),
      rates,
      serviceReports: readReports(service.logs),
      exitCode,
      requestsServed: served,
      notes,
    };
  } finally {
    await service.stop();
    await receiver?.stop();
    cgroup?.remove();
  }
}

function stallSummary(inside: InsideFigures | undefined): string {
  if (!inside) return '';
  const d = inside.eventLoopDelayMs;
  const { spanExport: spans, logExport: logs } = inside;
  const step = spans.batches ? `, longest export step ${spans.maxSyncMs.toFixed(1)} ms (${spans.spansInMax} spans)` : '';
  const logStep = logs.batches ? `, of log records ${logs.maxSyncMs.toFixed(1)} ms (${logs.recordsInMax})` : '';
  const queue = inside.spanQueue ? `, span queue peak ${inside.spanQueue.peak} of ${inside.spanQueue.capacity}, a batch in flight up to ${inside.spanQueue.maxInFlightMs.toFixed(0)} ms` : '';
  return `; loop delay p99 ${d.p99.toFixed(2)} max ${d.max.toFixed(1)} ms, GC ${inside.gcMsPerS.toFixed(1)} ms/s${step}${logStep}${queue}`;
}

function phase(load: LoadSummary, spansExpected: number, received: { accepted: number; refused: number; bytes?: number; largest?: number }, inside: InsideFigures | undefined): Phase {
  const spansLost = Math.max(0, spansExpected - received.accepted);
  return {
    load,
    spansExpected,
    spansReceived: received.accepted,
    bytesPerSpan: received.bytes !== undefined && received.accepted ? received.bytes / received.accepted : undefined,
    largestExportBytes: received.largest,
    spansRefused: received.refused,
    spansLost,
    spansLostPercent: spansExpected ? (spansLost / spansExpected) * 100 : 0,
    inside,
  };
}
