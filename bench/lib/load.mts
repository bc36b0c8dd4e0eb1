import { Agent, request } from 'node:http';
import autocannon from 'autocannon';

export interface PathLatency {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface LoadResult {
  /** Responses received (any status). */
  responses: number;
  /** Responses per path, for the spans each path should make. */
  perPath: Record<string, number>;
  /** Latency per path: the paths differ by design (/users/123 sleeps 50 ms), so a percentile over the mix says little. */
  latencyByPath: Record<string, PathLatency>;
  non2xx: number;
  errors: number;
  elapsedS: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** True when the hard deadline stopped the run before its request count: span accounting is then approximate. */
  cutOff: boolean;
}

/** Exact percentiles of the latencies recorded (nearest rank). */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

function latency(values: number[]): PathLatency {
  const sorted = Float64Array.from(values).sort();
  return { p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99), maxMs: sorted.length ? sorted[sorted.length - 1]! : NaN };
}

function summarize(
  byPath: Record<string, number[]>,
  elapsedS: number,
  rest: Omit<LoadResult, 'rps' | 'p50Ms' | 'p99Ms' | 'maxMs' | 'elapsedS' | 'latencyByPath' | 'responses'>,
): LoadResult {
  const all = Object.values(byPath).flat();
  return {
    ...rest,
    responses: all.length,
    elapsedS,
    rps: all.length / elapsedS,
    ...latency(all),
    latencyByPath: Object.fromEntries(Object.entries(byPath).map(([path, values]) => [path, latency(values)])),
  };
}

export interface SaturationGroup {
  path: string;
  connections: number;
  /** Requests to send (the run is then bounded by count, with the deadline as a hard stop); without it, by duration. */
  amount?: number;
}

/**
 * Closed-loop saturation with autocannon: for each path its own pool of
 * keep-alive connections, each sending its next request as soon as the last
 * answer arrives, all pools at once. (One pool cycling through both paths
 * would be paced by /users/123's 50 ms sleep instead of by the CPU.)
 *
 * Bounded twice: by `durationS` (warm-up), or by a request count per pool
 * with `deadlineS` as a hard stop. The count is what makes span accounting
 * exact: a run stopped by time cuts requests off mid-flight, and whether
 * those make spans is a race.
 */
export async function saturate(options: { baseUrl: string; groups: SaturationGroup[]; durationS?: number; deadlineS: number }): Promise<LoadResult> {
  const perPath: Record<string, number> = {};
  const latencies: Record<string, number[]> = {};
  let non2xx = 0;
  let errors = 0;
  let cutOff = false;
  const started = performance.now();
  let finished = started;
  const instances = options.groups.map((group) => {
    perPath[group.path] = 0;
    const values: number[] = (latencies[group.path] = []);
    const instance = autocannon({
      url: `${options.baseUrl}${group.path}`,
      connections: group.connections,
      pipelining: 1,
      timeout: 10,
      ...(group.amount !== undefined ? { amount: Math.max(group.amount, group.connections) } : { duration: options.durationS ?? 5 }),
    });
    instance.on('response', (_client: unknown, _status: number, _bytes: number, responseTimeMs: number) => {
      values.push(responseTimeMs);
    });
    return { group, instance };
  });
  const deadline = setTimeout(() => {
    cutOff = true;
    for (const { instance } of instances) instance.stop();
  }, options.deadlineS * 1000);
  await Promise.all(
    instances.map(async ({ group, instance }) => {
      const result = await instance;
      finished = Math.max(finished, performance.now());
      perPath[group.path] = latencies[group.path]!.length;
      non2xx += result.non2xx ?? 0;
      errors += result.errors ?? 0;
    }),
  );
  clearTimeout(deadline);
  return summarize(latencies, (finished - started) / 1000, {
    perPath,
    non2xx,
    errors,
    cutOff: cutOff && options.groups.some((g) => g.amount !== undefined),
  });
}

/**
 * Open-loop load at a fixed rate: request i is due at start + i/rate,
 * whether or not earlier ones have been answered, and its latency is counted
 * from when it was due (so a stalled server shows up as latency, not as a
 * politely slower client). autocannon's own rate limit sends each
 * connection's quota back to back at the start of every second, which
 * measures bursts, not a steady rate.
 *
 * Bounded by count (rate × duration) and by a hard deadline.
 */
export async function fixedRate(options: {
  baseUrl: string;
  paths: string[];
  rate: number;
  durationS: number;
  maxSockets?: number;
  deadlineS?: number;
}): Promise<LoadResult> {
  const total = Math.round(options.rate * options.durationS);
  const agent = new Agent({ keepAlive: true, maxSockets: options.maxSockets ?? 128 });
  const url = new URL(options.baseUrl);
  const perPath: Record<string, number> = Object.fromEntries(options.paths.map((p) => [p, 0]));
  const latencies: Record<string, number[]> = Object.fromEntries(options.paths.map((p) => [p, []]));
  let sent = 0;
  let settled = 0;
  let non2xx = 0;
  let errors = 0;
  let cutOff = false;
  const started = performance.now();
  let lastAnswer = started;

  await new Promise<void>((resolve) => {
    const finishIfDone = () => {
      if (settled === total) {
        clearInterval(pacer);
        clearTimeout(deadline);
        resolve();
      }
    };
    const send = (i: number) => {
      const path = options.paths[i % options.paths.length]!;
      const due = started + (i * 1000) / options.rate;
      const req = request({ host: url.hostname, port: url.port, path, agent, method: 'GET' }, (res) => {
        res.resume();
        res.on('end', () => {
          lastAnswer = performance.now();
          latencies[path]!.push(lastAnswer - due);
          perPath[path] = (perPath[path] ?? 0) + 1;
          if ((res.statusCode ?? 0) < 200 || (res.statusCode ?? 0) > 299) non2xx += 1;
          settled += 1;
          finishIfDone();
        });
      });
      req.on('error', () => {
        errors += 1;
        settled += 1;
        finishIfDone();
      });
      req.end();
    };
    const pacer = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - started) * options.rate) / 1000) + 1);
      while (sent < due) send(sent++);
      if (sent === total) clearInterval(pacer);
    }, 1);
    const deadline = setTimeout(
      () => {
        cutOff = true;
        clearInterval(pacer);
        agent.destroy();
        resolve();
      },
      (options.deadlineS ?? options.durationS * 2 + 10) * 1000,
    );
  });
  agent.destroy();
  const elapsedS = (lastAnswer - started) / 1000;
  return summarize(latencies, elapsedS, { perPath, non2xx, errors, cutOff });
}
