/*
 * npm run bench — what tracing costs this service, and what happens when the
 * collector is away. Drives the built service (dist/) with a load generator on
 * loopback only, in four variants side by side, prints one table and writes
 * the whole run as JSON to bench/results/<date>.json.
 *
 *   node bench/run.mts [--quick] [--only=untraced,traced] [--cpu-prof[=traced,...]]
 *                      [--saturation-seconds=N] [--fixed-seconds=N] [--fixed-rate=N]
 *                      [--fixed-rates=200,1000,3000] [--no-diagnostics]
 *                      [--down-seconds=N] [--warmup-seconds=N] [--connections=N]
 *                      [--experiments=FILE.json] [--no-pin] [--keep-logs]
 *   node bench/run.mts --paired --only=untraced,traced,... [--rounds=12] [--slice-seconds=5]
 *                      [--fixed-rate=1000] [--experiments=FILE.json]
 *   node bench/run.mts --soak=60m [--soak-rate=800] [--soak-sample-seconds=N]
 *                      [--heap-snapshots] [--only=traced,traced-pod] [--experiments=FILE.json]
 *
 * Every flag also reads from the environment as BENCH_<FLAG> (BENCH_QUICK=1,
 * BENCH_SATURATION_SECONDS=5, ...). Every load run stops by itself: by a
 * request count and by a hard deadline.
 *
 * The parts, one job each, are in bench/lib/: settings (flags), variants,
 * measure (one variant), service-reports (what the service logged about
 * export), service-diagnostics (what it measured inside itself), targets,
 * table and inside-table, machine (facts), pinning, profile; paired (--paired);
 * soak (--soak).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { ensureCollectorBuilt } from '../harness/collector.mts';
import { ROOT } from '../harness/service.mts';
import { collectorVersion, machine, packageVersions } from './lib/machine.mts';
import { measure, type VariantResult } from './lib/measure.mts';
import { pin, planPinning } from './lib/pinning.mts';
import { compareProfiles, formatProfile, summarizeProfile, type ProfileSummary } from './lib/profile.mts';
import { option, PATHS, RESULTS, resultStamp, settings } from './lib/settings.mts';
import { insideTable } from './lib/inside-table.mts';
import { runPaired } from './lib/paired.mts';
import { runSoak } from './lib/soak.mts';
import { table } from './lib/table.mts';
import { targets } from './lib/targets.mts';
import { VARIANTS, experimentVariants } from './lib/variants.mts';
import { deploymentLimits, podCgroupsMissing, removeStaleCgroups } from './lib/pod-cgroup.mts';

async function main(): Promise<void> {
  if (!existsSync(join(ROOT, 'dist/server.js'))) throw new Error('dist/ is missing: run `npm run build` first (npm run bench does)');
  const collectorBinary = ensureCollectorBuilt();
  const pinning = planPinning(Boolean(option('no-pin')));
  pin(process.pid, pinning.loadGenerator);
  const experiments = typeof option('experiments') === 'string' ? experimentVariants(resolve(String(option('experiments')))) : [];
  if (settings.soak) return runSoak(settings.soak, pinning, experiments);

  const only = typeof option('only') === 'string' ? String(option('only')).split(',') : undefined;
  const variants = [...VARIANTS.filter((v) => !only || only.includes(v.key)), ...experiments.filter((v) => !only || only.includes(v.key) || only.includes('experiments'))];
  if (settings.paired) return runPaired(variants, pinning, settings.paired);

  const date = new Date();
  const stamp = resultStamp(date);
  mkdirSync(RESULTS, { recursive: true });
  const logDir = mkdtempSync(join(tmpdir(), 'users-api-bench-'));
  const facts = machine();
  process.stderr.write(
    `[bench] ${stamp}, ${String(facts.cpuModel)} × ${String(facts.cores)}, node ${process.version}; ${pinning.description}\n` +
      `[bench] warm-up ${settings.warmupS} s, saturation ${settings.saturationS} s (collector down: ${settings.downS} s) with ${settings.connections} connections per endpoint, ` +
      `fixed ${settings.fixedRates.join(', ')} req/s for ${settings.fixedS} s each; endpoints ${PATHS.join(' and ')} alternating; logs in ${logDir}\n`,
  );

  const podMissing = podCgroupsMissing();
  if (!podMissing) removeStaleCgroups();
  const runnable = variants.filter((v) => !v.pod || !podMissing);
  if (podMissing && runnable.length < variants.length) process.stderr.write(`[bench] the pod-shaped run is left out: ${podMissing}\n`);
  const results: VariantResult[] = [];
  for (const variant of runnable) {
    const calibration = results.find((r) => r.key === 'traced' || r.key === 'traced-collector')?.spansPerRequest;
    results.push(await measure(variant, pinning, logDir, { fixed: true, calibration }));
  }

  const profiles: ProfileSummary[] = [];
  for (const key of settings.cpuProfiled) {
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
  const limits = deploymentLimits(settings.podCpuMillis);
  const tables = {
    headline: results.filter((r) => r.table === 'headline'),
    collector: [results.find((r) => r.key === 'untraced'), ...results.filter((r) => r.table === 'collector')].filter((r) => r !== undefined),
    pod: results.filter((r) => r.table === 'pod'),
  };
  const rendered = {
    headline: tables.headline.length ? table(tables.headline, results.find((r) => r.key === 'untraced')) : '',
    headlineInside: tables.headline.length ? insideTable(tables.headline) : '',
    collector: tables.collector.length > 1 ? table(tables.collector, results.find((r) => r.key === 'untraced')) : '',
    collectorInside: tables.collector.length > 1 ? insideTable(tables.collector.filter((r) => r.table === 'collector')) : '',
    pod: tables.pod.length ? table(tables.pod, results.find((r) => r.key === 'untraced-pod')) : '',
    podInside: tables.pod.length ? insideTable(tables.pod) : '',
  };
  const insideTitle = (text: string) =>
    text
      ? [
          settings.diagnostics
            ? 'Per phase: latency from when each request was due; inside the service (bench/service-diagnostics.cjs) event-loop delay beyond its 1 ms timer, ' +
              'GC pause per second, and the longest synchronous export() of spans and of log records (serializing a batch and handing it to gRPC).'
            : 'Per phase (--no-diagnostics: nothing measured inside the service).',
          '',
          text,
          '',
        ]
      : [];
  const output = [
    '',
    `Benchmark ${date.toISOString()} — ${String(facts.cpuModel)}, ${String(facts.cores)} cores, ${String(facts.memoryGiB)} GiB, node ${process.version}`,
    `Pinning: ${pinning.description}.`,
    `Load on loopback: saturation ${settings.saturationS} s (collector down: ${settings.downS} s), ${settings.connections} keep-alive connections per endpoint ` +
      `(${PATHS.join(', ')}) at once, each run bounded by a request count taken from a ${settings.warmupS} s warm-up; ` +
      `then ${settings.fixedRates.join(', ')} req/s open-loop for ${settings.fixedS} s each, the endpoints alternating.`,
    '',
    ...(rendered.headline
      ? ['Headline: spans to a counting sink (its own process, on the load generator\'s core; it keeps the bytes and counts spans after each phase).', '', rendered.headline, '', ...insideTitle(rendered.headlineInside)]
      : []),
    ...(rendered.collector
      ? ['Real collector (debug exporter, tail sampling at 100%) on the load generator\'s core; spans counted by otelcol_receiver_accepted_spans.', '', rendered.collector, '', ...insideTitle(rendered.collectorInside)]
      : []),
    ...(rendered.pod
      ? [
          `Pod-shaped: the service alone in a cgroup with the Deployment's limits (${limits.source}: CFS quota ${limits.cpuMillis}m, memory.limit_in_bytes), spans to the counting sink.`,
          '',
          rendered.pod,
          '',
          ...insideTitle(rendered.podInside),
        ]
      : []),
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
        tables: rendered,
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
