import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { ROOT } from '../../harness/service.mts';
import { asciiPlot } from './ascii-plot.mts';
import { machine, packageVersions } from './machine.mts';
import type { Pinning } from './pinning.mts';
import type { Plot } from './plot-data.mts';
import { deploymentLimits, podCgroupsMissing, removeStaleCgroups } from './pod-cgroup.mts';
import { option, PATHS, RESULTS, resultStamp, settings } from './settings.mts';
import { soakPlan } from './soak-plan.mts';
import { soakOne, type SoakRun } from './soak-subject.mts';
import { heapUsedOf, sampleTable, summarizeSoak, summaryLines, type SoakSummary } from './soak-summary.mts';
import { svgPlot } from './svg-plot.mts';
import { VARIANTS, type Variant } from './variants.mts';

/**
 * `--soak=60m`: issue 25's soak. The traced service on a free core and in the
 * pod-shaped cgroup, at a steady rate, at the same time, one on each core:
 * at a few hundred requests/s each service needs under half a core, so the
 * two services, the load generator and the sinks stay under two cores (the
 * output says what each used), and an hour's soak takes an hour.
 * `--only=` picks other variants (at most one free-core and one pod-shaped),
 * among them `--experiments=FILE.json`'s (a candidate setting, soaked before it ships).
 * Both run with the Deployment's environment (its NODE_OPTIONS, the V8
 * settings the service ships with, and its export queues): the free core
 * differs from the pod in its cgroup only.
 */
export async function runSoak(options: NonNullable<typeof settings.soak>, pinning: Pinning, experiments: Variant[]): Promise<void> {
  const plan = soakPlan(options);
  const keys = typeof option('only') === 'string' ? String(option('only')).split(',') : ['traced', 'traced-pod'];
  const known = [...VARIANTS, ...experiments];
  let subjects = keys.map((key) => known.find((v) => v.key === key) ?? fail(`--soak: no variant "${key}" (keys: ${known.map((v) => v.key).join(', ')})`));
  const podMissing = podCgroupsMissing();
  if (podMissing && subjects.some((v) => v.pod)) {
    process.stderr.write(`[soak] the pod-shaped soak is left out: ${podMissing}\n`);
    subjects = subjects.filter((v) => !v.pod);
  }
  if (!podMissing) removeStaleCgroups();
  if (subjects.filter((v) => !v.pod).length > 1 || subjects.filter((v) => v.pod).length > 1) {
    fail('--soak runs at most one free-core and one pod-shaped service at once (one on each core): run others in a soak of their own');
  }
  if (subjects.length === 0) fail('--soak: nothing to run');
  // With a free-core service on the service's core, the pod-shaped one goes beside the load generator (at the soak's rate it needs under half a core).
  const freeCore = subjects.some((v) => !v.pod);
  const cpusOf = (v: Variant) => (v.pod && freeCore ? pinning.loadGenerator : pinning.service);
  const date = new Date();
  const stamp = resultStamp(date);
  mkdirSync(RESULTS, { recursive: true });
  const logDir = mkdtempSync(join(tmpdir(), 'users-api-soak-'));
  const limits = deploymentLimits(settings.podCpuMillis);
  const freeCoreSettings = ` with the Deployment's environment (${limits.tuning}), no cgroup`;
  const placement = subjects.map((v) => `${v.key}${experiments.includes(v) ? ` (${v.label})` : ''} on CPU ${cpusOf(v) ?? 'any'}${v.pod ? ` in a cgroup (${limits.source})` : freeCoreSettings}`).join('; ');
  const header = [
    `Soak ${date.toISOString()}: ${fmtMinutes(plan.seconds / 60)} at ${plan.rate} req/s open loop (${PATHS.join(' and ')} alternating), a sample every ${plan.sampleS} s; spans to the counting sink.`,
    `Phases: warm-up to sample ${plan.steadyFrom}, steady to ${plan.outageFrom}, ` +
      (plan.outages === 1
        ? `the sink away to ${plan.recoveryFrom}, back to ${plan.samples}.`
        : `then ${plan.outages} times the sink away for ${plan.outageSamples} samples and back for ${plan.outageSamples}, to ${plan.samples}.`),
    `Placement: ${placement}; load generator and sinks on CPU ${pinning.loadGenerator ?? 'any'}.`,
  ];
  process.stderr.write(`${header.map((line) => `[soak] ${line}`).join('\n')}\n[soak] logs in ${logDir}\n`);
  const cpuAtStart = { usage: process.cpuUsage(), at: performance.now() };
  const settled = await Promise.allSettled(subjects.map((v) => soakOne(v, plan, pinning, { cpus: cpusOf(v), logDir, stamp })));
  const used = process.cpuUsage(cpuAtStart.usage);
  const loadGeneratorCpu = ((used.user + used.system) / 1e3 / (performance.now() - cpuAtStart.at)) * 100;
  const runs = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failures = settled.flatMap((s, i) => (s.status === 'rejected' ? [`${subjects[i]!.key}: ${(s.reason as Error)?.stack ?? String(s.reason)}`] : []));
  const summaries = runs.map(summarizeSoak);

  const output = [
    '',
    ...header,
    `CPU over the soak: ${runs.map((r) => `${r.key} ${mean(r.samples.map((s) => s.cpuPercent)).toFixed(0)}% of a core`).join(', ')}; the load generator ${loadGeneratorCpu.toFixed(0)}%.`,
    '',
    ...runs.flatMap((run, i) => [
      `${run.label} (${run.shape}, CPU ${run.cpus ?? 'any'}):`,
      '',
      sampleTable(run),
      '',
      asciiPlot(memoryPlot(run, summaries[i]!)),
      '',
      ...summaryLines(summaries[i]!),
      ...(run.pod ? [`Cgroup: peak ${run.pod.peakMiB.toFixed(0)} MiB of ${(run.pod.memoryBytes / 2 ** 20).toFixed(0)}, ${run.pod.limitHits} limit hits, ${run.pod.oomKills} OOM kills, throttled ${run.pod.throttledS.toFixed(1)} s.`] : []),
      ...run.heapSnapshots.map((file) => `Heap snapshot: ${relative(ROOT, file)}`),
      ...run.notes.map((note) => `  note: ${note}`),
      '',
    ]),
    ...failures.map((failure) => `FAILED ${failure}`),
  ].join('\n');
  process.stdout.write(`${output}\n`);

  const file = join(RESULTS, `${stamp}-soak.json`);
  const svgFile = join(RESULTS, `${stamp}-soak.svg`);
  writeFileSync(svgFile, svgPlot(runs.map((run, i) => memoryPlot(run, summaries[i]!))));
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        date: date.toISOString(),
        kind: 'soak',
        machine: machine(),
        node: process.version,
        pinning,
        placement,
        plan,
        packages: packageVersions(),
        endpoints: PATHS,
        loadGeneratorCpuPercent: loadGeneratorCpu,
        summaries,
        runs: runs.map((run) => ({ ...run, heapSnapshots: run.heapSnapshots.map((f) => relative(ROOT, f)) })),
        failures,
        plot: relative(ROOT, svgFile),
        output,
      },
      null,
      2,
    )}\n`,
  );
  process.stdout.write(`\nresults: ${relative(ROOT, file)}\nplot: ${relative(ROOT, svgFile)}\n`);
  if (!option('keep-logs')) rmSync(logDir, { recursive: true, force: true });
  else process.stdout.write(`service logs kept in ${logDir}\n`);
  if (failures.length) process.exitCode = 1;
}

/** RSS and heap used over time, with the warm-up and the outage shaded. */
function memoryPlot(run: SoakRun, summary: SoakSummary): Plot {
  const end = (phase: string) => run.samples.filter((s) => s.phase === phase).at(-1)?.minute;
  const steadyEnd = end('steady') ?? 0;
  const slope = (v: number) => `${v >= 0 ? '+' : ''}${v.toFixed(2)}`;
  return {
    title: `${run.key} (${run.shape}), steady part: RSS ${slope(summary.steady.rssMiBPerMin)}, heap used ${slope(summary.steady.heapUsedMeanMiBPerMin)}, after GC ${slope(summary.steady.heapFloorMiBPerMin)} MiB/min`,
    xLabel: 'minutes',
    yLabel: 'MiB',
    series: [
      { label: 'RSS', mark: 'R', color: '#1f77b4', points: run.samples.map((s) => [s.minute, s.rssMiB]) },
      { label: 'heap used', mark: 'h', color: '#d62728', points: run.samples.map((s) => [s.minute, heapUsedOf(s)]) },
      { label: 'heap used after GC', mark: 'f', color: '#2ca02c', points: run.samples.map((s) => [s.minute, s.heapUsedFloorMiB]) },
      { label: 'heap total', mark: 't', color: '#7f7f7f', dashed: true, svgOnly: true, points: run.samples.map((s) => [s.minute, s.heapTotalMiB]) },
      { label: 'resident in V8 pages', mark: 'v', color: '#9467bd', dashed: true, svgOnly: true, points: run.samples.map((s) => [s.minute, s.v8PagesMiB]) },
    ],
    bands: [
      { from: 0, to: end('warm-up') ?? 0, label: 'warm-up', mark: '.', color: '#999999' },
      ...(run.samples.some((s) => s.phase === 'outage') ? [{ from: steadyEnd, to: end('outage') ?? steadyEnd, label: 'collector away', mark: '~', color: '#d62728' }] : []),
    ],
  };
}

const mean = (values: number[]) => values.reduce((sum, v) => sum + v, 0) / values.length;
const fmtMinutes = (minutes: number) => (minutes >= 1 ? `${Number(minutes.toFixed(2))} min` : `${(minutes * 60).toFixed(0)} s`);

function fail(message: string): never {
  throw new Error(message);
}
