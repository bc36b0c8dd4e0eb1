import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isProcessAlive } from '../../harness/process.mts';
import { bytesOf, millicoresOf } from '../../harness/k8s.mts';
import { ROOT } from '../../harness/service.mts';

/**
 * The pod-shaped run: the service in a cgroup (v1 `cpu` and `memory`) with
 * the limits of its Deployment, read from k8s/base/app/users.yaml, so that
 * what is measured is what a pod gets: its CPU limit as a CFS quota (one
 * core; 500m before 2026-12-06, bench --pod-cpu=500 for that) and 256Mi of
 * memory, with the kernel's own peak and OOM counters, and the Deployment's
 * environment (NODE_OPTIONS, the V8 heap settings that go with
 * that memory, and the export queues sized for it).
 */
export interface PodLimits {
  cpuMillis: number;
  memoryBytes: number;
  /** The container's variables with a literal value (those from the downward API or a secret, or with a $(…), are the cluster's). */
  env: Record<string, string>;
  /** What of that env tunes the runtime and the export ("NODE_OPTIONS …, OTEL_BSP_… …"), for the reports. */
  tuning: string;
  source: string;
}

export interface PodMemory {
  peakMiB: number;
  /** Times the memory limit was hit (memory.failcnt). */
  limitHits: number;
  /** Processes the OOM killer ended in the cgroup (memory.oom_control oom_kill). */
  oomKills: number;
}

const CPU_ROOT = '/sys/fs/cgroup/cpu';
const MEMORY_ROOT = '/sys/fs/cgroup/memory';
const DEPLOYMENT = 'k8s/base/app/users.yaml';

/** The Deployment's limits; `cpuMillisInstead` (the bench's --pod-cpu) replaces its CPU quota, to see what the quota costs. */
export function deploymentLimits(cpuMillisInstead?: number): PodLimits {
  const text = readFileSync(join(ROOT, DEPLOYMENT), 'utf8');
  const match = /limits:\s*\{\s*cpu:\s*["']?([\d.]+m?)["']?\s*,\s*memory:\s*["']?(\d+(?:Mi|Gi))["']?\s*\}/.exec(text);
  if (!match) throw new Error(`${DEPLOYMENT}: no "limits: { cpu: …, memory: … }" found`);
  const [, cpuQuantity, memoryQuantity] = match as unknown as [string, string, string];
  const cpuMillis = cpuMillisInstead ?? millicoresOf(cpuQuantity);
  const memoryBytes = bytesOf(memoryQuantity);
  const env = literalEnv(text);
  const tuning = Object.entries(tuningOf(env))
    .map(([name, value]) => `${name} ${value}`)
    .join(', ');
  const cpu = cpuMillisInstead === undefined ? cpuQuantity : `${cpuMillis}m (--pod-cpu; the Deployment says ${cpuQuantity})`;
  const source = `${DEPLOYMENT}: cpu ${cpu}, memory ${memoryQuantity}${tuning ? `, ${tuning}` : ''}`;
  return { cpuMillis, memoryBytes, env, tuning, source };
}

/** Of an environment, the variables that tune the runtime (NODE_OPTIONS) and the export queues (OTEL_BSP_*, OTEL_BLRP_*). */
export function tuningOf<V>(env: Record<string, V>): Record<string, V> {
  return Object.fromEntries(Object.entries(env).filter(([name]) => name === 'NODE_OPTIONS' || /^OTEL_(BSP|BLRP)_/.test(name)));
}

/** `- name: X` then `value: …` on the next line, as users.yaml writes its env; values with a $(…) left out. */
function literalEnv(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [, name, value] of text.matchAll(/^\s*- name: (\w+)\s*\n\s*value:\s*["']?([^"'#\n]*?)["']?\s*(?:#.*)?$/gm)) {
    if (!value!.includes('$(')) env[name!] = value!;
  }
  return env;
}

/** Why the pod-shaped run cannot happen here, or undefined when it can. */
export function podCgroupsMissing(): string | undefined {
  for (const root of [CPU_ROOT, MEMORY_ROOT]) {
    if (!existsSync(join(root, 'cgroup.procs'))) return `no cgroup v1 hierarchy at ${root}`;
  }
  if (process.getuid?.() !== 0) return 'creating cgroups needs root';
  return undefined;
}

export class PodCgroup {
  readonly name: string;
  readonly limits: PodLimits;

  constructor(name: string, limits: PodLimits) {
    this.name = name;
    this.limits = limits;
    for (const root of [CPU_ROOT, MEMORY_ROOT]) mkdirSync(join(root, name), { recursive: true });
    const period = Number(readFileSync(join(CPU_ROOT, name, 'cpu.cfs_period_us'), 'utf8'));
    writeFileSync(join(CPU_ROOT, name, 'cpu.cfs_quota_us'), String(Math.round((period * limits.cpuMillis) / 1000)));
    writeFileSync(join(MEMORY_ROOT, name, 'memory.limit_in_bytes'), String(limits.memoryBytes));
  }

  /** A command prefix that moves itself into the cgroup, then execs the rest (so the whole process is charged from its first page). */
  launcher(): string[] {
    const procs = [CPU_ROOT, MEMORY_ROOT].map((root) => join(root, this.name, 'cgroup.procs'));
    return ['sh', '-c', `echo $$ > ${procs[0]} && echo $$ > ${procs[1]} && exec "$@"`, 'pod'];
  }

  memory(): PodMemory {
    const read = (file: string) => this.read(MEMORY_ROOT, file);
    return {
      peakMiB: Number(read('memory.max_usage_in_bytes')) / 2 ** 20,
      limitHits: Number(read('memory.failcnt')),
      oomKills: statValue(read('memory.oom_control'), 'oom_kill') ?? 0,
    };
  }

  /** What the cgroup is charged for now: in all, and of it anonymous memory (rss) and page cache (memory.stat). */
  usage(): { usageMiB: number; rssMiB: number; cacheMiB: number } {
    const stat = this.read(MEMORY_ROOT, 'memory.stat');
    const mib = (key: string) => (statValue(stat, key) ?? NaN) / 2 ** 20;
    return { usageMiB: Number(this.read(MEMORY_ROOT, 'memory.usage_in_bytes')) / 2 ** 20, rssMiB: mib('total_rss'), cacheMiB: mib('total_cache') };
  }

  /** CPU time the cgroup was throttled for (cpu.stat), in seconds, and in how many periods. */
  throttled(): { periods: number; throttledPeriods: number; throttledS: number } {
    const stat = this.read(CPU_ROOT, 'cpu.stat');
    const value = (key: string) => statValue(stat, key) ?? 0;
    return { periods: value('nr_periods'), throttledPeriods: value('nr_throttled'), throttledS: value('throttled_time') / 1e9 };
  }

  private read(root: string, file: string): string {
    return readFileSync(join(root, this.name, file), 'utf8');
  }

  /** Removes the cgroups; the service must have exited. */
  remove(): void {
    for (const root of [CPU_ROOT, MEMORY_ROOT]) {
      const dir = join(root, this.name);
      if (existsSync(dir)) rmdirSync(dir);
    }
  }
}

/** The number on a `key value` line of a cgroup file (memory.stat, cpu.stat, memory.oom_control). */
function statValue(text: string, key: string): number | undefined {
  const match = new RegExp(`^${key} (\\d+)$`, 'm').exec(text);
  return match ? Number(match[1]) : undefined;
}

/** Cgroups left by a benchmark that was killed before it could remove them (their processes are gone). */
export function removeStaleCgroups(): void {
  for (const root of [CPU_ROOT, MEMORY_ROOT]) {
    for (const name of existsSync(root) ? readdirSync(root) : []) {
      const owner = /^users-api-bench-(\d+)-/.exec(name)?.[1];
      if (!owner || isProcessAlive(Number(owner))) continue;
      try {
        rmdirSync(join(root, name));
      } catch {
        // still holds a process: leave it
      }
    }
  }
}
