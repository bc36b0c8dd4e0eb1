import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from '../../harness/service.mts';

/** The flags and BENCH_* variables, read once: how long and how hard each phase runs. */

export const RESULTS = join(ROOT, 'bench', 'results');
/** How a run's result files are named: its start, to the second, with no colons (2026-12-06T06-49-37Z). */
export function resultStamp(date: Date): string {
  return date.toISOString().replace(/:/g, '-').replace(/\.\d+Z$/, 'Z');
}

/** The endpoints every run drives, each with its own pool of connections. */
export const PATHS = ['/users/42', '/users/123'];

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    only: { type: 'string' },
    'cpu-prof': { type: 'boolean' },
    'cpu-prof-variants': { type: 'string' },
    'saturation-seconds': { type: 'string' },
    'fixed-seconds': { type: 'string' },
    'fixed-rate': { type: 'string' },
    'fixed-rates': { type: 'string' },
    'no-diagnostics': { type: 'boolean' },
    paired: { type: 'boolean' },
    rounds: { type: 'string' },
    'slice-seconds': { type: 'string' },
    'profile-seconds': { type: 'string' },
    soak: { type: 'string' },
    'soak-rate': { type: 'string' },
    'soak-sample-seconds': { type: 'string' },
    'soak-outages': { type: 'string' },
    'heap-snapshots': { type: 'boolean' },
    'down-seconds': { type: 'string' },
    'warmup-seconds': { type: 'string' },
    connections: { type: 'string' },
    experiments: { type: 'string' },
    'no-pin': { type: 'boolean' },
    'pod-cpu': { type: 'string' },
    'keep-logs': { type: 'boolean' },
  },
  allowPositionals: false,
  // `--cpu-prof=traced,peer` is accepted as a shorthand for --cpu-prof --cpu-prof-variants=...
  args: process.argv.slice(2).flatMap((arg) => {
    const match = /^--cpu-prof=(.+)$/.exec(arg);
    return match ? ['--cpu-prof', `--cpu-prof-variants=${match[1]}`] : [arg];
  }),
});

export function option(name: keyof typeof flags): string | boolean | undefined {
  const fromFlag = flags[name];
  if (fromFlag !== undefined) return fromFlag;
  const fromEnv = process.env[`BENCH_${name.toUpperCase().replace(/-/g, '_')}`];
  if (fromEnv === undefined || fromEnv === '') return undefined;
  return ['quick', 'paired', 'cpu-prof', 'no-pin', 'keep-logs', 'no-diagnostics', 'heap-snapshots'].includes(name) ? fromEnv !== '0' && fromEnv !== 'false' : fromEnv;
}

function numberOption(name: keyof typeof flags, quick: number, full: number): number {
  const raw = option(name);
  if (raw === undefined) return option('quick') ? quick : full;
  const parsed = Number(raw);
  if (!Number.isFinite(parsed) || parsed <= 0) throw new Error(`--${name} must be a positive number, got ${String(raw)}`);
  return parsed;
}

/** `--fixed-rates=200,1000,3000`, with the single `--fixed-rate` among them (the main table's column and the targets read that one). */
function fixedRates(single: number): number[] {
  const raw = option('fixed-rates');
  const rates = typeof raw === 'string' ? raw.split(',').map(Number) : [200, 1000, 3000];
  if (!rates.every((rate) => Number.isFinite(rate) && rate > 0)) throw new Error(`--fixed-rates must be positive numbers separated by commas, got ${String(raw)}`);
  return [...new Set([...rates, single])].sort((a, b) => a - b);
}

/** `--soak=60m`, `--soak=90s`, `--soak=1h`: seconds, or undefined when no soak was asked for. */
function soakSeconds(): number | undefined {
  const raw = option('soak');
  if (raw === undefined) return undefined;
  const match = /^(\d+(?:\.\d+)?)(s|m|h)?$/.exec(String(raw));
  if (!match) throw new Error(`--soak takes a duration such as 60m, 3m, 90s or 1h, got ${String(raw)}`);
  return Number(match[1]) * { s: 1, m: 60, h: 3600 }[match[2] ?? 'm']!;
}

const fixedRate = numberOption('fixed-rate', 1000, 1000);
/** `--cpu-prof[=a,b]`: the variants to profile (untraced and traced unless named). */
const cpuProfiled = option('cpu-prof') ? String(option('cpu-prof-variants') ?? 'untraced,traced').split(',') : [];
const soakS = soakSeconds();

export const settings = {
  quick: Boolean(option('quick')),
  warmupS: numberOption('warmup-seconds', 1, 3),
  saturationS: numberOption('saturation-seconds', 5, 20),
  fixedS: numberOption('fixed-seconds', 5, 30),
  fixedRate,
  /** The open-loop rates each variant is measured at (each for fixedS seconds). */
  fixedRates: fixedRates(fixedRate),
  /** The preload that measures from inside the service (bench/service-diagnostics.cjs); --no-diagnostics leaves it out. */
  diagnostics: !option('no-diagnostics'),
  downS: numberOption('down-seconds', 10, 60),
  /** Per endpoint: each path has its own pool of connections. */
  connections: numberOption('connections', 64, 64),
  calibrationRequests: 3,
  /** Seconds of the rate probe that sizes each counted saturation run. */
  probeS: option('quick') ? 1 : 2,
  /** `--paired` (bench/lib/paired.mts): rounds of one short slice per variant at --fixed-rate, the order rotating. */
  paired: option('paired')
    ? {
        rounds: Math.round(numberOption('rounds', 2, 12)),
        sliceS: numberOption('slice-seconds', 2, 5),
        rate: fixedRate,
        // With --cpu-prof: these variants profiled at the rate after the rounds (bench/lib/rate-profile.mts).
        profiled: cpuProfiled,
        profileS: numberOption('profile-seconds', 5, 30),
      }
    : undefined,
  /** `--cpu-prof`: the variants profiled, each in a run of its own (a saturation run; with --paired, at the rate). */
  cpuProfiled,
  /** `--pod-cpu=1000`: the pod-shaped variants' CPU quota in millicores instead of the Deployment's. */
  podCpuMillis: option('pod-cpu') === undefined ? undefined : Math.round(numberOption('pod-cpu', 0, 0)),
  /** The soak (bench/lib/soak.mts), when --soak is given: its length, rate, and how often it samples. */
  soak: soakS === undefined ? undefined : {
    seconds: soakS,
    rate: numberOption('soak-rate', 800, 800),
    // A sample a minute over an hour; shorter soaks keep about 60 samples, at least 5 s apart.
    sampleS: numberOption('soak-sample-seconds', Math.max(5, soakS / 60), Math.max(5, soakS / 60)),
    // Each outage after the first adds its length and its recovery's to the soak.
    outages: Math.round(numberOption('soak-outages', 1, 1)),
    heapSnapshots: Boolean(option('heap-snapshots')),
  },
};
