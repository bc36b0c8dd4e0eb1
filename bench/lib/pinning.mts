import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';

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

function spawnOk(command: string, args: string[]): boolean {
  try {
    execFileSync(command, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
