import { openLoop, summarize, type Answer, type LoadSummary } from '../../harness/load.mts';
import { PATHS } from './settings.mts';

/**
 * A rate is sustained when the run answered every request it sent, without
 * hitting its deadline, at no less than this share of the rate. The run's
 * rate counts until the last answer, so a sustained run falls short only by
 * its last request's latency (50 ms for /users/123: 1% of a 5 s run), while an
 * overloaded one answers at the service's own ceiling and its latency grows
 * with the backlog: a percentile of that measures the run's length, not the service.
 */
export const SUSTAINED_SHARE = 0.97;

/** Seconds of load at the rate before anything at that rate is measured: the JIT's warm-up, at the load measured. */
export const RATE_WARM_UP_S = 5;

export interface RateRun {
  load: LoadSummary;
  /** Every answer, for figures over several runs (`--paired` pools its slices). */
  answers: Answer[];
  rate: number;
  achievedRps: number;
  sustained: boolean;
  /** Why it was not sustained. */
  note?: string;
}

/** The endpoints alternating at `rate` requests/s, open loop (latency from when each request was due). */
export async function runFixedRate(baseUrl: string, rate: number, seconds: number): Promise<RateRun> {
  // Enough connections for 100 ms of requests: /users/123 alone holds each for 50 ms.
  const maxSockets = Math.max(128, Math.ceil(rate / 10));
  const run = await openLoop({ baseUrl, paths: PATHS, rate, durationS: seconds, maxSockets });
  const load = summarize(run);
  const failed = load.errors + load.non2xx;
  const sustained = !load.cutOff && failed === 0 && load.rps >= SUSTAINED_SHARE * rate;
  const why = [
    `${load.rps.toFixed(0)} of ${rate} req/s answered`,
    ...(load.cutOff ? [`cut off at its deadline with ${Math.round(rate * seconds) - load.responses - load.errors} unanswered`] : []),
    ...(failed ? [`${failed} failed (${[...new Set(run.failureMessages)].join('; ') || 'not 2xx'})`] : []),
  ].join(', ');
  return { load, answers: run.answers, rate, achievedRps: load.rps, sustained, note: sustained ? undefined : `not sustained: ${why}` };
}
