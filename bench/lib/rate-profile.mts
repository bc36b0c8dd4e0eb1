import { basename, join } from 'node:path';
import { readStageTimes, REST, type StageTimes } from './cpu-stages.mts';
import { RATE_WARM_UP_S, runFixedRate } from './fixed-rate.mts';
import { launch } from './launch.mts';
import { markdownTable } from './markdown.mts';
import type { Pinning } from './pinning.mts';
import { exportEndpoint, startReceiver } from './receivers.mts';
import { threadTimes, threadTimesPerRequest } from './thread-cpu.mts';
import { RESULTS } from './settings.mts';
import type { Variant } from './variants.mts';

export interface RateProfile {
  key: string;
  /** The .cpuprofile, under bench/results (git ignores it). */
  file: string;
  rate: number;
  stages: StageTimes;
  /** µs per request in the window, by thread name (thread-cpu.mts): on a CPU, and waiting for one. */
  threads: { ran: Record<string, number>; waited: Record<string, number> };
}

const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);

/**
 * `--paired --cpu-prof=untraced,traced`: each variant once more, alone and
 * profiled (`node --cpu-prof`), at the rounds' rate; only the samples taken
 * while `seconds` of that load ran are counted (the profiler's clock is the
 * monotonic one process.hrtime reads), per request answered in them, by
 * stage (cpu-stages.mts). The profiler slows the service, so these runs are
 * apart from the rounds and none of their latencies is reported.
 */
export async function profileAtRate(variants: Variant[], pinning: Pinning, logDir: string, stamp: string, options: { rate: number; seconds: number }): Promise<RateProfile[]> {
  const profiles: RateProfile[] = [];
  for (const variant of variants) {
    const file = join(RESULTS, `${stamp}-${variant.key}-at-${options.rate}.cpuprofile`);
    const receiver = await startReceiver(variant, pinning);
    const endpoint = await exportEndpoint(receiver);
    const launched = await launch(variant, endpoint, pinning, {
      name: `${variant.key}-profiled`,
      logDir,
      diagnostics: false,
      nodeFlags: ['--cpu-prof', '--cpu-prof-dir', RESULTS, '--cpu-prof-name', basename(file)],
    }).catch(async (error: unknown) => {
      await receiver?.stop();
      throw error;
    });
    let window: { fromUs: number; toUs: number };
    let requests: number;
    let threads: RateProfile['threads'];
    try {
      await runFixedRate(launched.service.url, options.rate, RATE_WARM_UP_S);
      const pid = launched.service.process.pid!;
      const threadsBefore = threadTimes(pid);
      const fromUs = monotonicUs();
      const run = await runFixedRate(launched.service.url, options.rate, options.seconds);
      window = { fromUs, toUs: monotonicUs() };
      requests = run.load.responses;
      threads = threadTimesPerRequest(threadsBefore, threadTimes(pid), requests);
    } finally {
      await launched.service.stop(); // the profile is written as the process exits
      await receiver?.stop();
      launched.cgroup?.remove();
    }
    profiles.push({ key: variant.key, file, rate: options.rate, stages: readStageTimes(file, requests, window), threads });
  }
  return profiles;
}

/** CPU µs per request by stage, each variant beside the first, the stages tracing adds most to first. */
export function stagesTable(profiles: RateProfile[]): string {
  const [base, ...others] = profiles;
  if (!base) return '';
  const us = (profile: RateProfile, stage: string) => profile.stages.usPerRequest[stage] ?? 0;
  const last = others[others.length - 1] ?? base;
  const stages = [...new Set(profiles.flatMap((p) => Object.keys(p.stages.usPerRequest)))]
    .filter((stage) => profiles.some((p) => us(p, stage) >= 0.5))
    .sort((a, b) => (a === REST ? 1 : b === REST ? -1 : us(last, b) - us(base, b) - (us(last, a) - us(base, a))));
  const header = ['stage: CPU µs per request', ...profiles.map((p) => p.key), ...others.map((p) => `${p.key} − ${base.key}`)];
  const figure = (value: number) => value.toFixed(1);
  const rows = [
    ...stages.map((stage) => [stage, ...profiles.map((p) => figure(us(p, stage))), ...others.map((p) => figure(us(p, stage) - us(base, stage)))]),
    ['all (busy CPU ÷ requests answered)', ...profiles.map((p) => figure(p.stages.busyUsPerRequest)), ...others.map((p) => figure(p.stages.busyUsPerRequest - base.stages.busyUsPerRequest))],
  ];
  return markdownTable(header, rows);
}

/** µs per request by thread, on a CPU and waiting for one, each variant beside the first. */
export function threadsTable(profiles: RateProfile[]): string {
  const names = [...new Set(profiles.flatMap((p) => Object.keys(p.threads.ran)))].filter((name) => profiles.some((p) => (p.threads.ran[name] ?? 0) >= 0.5));
  const row = (label: string, value: (p: RateProfile) => number) => [label, ...profiles.map((p) => value(p).toFixed(1))];
  const rows = [
    ...names.map((name) => row(`${name}, on a CPU`, (p) => p.threads.ran[name] ?? 0)),
    row('all threads, on a CPU', (p) => Object.values(p.threads.ran).reduce((a, b) => a + b, 0)),
    row('MainThread, runnable but waiting for a CPU', (p) => p.threads.waited.MainThread ?? 0),
  ];
  return markdownTable(['thread: µs per request (schedstat)', ...profiles.map((p) => p.key)], rows);
}
