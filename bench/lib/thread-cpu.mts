import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time of each thread of a process, summed by thread name (`node` is the
 * main thread; `V8Worker` V8's platform threads: concurrent marking,
 * sweeping, compiling; `libuv-worker` the pool that writes files). From
 * /proc/<pid>/task/<tid>/schedstat, whose first field is the nanoseconds the
 * thread has run (Documentation/scheduler/sched-stats.rst). A profile of the
 * main thread counts, as busy, time these threads took the service's one core
 * from it; this says how much they ran.
 */
export function threadCpuNs(pid: number): Map<string, number> {
  const byName = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      const ranNs = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      byName.set(name, (byName.get(name) ?? 0) + ranNs);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return byName;
}

/** What each thread name ran between two readings, in µs per `requests`. */
export function threadCpuPerRequest(before: Map<string, number>, after: Map<string, number>, requests: number): Record<string, number> {
  return Object.fromEntries(
    [...after].map(([name, ns]) => [name, Math.round(((ns - (before.get(name) ?? 0)) / 1000 / Math.max(1, requests)) * 10) / 10]),
  );
}
