import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { cpus, setPriority } from 'node:os';

/**
 * Where each process runs. On a machine with 2+ cores and `taskset`, the
 * service gets a core of its own and the load generator (this process) and
 * the collector share another, so the service's numbers are not eaten by
 * the load it is measured with.
 */
export interface Pinning {
  enabled: boolean;
  service: string | undefined;
  loadGenerator: string | undefined;
  collector: string | undefined;
  description: string;
}

export function planPinning(disabled = false): Pinning {
  const count = cpus().length;
  const hasTaskset = !disabled && spawnOk('taskset', ['--version']);
  if (count < 2 || !hasTaskset) {
    return {
      enabled: false,
      service: undefined,
      loadGenerator: undefined,
      collector: undefined,
      description: disabled ? 'not pinned (--no-pin)' : `not pinned (${count} core(s), taskset ${hasTaskset ? 'found' : 'missing'})`,
    };
  }
  const last = String(count - 1);
  return {
    enabled: true,
    service: '0',
    loadGenerator: last,
    collector: last,
    description: `taskset: service on CPU 0; load generator (this process) and collector on CPU ${last}${count > 2 ? ` (of ${count})` : ''}`,
  };
}

/** Pins every thread of a running process (Go and Node start several) to `cpuList`. */
export function pin(pid: number, cpuList: string | undefined): void {
  if (cpuList === undefined) return;
  execFileSync('taskset', ['-a', '-cp', cpuList, String(pid)], { stdio: 'ignore' });
}

/**
 * Puts every thread of a receiver (the counting sink, the collector) at nice 19,
 * below the load generator it shares a core with. Measured: at a steady 1,000
 * requests/s, /users/42's p99 as the load generator saw it was 3.7 ms with the
 * spans serialized and not sent, 5.4 ms with them sent to the sink at normal
 * priority, with the service's own event-loop delay the same (1.1 and 1.2 ms):
 * the load generator, whose clock the latency is, waited for the sink's CPU.
 * A collector in a cluster does not share a core with the service's clients.
 */
export function deprioritize(pid: number): void {
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      setPriority(Number(task), 19);
    } catch {
      // a thread that has just ended
    }
  }
}

function spawnOk(command: string, args: string[]): boolean {
  try {
    execFileSync(command, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
