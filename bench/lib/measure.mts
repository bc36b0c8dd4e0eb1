import { join } from 'node:path';
import { Collector } from '../../harness/collector.mts';
import { closedLoop, openLoop, summarize, type LoadSummary } from '../../harness/load.mts';
import { Service, freePort, status } from '../../harness/service.mts';
import { rssMiB } from '../../harness/stats.mts';
import { CollectorMetrics, type ReceiverCounts, type SpanCounter } from './collector-metrics.mts';
import { CountingSink } from './counting-sink.mts';
import { PodCgroup, deploymentLimits, type PodLimits, type PodMemory } from './pod-cgroup.mts';
import { pin, type Pinning } from './pinning.mts';
import { readReports, type ServiceReports } from './service-reports.mts';
import { PATHS, settings } from './settings.mts';
import { OWN_SPANS_PER_REQUEST, type Variant } from './variants.mts';

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
}

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
  saturation: Phase;
  fixed: Phase | undefined;
  serviceReports: ServiceReports;
  exitCode: number | null;
  /** Every request the process answered (warm-up, probe, runs): profiles are divided by it. */
  requestsServed: number;
  notes: string[];
}
function expectedSpans(load: LoadSummary, perRequest: Record<string, number>): number {
  return Object.entries(load.perPath).reduce((sum, [path, count]) => sum + count * (perRequest[path] ?? 0), 0);
}

function delta(after: ReceiverCounts, before: ReceiverCounts): { accepted: number; refused: number; bytes?: number; largest?: number } {
  const bytes = after.exportBytes !== undefined && before.exportBytes !== undefined ? after.exportBytes - before.exportBytes : undefined;
  return { accepted: after.acceptedSpans - before.acceptedSpans, refused: after.refusedSpans - before.refusedSpans, bytes, largest: after.largestExportBytes };
}

interface Receiver {
  endpoint: string;
  metrics: SpanCounter;
  stop(): Promise<unknown>;
}

async function startSink(pinning: Pinning, protocol: Variant['protocol']): Promise<Receiver> {
  const sink = await CountingSink.start();
  pin(sink.process.pid!, pinning.collector);
  return { endpoint: protocol === 'http/protobuf' ? sink.httpEndpoint : sink.endpoint, metrics: sink, stop: () => sink.stop() };
}

async function startCollector(pinning: Pinning, protocol: Variant['protocol']): Promise<Receiver> {
  const collector = await Collector.start({
    COLLECTOR_EXPORTERS: '[debug]',
    DEBUG_VERBOSITY: 'basic',
    TAIL_SAMPLING_PERCENTAGE: '100',
    TAIL_SAMPLING_DECISION_WAIT: '1s',
    GOMEMLIMIT: '1GiB',
    ...(pinning.enabled ? { GOMAXPROCS: '1' } : {}),
  });
  pin(collector.process.pid!, pinning.collector);
  // Only the tail of its output is of interest (errors); the debug exporter prints a line per batch.
  const keep = () => {
    if (collector.output.length > 200_000) collector.output = collector.output.slice(-50_000);
  };
  collector.process.stdout?.on('data', keep);
  return { endpoint: protocol === 'http/protobuf' ? collector.httpEndpoint : collector.endpoint, metrics: new CollectorMetrics(collector), stop: () => collector.stop() };
}

/** One variant from start to stop: calibration, warm-up, saturation, fixed rate, memory, and what it logged. */
export async function measure(
  variant: Variant,
  pinning: Pinning,
  logDir: string,
  options: { fixed: boolean; nodeFlags?: string[]; calibration?: Record<string, number> },
): Promise<VariantResult> {
  const notes: string[] = [];
  const started = variant.exportTo === 'collector' ? await startCollector(pinning, variant.protocol) : variant.exportTo === 'sink' ? await startSink(pinning, variant.protocol) : undefined;
  const endpoint = started ? started.endpoint : `http://127.0.0.1:${await freePort()}`;
  const spec = variant.spec(endpoint);
  if (options.nodeFlags) spec.nodeArgs = [...options.nodeFlags, ...spec.nodeArgs];
  const cgroup = variant.pod ? new PodCgroup(`users-api-bench-${process.pid}-${variant.key}`, deploymentLimits()) : undefined;
  if (cgroup?.limits.nodeOptions) spec.env = { NODE_OPTIONS: cgroup.limits.nodeOptions, ...spec.env };
  const service = await Service.start(spec.env, {
    cwd: spec.cwd,
    nodeArgs: spec.nodeArgs,
    launcher: cgroup?.launcher(),
    cpus: pinning.service,
    outputFile: join(logDir, `${variant.key}${options.nodeFlags ? '-profiled' : ''}.log`),
    readyTimeoutMs: 30_000,
  });
  const log = (message: string) => process.stderr.write(`[bench] ${variant.key}: ${message}\n`);
  log(`ready in ${service.startToReadyMs.toFixed(0)} ms`);
  const rssReadyMiB = rssMiB(service.process.pid!);
  try {
    // Spans each request makes, as the collector counts them (one request at a time, then a full flush).
    let served = 0; // requests this process answered (for per-request CPU in profiles)
    let spansPerRequest: Record<string, number> = Object.fromEntries(PATHS.map((p) => [p, 0]));
    if (started) {
      // Spans of the readiness polls (the peer traces /readyz) must not count as the first request's.
      await started.metrics.settle({ quietMs: variant.flushQuietMs, maxMs: variant.flushQuietMs + 15_000 });
      for (const path of PATHS) {
        const before = await started.metrics.read();
        for (let i = 0; i < settings.calibrationRequests; i += 1) {
          const answer = await status(`${service.url}${path}`, 10_000);
          if (answer !== 200) throw new Error(`${path} answered ${answer} during calibration`);
        }
        const after = await started.metrics.settle({ quietMs: variant.flushQuietMs, maxMs: variant.flushQuietMs + 15_000 });
        spansPerRequest[path] = delta(after, before).accepted / settings.calibrationRequests;
      }
      log(`spans per request: ${JSON.stringify(spansPerRequest)}`);
      if (!Object.values(spansPerRequest).every(Number.isInteger)) notes.push(`calibration gave a fractional span count: ${JSON.stringify(spansPerRequest)}`);
    } else if (variant.traced) {
      spansPerRequest = options.calibration ?? OWN_SPANS_PER_REQUEST;
      notes.push('no collector: spans per request taken from the traced variant');
    }

    // One pool of connections per path: /users/123 sleeps 50 ms, and one pool cycling through both would be paced by it.
    const pools = PATHS.map((path) => ({ paths: [path], connections: settings.connections }));
    const warm = summarize(await closedLoop({ baseUrl: service.url, pools, durationMs: settings.warmupS * 1000 }));
    log(`warm-up ${warm.rps.toFixed(0)} req/s`);
    // The warm-up's rate includes the cold JIT: size the counted run from a short probe after it.
    const probe = summarize(await closedLoop({ baseUrl: service.url, pools, durationMs: settings.probeS * 1000 }));
    served += warm.responses + probe.responses;
    const rssWarmMiB = rssMiB(service.process.pid!);
    if (started) await started.metrics.settle({ quietMs: variant.flushQuietMs, maxMs: variant.flushQuietMs + 20_000 });

    // Saturation: a request count from the warm-up rate, so the run ends with nothing in flight.
    const saturationS = variant.saturationS ?? settings.saturationS;
    const before = started ? await started.metrics.read() : undefined;
    const counted = pools.map((pool) => ({ ...pool, requests: Math.round(((probe.perPath[pool.paths[0]!] ?? 0) / probe.elapsedS) * saturationS) }));
    const load = summarize(await closedLoop({ baseUrl: service.url, pools: counted, durationMs: (saturationS * 2 + 10) * 1000 }));
    const rssAfterSaturationMiB = rssMiB(service.process.pid!);
    served += load.responses + (started ? settings.calibrationRequests * PATHS.length : 0);
    log(`saturation ${load.rps.toFixed(0)} req/s over ${load.elapsedS.toFixed(1)} s, p99 ${load.p99Ms.toFixed(1)} ms`);
    if (load.cutOff) notes.push('saturation run hit its deadline: span accounting approximate');
    const spansExpected = variant.traced ? expectedSpans(load, spansPerRequest) : 0;
    const afterSaturation = started ? await started.metrics.settle({ quietMs: variant.flushQuietMs, maxMs: 60_000, atLeast: before!.acceptedSpans + spansExpected }) : undefined;
    const saturation = phase(load, spansExpected, started ? delta(afterSaturation!, before!) : { accepted: 0, refused: 0 });

    let fixed: Phase | undefined;
    if (options.fixed) {
      const beforeFixed = started ? await started.metrics.read() : undefined;
      const fixedLoad = summarize(await openLoop({ baseUrl: service.url, paths: PATHS, rate: settings.fixedRate, durationS: settings.fixedS }));
      log(`fixed rate ${fixedLoad.rps.toFixed(0)} req/s, p50 ${fixedLoad.p50Ms.toFixed(2)} ms, p99 ${fixedLoad.p99Ms.toFixed(2)} ms`);
      const fixedExpected = variant.traced ? expectedSpans(fixedLoad, spansPerRequest) : 0;
      const afterFixed = started
        ? await started.metrics.settle({ quietMs: variant.flushQuietMs, maxMs: 60_000, atLeast: beforeFixed!.acceptedSpans + fixedExpected })
        : undefined;
      fixed = phase(fixedLoad, fixedExpected, started ? delta(afterFixed!, beforeFixed!) : { accepted: 0, refused: 0 });
      served += fixedLoad.responses;
    }
    const rssEndMiB = rssMiB(service.process.pid!);
    const exitCode = await service.stop();
    const pod = cgroup ? { ...cgroup.limits, ...cgroup.memory(), ...cgroup.throttled() } : undefined;
    if (pod) log(`pod: peak ${pod.peakMiB.toFixed(0)} MiB of ${(pod.memoryBytes / 2 ** 20).toFixed(0)}, ${pod.limitHits} limit hits, ${pod.oomKills} OOM kills, throttled ${pod.throttledS.toFixed(1)} s`);
    if (exitCode !== 0) notes.push(`the service exited with ${exitCode} on SIGTERM`);
    const serviceReports = readReports(service.logs);
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
      saturation,
      fixed,
      serviceReports,
      exitCode,
      requestsServed: served,
      notes,
    };
  } finally {
    await service.stop();
    await started?.stop();
    cgroup?.remove();
  }
}

function phase(load: LoadSummary, spansExpected: number, received: { accepted: number; refused: number; bytes?: number; largest?: number }): Phase {
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
  };
}
