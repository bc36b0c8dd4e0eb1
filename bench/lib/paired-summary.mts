import { percentile } from '../../harness/stats.mts';

/**
 * `--paired`: what the rounds say. Each round runs every variant for one short
 * slice at the same rate, one after the other, so a traced slice is compared
 * with the untraced slice of its own round, seconds apart, not with one run
 * minutes away (between runs an hour apart this machine's untraced p99 at
 * 1,000/s moved 2.7–11.7 ms: docs/performance.md, "What was tried").
 */

/** Milliseconds per second the event loop stalled for longer than the preload's threshold, in all and by what each stall overlapped. */
export interface StallsPerSecond {
  total: number;
  gc: number;
  spanExport: number;
  logExport: number;
  other: number;
}

/** One variant's slice of one round. */
export interface Slice {
  round: number;
  key: string;
  /** Latency of every answered request, by path (ms, from when it was due). */
  latencies: Record<string, number[]>;
  /** From inside the service over the slice, when the diagnostics preload ran. */
  loopDelayMs?: { p99: number; max: number };
  /** The share of the slice the event loop was busy (`performance.eventLoopUtilization`). */
  eventLoopUtilization?: number;
  stallMsPerS?: StallsPerSecond;
  /** Pod-shaped only: the share of the slice's CFS periods in which the cgroup was throttled. */
  throttledShare?: number;
  sustained: boolean;
}

export interface Spread {
  median: number;
  min: number;
  max: number;
}

export interface PairedVariantSummary {
  key: string;
  base: string;
  slices: number;
  allSustained: boolean;
  /** Over every answer of every slice, by path. */
  pooled: Record<string, { p99Ms: number; p999Ms: number; count: number }>;
  /** Each slice's p99, by path. */
  sliceP99Ms: Record<string, Spread>;
  /** Each round's p99 over its base's in the same round, by path (absent for the base itself). */
  ratio?: Record<string, Spread>;
  loopDelayP99Ms?: Spread;
  /** Each round's loop-delay p99 minus its base's in the same round. */
  loopDelayP99OverBaseMs?: Spread;
  loopDelayMaxMs?: Spread;
  /** Pod-shaped only: the median slice's share of CFS periods throttled. */
  throttledShare?: number;
  /** The median slice's event-loop utilization. */
  eventLoopUtilization?: number;
  /** The median slice's stall time per second, in total and by cause (each the median over slices). */
  stallMsPerS?: StallsPerSecond;
}

/** The order of round `round`: the variants rotated, so each is in each position equally often over the rounds (a pause between slices keeps one from carrying into the next). */
export function roundOrder<T>(variants: T[], round: number): T[] {
  const shift = round % variants.length;
  return [...variants.slice(shift), ...variants.slice(0, shift)];
}

export function spread(values: number[]): Spread {
  return { median: percentile(values, 50), min: Math.min(...values), max: Math.max(...values) };
}

/** Per variant, against `baseOf(key)` (an untraced variant; itself for the base). */
export function summarizePaired(slices: Slice[], keys: string[], paths: string[], baseOf: (key: string) => string): PairedVariantSummary[] {
  const sliceOf = (key: string, round: number) => slices.find((s) => s.key === key && s.round === round);
  return keys.map((key) => {
    const own = slices.filter((s) => s.key === key);
    const base = baseOf(key);
    const byPath = <V,>(value: (path: string) => V) => Object.fromEntries(paths.map((path) => [path, value(path)]));
    const sliceP99 = (slice: Slice, path: string) => percentile(slice.latencies[path] ?? [], 99);
    const paired = own.map((slice) => ({ slice, base: sliceOf(base, slice.round) })).filter((pair): pair is { slice: Slice; base: Slice } => pair.base !== undefined);
    const delays = present(own.map((s) => s.loopDelayMs));
    const delayPairs = paired.filter((pair) => pair.slice.loopDelayMs && pair.base.loopDelayMs);
    return {
      key,
      base,
      slices: own.length,
      allSustained: own.every((s) => s.sustained),
      pooled: byPath((path) => {
        const all = own.flatMap((s) => s.latencies[path] ?? []);
        return { p99Ms: percentile(all, 99), p999Ms: percentile(all, 99.9), count: all.length };
      }),
      sliceP99Ms: byPath((path) => spread(own.map((s) => sliceP99(s, path)))),
      ratio: key === base || paired.length === 0 ? undefined : byPath((path) => spread(paired.map(({ slice, base: b }) => sliceP99(slice, path) / sliceP99(b, path)))),
      loopDelayP99Ms: delays.length ? spread(delays.map((d) => d.p99)) : undefined,
      loopDelayP99OverBaseMs:
        key === base || delayPairs.length === 0 ? undefined : spread(delayPairs.map(({ slice, base: b }) => slice.loopDelayMs!.p99 - b.loopDelayMs!.p99)),
      loopDelayMaxMs: delays.length ? spread(delays.map((d) => d.max)) : undefined,
      throttledShare: median(present(own.map((s) => s.throttledShare))),
      eventLoopUtilization: median(present(own.map((s) => s.eventLoopUtilization))),
      stallMsPerS: medianStalls(present(own.map((s) => s.stallMsPerS))),
    };
  });
}

/** The values that were measured (a figure is absent from a slice without the diagnostics preload, or not pod-shaped). */
function present<T>(values: (T | undefined)[]): T[] {
  return values.filter((value): value is T => value !== undefined);
}

function median(values: number[]): number | undefined {
  return values.length ? percentile(values, 50) : undefined;
}

function medianStalls(list: StallsPerSecond[]): StallsPerSecond | undefined {
  if (list.length === 0) return undefined;
  const of = (cause: keyof StallsPerSecond) => percentile(list.map((s) => s[cause]), 50);
  return { total: of('total'), gc: of('gc'), spanExport: of('spanExport'), logExport: of('logExport'), other: of('other') };
}
