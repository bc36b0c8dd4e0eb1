/**
 * The soak's schedule, in samples: a warm-up, a steady part, the receiver
 * away, then back. Over an hour: 10 minutes of warm-up, 30 steady, 10 with the
 * collector away, 10 after; a shorter soak keeps the proportions. Each further
 * outage (`--soak-outages`) adds another 10 away and 10 back. Then two and a
 * half minutes without requests.
 */
export type SoakPhase = 'warm-up' | 'steady' | 'outage' | 'recovery';

export interface SoakPlan {
  seconds: number;
  rate: number;
  sampleS: number;
  samples: number;
  /** The first sample of each phase after the warm-up; with several outages, of the first. */
  steadyFrom: number;
  outageFrom: number;
  recoveryFrom: number;
  /** How many times the receiver goes away, and for how many samples each time (and as many back). */
  outages: number;
  outageSamples: number;
  heapSnapshots: boolean;
  /**
   * Seconds without requests after the last sample, before memory is read once
   * more: whether what RSS kept after the outage comes back once the load stops.
   */
  quietS: number;
}

/*
 * Longer than V8's memory reducer waits (src/heap/memory-reducer.cc,
 * kWatchdogDelayMs = 100000): without requests there are no GCs, so V8's
 * estimate of the allocation rate stays at the load's ("high alloc" with
 * --trace-memory-reducer) and only that watchdog, 100 s after the last full GC,
 * starts the memory-reducing GC that gives the page pool back. A minute was too
 * short to see it.
 */
const QUIET_S = 150;

export function soakPlan(soak: { seconds: number; rate: number; sampleS: number; outages?: number; heapSnapshots: boolean }): SoakPlan {
  const base = Math.round(soak.seconds / soak.sampleS);
  if (base < 6) throw new Error(`--soak=${soak.seconds}s with samples of ${soak.sampleS} s gives ${base} samples: it needs at least 6 (a longer soak or shorter samples)`);
  const outages = soak.outages ?? 1;
  if (!Number.isInteger(outages) || outages < 1) throw new Error(`--soak-outages must be a whole number of at least 1, got ${outages}`);
  const sixth = Math.max(1, Math.round(base / 6));
  const outageFrom = base - 2 * sixth;
  return {
    ...soak,
    samples: base + (outages - 1) * 2 * sixth,
    steadyFrom: sixth,
    outageFrom,
    recoveryFrom: outageFrom + sixth,
    outages,
    outageSamples: sixth,
    quietS: QUIET_S,
  };
}

export function phaseOf(plan: SoakPlan, sample: number): SoakPhase {
  if (sample < plan.steadyFrom) return 'warm-up';
  if (sample < plan.outageFrom) return 'steady';
  // Outage and recovery, repeated.
  const intoCycle = (sample - plan.outageFrom) % (2 * plan.outageSamples);
  return intoCycle < plan.outageSamples ? 'outage' : 'recovery';
}
