import { readdirSync, readFileSync } from 'node:fs';

export interface ThreadTimes {
  /** Nanoseconds on a CPU. */
  ranNs: number;
  /** Nanoseconds runnable but waiting for a CPU (another thread had it). */
  waitedNs: number;
}

/**
 * Times of each thread of a process, summed by thread name (`MainThread`;
 * `V8Worker`, V8's platform threads: concurrent marking, sweeping,
 * compiling; `libuv-worker`, the pool that writes files). From
 * /proc/<pid>/task/<tid>/schedstat: the time on a CPU, then the time spent
 * waiting on a run queue, in nanoseconds (Documentation/scheduler/sched-stats.rst).
 * A profile of the main thread counts as busy both the CPU it used and the
 * time other threads of the service's one core kept it waiting; this tells
 * the two apart.
 */
export function threadTimes(pid: number): Map<string, ThreadTimes> {
  const byName = new Map<string, ThreadTimes>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      const [ran, waited] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ').map(Number);
      const sum = byName.get(name) ?? { ranNs: 0, waitedNs: 0 };
      byName.set(name, { ranNs: sum.ranNs + ran!, waitedNs: sum.waitedNs + waited! });
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return byName;
}

/** What each thread name ran, and waited, between two readings: µs per `requests`. */
export function threadTimesPerRequest(before: Map<string, ThreadTimes>, after: Map<string, ThreadTimes>, requests: number): { ran: Record<string, number>; waited: Record<string, number> } {
  const perRequest = (ns: number) => Math.round((ns / 1000 / Math.max(1, requests)) * 10) / 10;
  const delta = (pick: (t: ThreadTimes) => number) =>
    Object.fromEntries([...after].map(([name, times]) => [name, perRequest(pick(times) - (before.has(name) ? pick(before.get(name)!) : 0))]));
  return { ran: delta((t) => t.ranNs), waited: delta((t) => t.waitedNs) };
}
