/**
 * The soak's schedule, in samples: a warm-up, a steady part, the receiver
 * away, then back. Over an hour: 10 minutes of warm-up, 30 steady, 10 with the
 * collector away, 10 after; a shorter soak keeps the proportions. Then a
 * minute without requests.
 */
export type SoakPhase = 'warm-up' | 'steady' | 'outage' | 'recovery';

export interface SoakPlan {
  seconds: number;
  rate: number;
  sampleS: number;
  samples: number;
  /** The first sample of each phase after the warm-up. */
  steadyFrom: number;
  outageFrom: number;
  recoveryFrom: number;
  heapSnapshots: boolean;
  /**
   * Seconds without requests after the last sample, before memory is read once
   * more: whether what RSS kept after the outage comes back once the load stops.
   */
  quietS: number;
}

const QUIET_S = 60;

export function soakPlan(soak: { seconds: number; rate: number; sampleS: number; heapSnapshots: boolean }): SoakPlan {
  const samples = Math.round(soak.seconds / soak.sampleS);
  if (samples < 6) throw new Error(`--soak=${soak.seconds}s with samples of ${soak.sampleS} s gives ${samples} samples: it needs at least 6 (a longer soak or shorter samples)`);
  const sixth = Math.max(1, Math.round(samples / 6));
  return { ...soak, samples, steadyFrom: sixth, outageFrom: samples - 2 * sixth, recoveryFrom: samples - sixth, quietS: QUIET_S };
}

export function phaseOf(plan: SoakPlan, sample: number): SoakPhase {
  if (sample < plan.steadyFrom) return 'warm-up';
  if (sample < plan.outageFrom) return 'steady';
  if (sample < plan.recoveryFrom) return 'outage';
  return 'recovery';
}
