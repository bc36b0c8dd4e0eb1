import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT } from '../../harness/service.mts';
import { percentile } from '../../harness/stats.mts';
import { calibrate, expectedItems } from './calibration.mts';
import { RATE_WARM_UP_S, runFixedRate } from './fixed-rate.mts';
import { launch, type Launched } from './launch.mts';
import { machine, packageVersions } from './machine.mts';
import { markdownTable } from './markdown.mts';
import { roundOrder, summarizePaired, type PairedVariantSummary, type Slice, type Spread, type StallsPerSecond } from './paired-summary.mts';
import type { Pinning } from './pinning.mts';
import { podCgroupsMissing, removeStaleCgroups } from './pod-cgroup.mts';
import { profileAtRate, stagesTable, threadsTable } from './rate-profile.mts';
import { exportEndpoint, startReceiver, type Receiver } from './receivers.mts';
import type { DiagnosticsLine } from './service-diagnostics.mts';
import { PATHS, RESULTS, resultStamp, settings } from './settings.mts';
import { samplesEveryTrace, type Variant } from './variants.mts';

interface PairedOptions {
  rounds: number;
  sliceS: number;
  rate: number;
  /** Variants profiled at the rate after the rounds (--cpu-prof), and for how long. */
  profiled: string[];
  profileS: number;
}

interface Running {
  variant: Variant;
  launched: Launched;
  receiver: Receiver | undefined;
  spansPerRequest: Record<string, number>;
  spansExpected: number;
  receivedBefore: number;
}

/** Between two slices: the last batch of the slice before goes out (the kit's schedule delay is 200 ms) before the next service is measured. */
const GAP_MS = 1_000;

/**
 * `--paired`: every variant started at once, all idle but one; then rounds,
 * each a slice of `--slice-seconds` at `--fixed-rate` for every variant in
 * turn (the order rotating), so each traced slice has an untraced one from
 * the same minute beside it. Pod-shaped variants are compared with
 * `untraced-pod`, the others with `untraced`.
 */
export async function runPaired(variants: Variant[], pinning: Pinning, options: PairedOptions): Promise<void> {
  const podMissing = podCgroupsMissing();
  if (podMissing && variants.some((v) => v.pod)) throw new Error(`--paired: the pod-shaped variants need a cgroup: ${podMissing}`);
  if (!podMissing) removeStaleCgroups();
  const baseOf = (key: string) => {
    const variant = variants.find((v) => v.key === key)!;
    return variant.pod ? 'untraced-pod' : 'untraced';
  };
  const missingBase = variants.map((v) => baseOf(v.key)).find((base) => !variants.some((v) => v.key === base));
  if (missingBase) throw new Error(`--paired compares with ${missingBase}: add it to --only`);
  const profiled = options.profiled.map((key) => variants.find((v) => v.key === key) ?? fail(`--cpu-prof: "${key}" is not among --only`));

  const date = new Date();
  const stamp = resultStamp(date);
  const logDir = mkdtempSync(join(tmpdir(), 'users-api-paired-'));
  const log = (message: string) => process.stderr.write(`[paired] ${message}\n`);
  log(`${options.rounds} rounds of ${options.sliceS} s at ${options.rate} req/s for ${variants.map((v) => v.key).join(', ')}; logs in ${logDir}`);

  const running: Running[] = [];
  try {
    for (const variant of variants) running.push(await start(variant, pinning, logDir, options.rate));
    const slices: Slice[] = [];
    for (let round = 0; round < options.rounds; round += 1) {
      for (const subject of roundOrder(running, round)) {
        await sleep(GAP_MS);
        const slice = await measureSlice(subject, round, options);
        slices.push(slice);
        const p99s = PATHS.map((path) => `${path} p99 ${percentileText(slice.latencies[path])}`).join(', ');
        log(`round ${round + 1}, ${subject.variant.key}: ${p99s}${slice.loopDelayMs ? `, loop delay p99 ${slice.loopDelayMs.p99.toFixed(2)} ms` : ''}`);
      }
    }
    const losses = await Promise.all(running.map(spanLoss));
    const summaries = summarizePaired(slices, variants.map((v) => v.key), PATHS, baseOf);
    const profiles = await profileAtRate(profiled, pinning, logDir, stamp, { rate: options.rate, seconds: options.profileS });
    const output = [report(summaries, losses, options, date, pinning), ...(profiles.length ? ['', profilesIntro(options), '', stagesTable(profiles), '', threadsTable(profiles)] : [])].join('\n');
    process.stdout.write(`${output}\n`);
    mkdirSync(RESULTS, { recursive: true });
    const file = join(RESULTS, `${stamp}-paired.json`);
    const sliceFigures = slices.map(({ latencies, ...rest }) => ({
      ...rest,
      p99Ms: Object.fromEntries(Object.entries(latencies).map(([path, values]) => [path, percentile(values, 99)])),
      answers: Object.fromEntries(Object.entries(latencies).map(([path, values]) => [path, values.length])),
    }));
    const document = { date: date.toISOString(), machine: machine(), node: process.version, pinning, options, packages: packageVersions(), variants: variants.map((v) => ({ key: v.key, label: v.label })), summaries, losses, slices: sliceFigures, profiles: profiles.map((p) => ({ ...p, file: relative(ROOT, p.file) })), output };
    writeFileSync(file, `${JSON.stringify(document, null, 2)}\n`);
    process.stdout.write(`\nresults: ${relative(ROOT, file)}\n`);
  } finally {
    for (const { launched, receiver } of running) {
      await launched.service.stop();
      await receiver?.stop();
      launched.cgroup?.remove();
    }
    rmSync(logDir, { recursive: true, force: true });
  }
}

async function start(variant: Variant, pinning: Pinning, logDir: string, rate: number): Promise<Running> {
  const receiver = await startReceiver(variant, pinning);
  const endpoint = await exportEndpoint(receiver);
  const launched = await launch(variant, endpoint, pinning, { name: variant.key, logDir, diagnostics: settings.diagnostics });
  const { spansPerRequest } = await calibrate(launched.service.url, receiver?.metrics, variant);
  await runFixedRate(launched.service.url, rate, RATE_WARM_UP_S);
  const receivedBefore = receiver ? (await receiver.metrics.settle({ quietMs: variant.flushQuietMs, maxMs: variant.flushQuietMs + 20_000 })).acceptedSpans : 0;
  await launched.diagnostics?.take(); // the first slice's window starts here
  return { variant, launched, receiver, spansPerRequest, spansExpected: 0, receivedBefore };
}

async function measureSlice(subject: Running, round: number, options: { sliceS: number; rate: number }): Promise<Slice> {
  const { launched } = subject;
  await launched.diagnostics?.take(); // ends the idle window since its last slice
  const throttledBefore = launched.cgroup?.throttled();
  const run = await runFixedRate(launched.service.url, options.rate, options.sliceS);
  const throttledAfter = launched.cgroup?.throttled();
  const line = await launched.diagnostics?.take();
  if (subject.variant.traced) subject.spansExpected += expectedItems(run.load.perPath, subject.spansPerRequest);
  const latencies: Record<string, number[]> = {};
  for (const answer of run.answers) (latencies[answer.path] ??= []).push(answer.ms);
  return {
    round,
    key: subject.variant.key,
    latencies,
    loopDelayMs: line && { p99: line.eventLoopDelayMs.p99, max: line.eventLoopDelayMs.max },
    eventLoopUtilization: line?.eventLoopUtilization,
    throttledShare:
      throttledBefore && throttledAfter
        ? (throttledAfter.throttledPeriods - throttledBefore.throttledPeriods) / Math.max(1, throttledAfter.periods - throttledBefore.periods)
        : undefined,
    stallMsPerS: line && perSecond(line),
    sustained: run.sustained,
  };
}

function perSecond(line: DiagnosticsLine): StallsPerSecond {
  const seconds = line.windowMs / 1000;
  const { totalMs, byCauseMs } = line.stalls;
  return { total: totalMs / seconds, gc: byCauseMs.gc / seconds, spanExport: byCauseMs.spanExport / seconds, logExport: byCauseMs.logExport / seconds, other: byCauseMs.other / seconds };
}

async function spanLoss(subject: Running): Promise<{ key: string; expected: number; received: number; lost: number }> {
  const { receiver, variant } = subject;
  // A head sampler records a random share of the traces: there is no count to expect.
  if (!receiver || !samplesEveryTrace(variant)) return { key: variant.key, expected: 0, received: 0, lost: 0 };
  const after = await receiver.metrics.settle({ quietMs: variant.flushQuietMs, maxMs: 60_000, atLeast: subject.receivedBefore + subject.spansExpected });
  const received = after.acceptedSpans - subject.receivedBefore;
  return { key: variant.key, expected: subject.spansExpected, received, lost: Math.max(0, subject.spansExpected - received) };
}

function fail(message: string): never {
  throw new Error(message);
}

function profilesIntro(options: PairedOptions): string {
  return (
    `CPU per request by stage: each variant once more, alone, under node --cpu-prof, ${options.profileS} s at ${options.rate} req/s after ${RATE_WARM_UP_S} s of warm-up; ` +
    'a sample goes to the innermost frame of its stack that belongs to a stage (bench/lib/cpu-stages.mts). The profiler slows the service: compare the columns, not with the rounds.'
  );
}

function percentileText(values: number[] | undefined): string {
  return values?.length ? `${percentile(values, 99).toFixed(2)} ms` : '–';
}

const ms = (s: Spread | undefined, digits = 2) => (s ? `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})` : '–');
const times = (s: Spread | undefined) => (s ? `${s.median.toFixed(2)}× (${s.min.toFixed(2)}–${s.max.toFixed(2)})` : '–');

function report(
  summaries: PairedVariantSummary[],
  losses: { key: string; expected: number; received: number; lost: number }[],
  options: { rounds: number; sliceS: number; rate: number },
  date: Date,
  pinning: Pinning,
): string {
  const header = ['variant', ...PATHS.flatMap((path) => [`p99 ${path} ms, median slice (range)`, `× its base, median round (range)`]), 'loop delay p99 ms', 'over its base ms', 'loop delay max ms', 'loop busy', 'CFS periods throttled', 'stalled ms/s: all = GC + span export + log export + other', 'spans lost'];
  const rows = summaries.map((s) => {
    const loss = losses.find((l) => l.key === s.key)!;
    return [
      `${s.key}${s.allSustained ? '' : ' (not every slice sustained)'}`,
      ...PATHS.flatMap((path) => [ms(s.sliceP99Ms[path]), s.ratio ? times(s.ratio[path]) : 'base']),
      ms(s.loopDelayP99Ms),
      s.loopDelayP99OverBaseMs ? ms(s.loopDelayP99OverBaseMs) : 'base',
      ms(s.loopDelayMaxMs, 1),
      s.eventLoopUtilization === undefined ? '–' : `${(s.eventLoopUtilization * 100).toFixed(0)}%`,
      s.throttledShare === undefined ? '–' : `${(s.throttledShare * 100).toFixed(0)}%`,
      s.stallMsPerS ? `${s.stallMsPerS.total.toFixed(1)} = ${[s.stallMsPerS.gc, s.stallMsPerS.spanExport, s.stallMsPerS.logExport, s.stallMsPerS.other].map((v) => v.toFixed(1)).join(' + ')}` : '–',
      loss.expected ? `${loss.lost} of ${loss.expected}` : '–',
    ];
  });
  const pooled = summaries.map((s) => [s.key, ...PATHS.flatMap((path) => [s.pooled[path]!.p99Ms.toFixed(2), s.pooled[path]!.p999Ms.toFixed(2)])]);
  return [
    '',
    `Paired ${date.toISOString()}: ${options.rounds} rounds, each variant ${options.sliceS} s at ${options.rate} req/s open loop per round, the order rotating; ${pinning.description}.`,
    'Ratios and "over its base" are per round, against the base variant\'s slice of the same round (untraced-pod for pod-shaped variants, untraced otherwise).',
    'Stalled: time per second the event loop did not get back to a 1 ms interval for more than 2 ms, and what of it overlapped a GC pause or an export() call (median slice).',
    '',
    markdownTable(header, rows),
    '',
    'Over every answer of every slice:',
    '',
    markdownTable(['variant', ...PATHS.flatMap((path) => [`p99 ${path} ms`, `p999 ${path} ms`])], pooled),
  ].join('\n');
}
