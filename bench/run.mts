/*
 * npm run bench — what tracing costs this service, and what happens when the
 * collector is away. Drives the built service (dist/) with a load generator on
 * loopback only, in four variants side by side, prints one table and writes
 * the whole run as JSON to bench/results/<date>.json.
 *
 *   node bench/run.mts [--quick] [--only=untraced,traced] [--cpu-prof[=traced,...]]
 *                      [--saturation-seconds=N] [--fixed-seconds=N] [--fixed-rate=N]
 *                      [--down-seconds=N] [--warmup-seconds=N] [--connections=N]
 *                      [--experiments=FILE.json] [--no-pin] [--keep-logs]
 *
 * Every flag also reads from the environment as BENCH_<FLAG> (BENCH_QUICK=1,
 * BENCH_SATURATION_SECONDS=5, ...). Every load run stops by itself: by a
 * request count and by a hard deadline.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, freemem, release, tmpdir, totalmem } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Collector, ensureCollectorBuilt } from '../harness/collector.mts';
import { SERVICE_NODE_ARGS, Service, freePort, status, type LogLine } from '../harness/service.mts';
import { rssMiB } from '../harness/stats.mts';
import { CollectorMetrics, type ReceiverCounts } from './lib/collector-metrics.mts';
import { closedLoop, openLoop, summarize, type LoadSummary } from '../harness/load.mts';
import { pin, planPinning, type Pinning } from './lib/pinning.mts';
import { compareProfiles, formatProfile, summarizeProfile, type ProfileSummary } from './lib/profile.mts';

const ROOT = resolve(import.meta.dirname, '..');
const RESULTS = join(ROOT, 'bench', 'results');
const PATHS = ['/users/42', '/users/123'];
/** What our own build makes per request (server → getUser [→ middleWork → errorWork]): checked against calibration. */
const OWN_SPANS_PER_REQUEST: Record<string, number> = { '/users/42': 2, '/users/123': 4 };

// ---------------------------------------------------------------- options

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    only: { type: 'string' },
    'cpu-prof': { type: 'boolean' },
    'cpu-prof-variants': { type: 'string' },
    'saturation-seconds': { type: 'string' },
    'fixed-seconds': { type: 'string' },
    'fixed-rate': { type: 'string' },
    'down-seconds': { type: 'string' },
    'warmup-seconds': { type: 'string' },
    connections: { type: 'string' },
    experiments: { type: 'string' },
    'no-pin': { type: 'boolean' },
    'keep-logs': { type: 'boolean' },
  },
  allowPositionals: false,
  // `--cpu-prof=traced,peer` is accepted as a shorthand for --cpu-prof --cpu-prof-variants=...
  args: process.argv.slice(2).flatMap((arg) => {
    const match = /^--cpu-prof=(.+)$/.exec(arg);
    return match ? ['--cpu-prof', `--cpu-prof-variants=${match[1]}`] : [arg];
  }),
});

function option(name: keyof typeof flags): string | boolean | undefined {
  const fromFlag = flags[name];
  if (fromFlag !== undefined) return fromFlag;
  const fromEnv = process.env[`BENCH_${name.toUpperCase().replace(/-/g, '_')}`];
  if (fromEnv === undefined || fromEnv === '') return undefined;
  return ['quick', 'cpu-prof', 'no-pin', 'keep-logs'].includes(name) ? fromEnv !== '0' && fromEnv !== 'false' : fromEnv;
}

function numberOption(name: keyof typeof flags, quick: number, full: number): number {
  const raw = option(name);
  if (raw === undefined) return option('quick') ? quick : full;
  const parsed = Number(raw);
  if (!Number.isFinite(parsed) || parsed <= 0) throw new Error(`--${name} must be a positive number, got ${String(raw)}`);
  return parsed;
}

const settings = {
  quick: Boolean(option('quick')),
  warmupS: numberOption('warmup-seconds', 1, 3),
  saturationS: numberOption('saturation-seconds', 5, 20),
  fixedS: numberOption('fixed-seconds', 5, 30),
  fixedRate: numberOption('fixed-rate', 1000, 1000),
  downS: numberOption('down-seconds', 10, 60),
  /** Per endpoint: each path has its own pool of connections. */
  connections: numberOption('connections', 64, 64),
  calibrationRequests: 3,
  /** Seconds of the rate probe that sizes each counted saturation run. */
  probeS: option('quick') ? 1 : 2,
};

// ---------------------------------------------------------------- variants

/** How to start one variant of the service. */
interface ServiceSpec {
  /** Arguments after the node binary. */
  nodeArgs: string[];
  env: Record<string, string>;
  cwd: string;
}

interface Variant {
  key: string;
  label: string;
  spec: (endpoint: string) => ServiceSpec;
  /** Start a collector for it (otherwise nothing listens where it exports). */
  collector: boolean;
  /** Exports at all (so spans are expected). */
  traced: boolean;
  /** How long the span count must stay still to count as flushed: longer than the exporter's schedule delay. */
  flushQuietMs: number;
  /** Saturation seconds, when not the default. */
  saturationS?: number;
}

const OWN_SERVICE = SERVICE_NODE_ARGS;

const VARIANTS: Variant[] = [
  {
    key: 'untraced',
    label: 'untraced (OTEL_SDK_DISABLED=true)',
    spec: () => ({ nodeArgs: OWN_SERVICE, cwd: ROOT, env: { OTEL_SDK_DISABLED: 'true' } }),
    collector: false,
    traced: false,
    flushQuietMs: 0,
  },
  {
    key: 'peer',
    label: 'zero-code auto-instrumentation (peer)',
    // The register hook starts NodeSDK from the environment; the second preload then turns
    // OTEL_SDK_DISABLED on for our own init only (see bench/peer-own-tracing-off.cjs).
    spec: (endpoint) => ({
      nodeArgs: ['--require', '@opentelemetry/auto-instrumentations-node/register', '--require', './bench/peer-own-tracing-off.cjs', 'dist/server.js'],
      cwd: ROOT,
      env: {
        OTEL_SERVICE_NAME: 'users-api',
        OTEL_TRACES_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
        OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
        OTEL_METRICS_EXPORTER: 'none',
        OTEL_LOGS_EXPORTER: 'none',
        OTEL_NODE_RESOURCE_DETECTORS: 'env,host,os,process,serviceinstance',
      },
    }),
    collector: true,
    traced: true,
    flushQuietMs: 6_500, // NodeSDK's default schedule delay is 5 s
  },
  {
    key: 'traced',
    label: 'traced → real collector',
    spec: (endpoint) => ({ nodeArgs: OWN_SERVICE, cwd: ROOT, env: { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint } }),
    collector: true,
    traced: true,
    flushQuietMs: 2_500, // our schedule delay is 1 s
  },
  {
    key: 'down',
    label: 'traced, collector down',
    spec: (endpoint) => ({ nodeArgs: OWN_SERVICE, cwd: ROOT, env: { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint } }),
    collector: false,
    traced: true,
    flushQuietMs: 0,
    saturationS: settings.downS,
  },
];

/**
 * Candidate changes, measured like `traced`: a JSON list of
 * { "key", "label", "dir"?: a copy of the project built into <dir>/dist, "env"?: extra variables,
 *   "nodeArgs"?: extra node flags }.
 */
interface ExperimentSpec {
  key: string;
  label?: string;
  dir?: string;
  env?: Record<string, string>;
  nodeArgs?: string[];
}

function experimentVariants(file: string): Variant[] {
  const list = JSON.parse(readFileSync(file, 'utf8')) as ExperimentSpec[];
  return list.map((experiment) => {
    const dir = experiment.dir ? resolve(ROOT, experiment.dir) : ROOT;
    return {
      key: experiment.key,
      label: experiment.label ?? experiment.key,
      spec: (endpoint: string) => ({
        nodeArgs: [...(experiment.nodeArgs ?? []), '--require', join(dir, 'dist/instrumentation.js'), join(dir, 'dist/server.js')],
        cwd: ROOT,
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, ...experiment.env },
      }),
      collector: true,
      traced: true,
      flushQuietMs: 2_500 + Number(experiment.env?.OTEL_BSP_SCHEDULE_DELAY ?? 0),
    };
  });
}

// ---------------------------------------------------------------- one variant

interface Phase {
  load: LoadSummary;
  spansExpected: number;
  spansReceived: number;
  spansRefused: number;
  spansLost: number;
  spansLostPercent: number;
}

interface VariantResult {
  key: string;
  label: string;
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

interface ServiceReports {
  exportFailingLines: number;
  dropReportLines: number;
  recoveredLines: number;
  /** Spans the service said it lost (ExportMonitor): failed exports and queue overflow. */
  spansReportedLost: number;
  queueOverflowLines: number;
  otherWarnings: number;
}

function readReports(lines: LogLine[]): ServiceReports {
  const reports: ServiceReports = { exportFailingLines: 0, dropReportLines: 0, recoveredLines: 0, spansReportedLost: 0, queueOverflowLines: 0, otherWarnings: 0 };
  for (const line of lines) {
    const msg = String(line.msg ?? '');
    const lost = Number(line.lost ?? line.lost_spans ?? 0);
    if (/^(span|trace) export is failing/.test(msg)) {
      reports.exportFailingLines += 1;
      reports.spansReportedLost += lost;
    } else if (/^spans dropped since the last report/.test(msg)) {
      reports.dropReportLines += 1;
      reports.spansReportedLost += lost;
    } else if (/^(span|trace) export recovered/.test(msg)) {
      reports.recoveredLines += 1;
    } else if (/^span queue full/.test(msg)) {
      reports.queueOverflowLines += 1;
      reports.spansReportedLost += lost;
    } else if (/Dropped (\d+) spans because maxQueueSize/.test(msg)) {
      reports.queueOverflowLines += 1;
      reports.spansReportedLost += Number(/Dropped (\d+) spans/.exec(msg)![1]);
    } else if (line.level === 'warn' || line.level === 'error') {
      reports.otherWarnings += 1;
    }
  }
  return reports;
}

function expectedSpans(load: LoadSummary, perRequest: Record<string, number>): number {
  return Object.entries(load.perPath).reduce((sum, [path, count]) => sum + count * (perRequest[path] ?? 0), 0);
}

function delta(after: ReceiverCounts, before: ReceiverCounts): { accepted: number; refused: number } {
  return { accepted: after.acceptedSpans - before.acceptedSpans, refused: after.refusedSpans - before.refusedSpans };
}

async function startCollector(pinning: Pinning): Promise<{ collector: Collector; metrics: CollectorMetrics }> {
  const metricsPort = await freePort();
  const collector = await Collector.start({
    COLLECTOR_METRICS_PORT: String(metricsPort),
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
  return { collector, metrics: new CollectorMetrics(metricsPort) };
}

async function measure(
  variant: Variant,
  pinning: Pinning,
  logDir: string,
  options: { fixed: boolean; nodeFlags?: string[]; calibration?: Record<string, number> },
): Promise<VariantResult> {
  const notes: string[] = [];
  const started = variant.collector ? await startCollector(pinning) : undefined;
  const endpoint = started ? started.collector.endpoint : `http://127.0.0.1:${await freePort()}`;
  const spec = variant.spec(endpoint);
  if (options.nodeFlags) spec.nodeArgs = [...options.nodeFlags, ...spec.nodeArgs];
  const service = await Service.start(spec.env, {
    cwd: spec.cwd,
    nodeArgs: spec.nodeArgs,
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
    if (exitCode !== 0) notes.push(`the service exited with ${exitCode} on SIGTERM`);
    const serviceReports = readReports(service.logs);
    return {
      key: variant.key,
      label: variant.label,
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
    await started?.collector.stop();
  }
}

function phase(load: LoadSummary, spansExpected: number, received: { accepted: number; refused: number }): Phase {
  const spansLost = Math.max(0, spansExpected - received.accepted);
  return {
    load,
    spansExpected,
    spansReceived: received.accepted,
    spansRefused: received.refused,
    spansLost,
    spansLostPercent: spansExpected ? (spansLost / spansExpected) * 100 : 0,
  };
}

// ---------------------------------------------------------------- report

interface Target {
  what: string;
  ratio: string;
  met: boolean | undefined;
}

function targets(results: VariantResult[], candidateKey = 'traced'): Target[] {
  const base = results.find((r) => r.key === 'untraced');
  const traced = results.find((r) => r.key === candidateKey);
  const down = results.find((r) => r.key === 'down');
  const list: Target[] = [];
  const add = (what: string, value: number | undefined, limit: number, atMost: boolean, format = (v: number) => `${v.toFixed(2)}×`) => {
    if (value === undefined || Number.isNaN(value)) return list.push({ what, ratio: 'n/a', met: undefined });
    list.push({ what, ratio: format(value), met: atMost ? value <= limit : value >= limit });
  };
  if (base && traced) {
    add('saturation req/s ≥ 0.75× untraced', traced.saturation.load.rps / base.saturation.load.rps, 0.75, false);
    for (const path of PATHS) {
      add(`saturation p99 of ${path} ≤ 1.5× untraced`, traced.saturation.load.latencyByPath[path]!.p99Ms / base.saturation.load.latencyByPath[path]!.p99Ms, 1.5, true);
    }
    add('0 spans lost at saturation', traced.saturation.spansLost, 0, true, (v) => `${v} lost (${traced.saturation.spansLostPercent.toFixed(2)}%)`);
    add('start to ready ≤ 2× untraced', traced.startToReadyMs / base.startToReadyMs, 2, true);
    add('RSS after saturation ≤ 1.5× untraced', traced.rssAfterSaturationMiB / base.rssAfterSaturationMiB, 1.5, true);
    if (traced.fixed && base.fixed) {
      for (const path of PATHS) {
        add(`${settings.fixedRate}/s p99 of ${path} ≤ 1.2× untraced`, traced.fixed.load.latencyByPath[path]!.p99Ms / base.fixed!.load.latencyByPath[path]!.p99Ms, 1.2, true);
      }
      add(`0 spans lost at fixed ${settings.fixedRate}/s`, traced.fixed.spansLost, 0, true, (v) => `${v} lost`);
    }
  }
  if (down && traced && candidateKey === 'traced') {
    const rpsChange = down.saturation.load.rps / traced.saturation.load.rps;
    list.push({ what: 'collector down: req/s within 10% of collector up', ratio: `${rpsChange.toFixed(2)}×`, met: Math.abs(rpsChange - 1) <= 0.1 });
    for (const path of PATHS) {
      const p99Change = down.saturation.load.latencyByPath[path]!.p99Ms / traced.saturation.load.latencyByPath[path]!.p99Ms;
      list.push({ what: `collector down: saturation p99 of ${path} within 10% of collector up`, ratio: `${p99Change.toFixed(2)}×`, met: p99Change <= 1.1 });
    }
    const growth = down.rssEndMiB - down.rssWarmMiB;
    list.push({ what: 'collector down: RSS growth under load ≤ 50 MB', ratio: `${growth.toFixed(0)} MiB (after warm-up → end)`, met: growth <= 50 * 1e6 / 2 ** 20 });
    const r = down.serviceReports;
    const seconds = Math.round(down.saturation.load.elapsedS + (down.fixed?.load.elapsedS ?? 0));
    const allowed = 1 + Math.ceil(seconds / 30) + 1; // the first failure, one per 30 s interval, one at shutdown
    const lost = down.saturation.spansLost + (down.fixed?.spansLost ?? 0);
    list.push({
      what: 'collector down: drops reported once per interval, never silently',
      ratio: `${r.exportFailingLines + r.dropReportLines} report lines over ~${seconds} s of load; ${r.spansReportedLost} of ${lost} lost spans reported`,
      met: r.exportFailingLines === 1 && r.exportFailingLines + r.dropReportLines <= allowed && r.spansReportedLost >= lost,
    });
  }
  return list;
}

const f2 = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : '–');
const ratio = (v: number, base: number | undefined) => (base && Number.isFinite(v) ? `${(v / base).toFixed(2)}×` : '–');

function table(results: VariantResult[]): string {
  const base = results.find((r) => r.key === 'untraced');
  const withRatio = (value: number, baseValue: number | undefined, digits: number) =>
    `${Number.isFinite(value) ? value.toFixed(digits) : '–'}${base && base !== undefined && baseValue ? ` (${ratio(value, baseValue)})` : ''}`;
  const p99 = (load: LoadSummary | undefined, baseLoad: LoadSummary | undefined, digits: number) =>
    load ? PATHS.map((path) => withRatio(load.latencyByPath[path]!.p99Ms, baseLoad?.latencyByPath[path]?.p99Ms, digits)).join(' / ') : '–';
  const p50 = (load: LoadSummary | undefined) => (load ? PATHS.map((path) => f2(load.latencyByPath[path]!.p50Ms)).join(' / ') : '–');
  const lost = (p: Phase | undefined) => (p && p.spansExpected ? `${p.spansExpected}→${p.spansReceived} (${p.spansLostPercent.toFixed(1)}% lost)` : '–');
  const header = [
    'variant',
    'saturation req/s',
    'sat. p99 ms 42 / 123',
    'spans sent→received, sat.',
    `${settings.fixedRate}/s p50 ms 42 / 123`,
    `${settings.fixedRate}/s p99 ms 42 / 123`,
    `spans, ${settings.fixedRate}/s`,
    'start→ready ms',
    'RSS MiB',
  ];
  const rows = results.map((r) => [
    r.label,
    withRatio(r.saturation.load.rps, base?.saturation.load.rps, 0),
    p99(r.saturation.load, base?.saturation.load, 1),
    lost(r.saturation),
    p50(r.fixed?.load),
    p99(r.fixed?.load, base?.fixed?.load, 2),
    lost(r.fixed),
    withRatio(r.startToReadyMs, base?.startToReadyMs, 0),
    withRatio(r.rssAfterSaturationMiB, base?.rssAfterSaturationMiB, 0),
  ]);
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((row) => row[i]!.length)));
  const line = (row: string[]) => `| ${row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join(' | ')} |`;
  return [line(header), `|${widths.map((w, i) => (i === 0 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`, ...rows.map(line)].join('\n');
}

// ---------------------------------------------------------------- machine facts

function packageVersions(): Record<string, string> {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  const names = [...Object.keys(pkg.dependencies ?? {}), '@opentelemetry/auto-instrumentations-node', '@opentelemetry/sdk-node'];
  const versions: Record<string, string> = {};
  for (const name of names) {
    const file = join(ROOT, 'node_modules', name, 'package.json');
    versions[name] = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version : 'not installed';
  }
  return versions;
}

function collectorVersion(binary: string): string {
  try {
    return execFileSync(binary, ['--version'], { encoding: 'utf8', timeout: 10_000 }).trim();
  } catch {
    return 'unknown';
  }
}

function machine(): Record<string, unknown> {
  const cpuInfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
  return {
    cpuModel: /^model name\s*:\s*(.+)$/m.exec(cpuInfo)?.[1] ?? cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    freeMemoryGiB: Math.round(freemem() / 2 ** 30),
    kernel: release(),
    loadAverageAtStart: existsSync('/proc/loadavg') ? readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ') : undefined,
  };
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  if (!existsSync(join(ROOT, 'dist/server.js'))) throw new Error('dist/ is missing: run `npm run build` first (npm run bench does)');
  const collectorBinary = ensureCollectorBuilt();
  const pinning = planPinning(Boolean(option('no-pin')));
  pin(process.pid, pinning.loadGenerator);

  const only = typeof option('only') === 'string' ? String(option('only')).split(',') : undefined;
  const experiments = typeof option('experiments') === 'string' ? experimentVariants(resolve(String(option('experiments')))) : [];
  const variants = [...VARIANTS.filter((v) => !only || only.includes(v.key)), ...experiments.filter((v) => !only || only.includes(v.key) || only.includes('experiments'))];
  const profiled = option('cpu-prof') ? (typeof option('cpu-prof-variants') === 'string' ? String(option('cpu-prof-variants')).split(',') : ['untraced', 'traced']) : [];

  const date = new Date();
  const stamp = date.toISOString().replace(/:/g, '-').replace(/\.\d+Z$/, 'Z');
  mkdirSync(RESULTS, { recursive: true });
  const logDir = mkdtempSync(join(tmpdir(), 'users-api-bench-'));
  const facts = machine();
  process.stderr.write(
    `[bench] ${stamp}, ${String(facts.cpuModel)} × ${String(facts.cores)}, node ${process.version}; ${pinning.description}\n` +
      `[bench] warm-up ${settings.warmupS} s, saturation ${settings.saturationS} s (collector down: ${settings.downS} s) with ${settings.connections} connections per endpoint, ` +
      `fixed ${settings.fixedRate}/s for ${settings.fixedS} s; endpoints ${PATHS.join(' and ')} alternating; logs in ${logDir}\n`,
  );

  const results: VariantResult[] = [];
  for (const variant of variants) {
    const calibration = results.find((r) => r.key === 'traced')?.spansPerRequest;
    results.push(await measure(variant, pinning, logDir, { fixed: true, calibration }));
  }

  const profiles: ProfileSummary[] = [];
  for (const key of profiled) {
    const variant = [...VARIANTS, ...experiments].find((v) => v.key === key);
    if (!variant) throw new Error(`--cpu-prof: no variant "${key}"`);
    const name = `${stamp}-${key}.cpuprofile`;
    process.stderr.write(`[bench] profiling ${key} (a separate saturation run, so the profiler does not touch the table's numbers)\n`);
    const run = await measure({ ...variant, saturationS: settings.saturationS }, pinning, logDir, {
      fixed: false,
      nodeFlags: ['--cpu-prof', '--cpu-prof-dir', RESULTS, '--cpu-prof-name', name],
    });
    const summary = summarizeProfile(join(RESULTS, name), run.requestsServed, key);
    summary.file = relative(ROOT, summary.file);
    profiles.push(summary);
  }

  const targetList = targets(results);
  const output = [
    '',
    `Benchmark ${date.toISOString()} — ${String(facts.cpuModel)}, ${String(facts.cores)} cores, ${String(facts.memoryGiB)} GiB, node ${process.version}`,
    `Pinning: ${pinning.description}.`,
    `Load on loopback: saturation ${settings.saturationS} s (collector down: ${settings.downS} s), ${settings.connections} keep-alive connections per endpoint ` +
      `(${PATHS.join(', ')}) at once, each run bounded by a request count taken from a ${settings.warmupS} s warm-up; ` +
      `then ${settings.fixedRate} req/s open-loop for ${settings.fixedS} s, the endpoints alternating. Spans counted by the collector (otelcol_receiver_accepted_spans).`,
    '',
    table(results),
    '',
    'Targets (traced vs untraced, collector down vs traced):',
    ...targetList.map((t) => `  ${t.met === undefined ? '  ?' : t.met ? ' met' : 'NOT met'}  ${t.what}: ${t.ratio}`),
    ...results.flatMap((r) => r.notes.map((n) => `  note (${r.key}): ${n}`)),
    ...results
      .filter((r) => r.serviceReports.exportFailingLines + r.serviceReports.queueOverflowLines > 0)
      .map(
        (r) =>
          `  service log (${r.key}): ${r.serviceReports.exportFailingLines} "export is failing", ${r.serviceReports.dropReportLines} "spans dropped since the last report", ` +
          `${r.serviceReports.queueOverflowLines} queue-overflow lines; ${r.serviceReports.spansReportedLost} spans reported lost`,
      ),
    ...profiles.map((p) => `\n${formatProfile(p)}`),
    ...(profiles.length > 1 ? ['', compareProfiles(profiles)] : []),
  ].join('\n');
  process.stdout.write(`${output}\n`);

  const file = join(RESULTS, `${stamp}.json`);
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        date: date.toISOString(),
        machine: facts,
        node: process.version,
        pinning,
        settings,
        packages: packageVersions(),
        collector: collectorVersion(collectorBinary),
        endpoints: PATHS,
        variants: results,
        targets: targetList,
        profiles,
        table: table(results),
      },
      null,
      2,
    )}\n`,
  );
  process.stdout.write(`\nresults: ${relative(ROOT, file)}\n`);
  if (!option('keep-logs')) rmSync(logDir, { recursive: true, force: true });
  else process.stdout.write(`service logs kept in ${logDir}\n`);
}

await main();
