import { join } from 'node:path';
import { Service } from '../../harness/service.mts';
import { PodCgroup, deploymentLimits, tuningOf } from './pod-cgroup.mts';
import type { Pinning } from './pinning.mts';
import { DIAGNOSTICS_PRELOAD, ServiceDiagnostics } from './service-diagnostics.mts';
import { settings } from './settings.mts';
import type { Variant } from './variants.mts';

/** A variant's service, running: in its cgroup when pod-shaped, with the diagnostics preload unless left out. */
export interface Launched {
  service: Service;
  cgroup: PodCgroup | undefined;
  diagnostics: ServiceDiagnostics | undefined;
  /** The service's stdout and stderr. */
  logFile: string;
}

export interface LaunchOptions {
  /** Names the log files and the cgroup (unique within one bench process). */
  name: string;
  logDir: string;
  /** Node flags put first (a profiler's). */
  nodeFlags?: string[];
  diagnostics: boolean;
  /** CPUs other than the plan's service core (the soak's pod-shaped service, beside a free-core one). */
  cpus?: string;
  /** The Deployment's environment for a free-core service too (a pod-shaped one always has it). */
  deploymentEnv?: Record<string, string>;
}

/** The node arguments with `--require preload` put just before the script (the last argument), after the service's own preloads. */
export function withPreload(nodeArgs: string[], preload: string): string[] {
  return [...nodeArgs.slice(0, -1), '--require', preload, ...nodeArgs.slice(-1)];
}

export async function launch(variant: Variant, endpoint: string, pinning: Pinning, options: LaunchOptions): Promise<Launched> {
  const spec = variant.spec(endpoint);
  const diagnosticsFile = join(options.logDir, `${options.name}.diagnostics.jsonl`);
  const nodeArgs = [...(options.nodeFlags ?? []), ...(options.diagnostics ? withPreload(spec.nodeArgs, DIAGNOSTICS_PRELOAD) : spec.nodeArgs)];
  // The variant's own tuning (an experiment's NODE_OPTIONS or queue) replaces the Deployment's, and the results record what ran.
  const podLimits = variant.pod ? deploymentLimits(settings.podCpuMillis) : undefined;
  const cgroup = podLimits ? new PodCgroup(`users-api-bench-${process.pid}-${options.name}`, { ...podLimits, env: { ...podLimits.env, ...tuningOf(spec.env) } }) : undefined;
  const env = {
    ...(cgroup?.limits.env ?? options.deploymentEnv),
    ...spec.env,
    ...(options.diagnostics ? ServiceDiagnostics.env(diagnosticsFile) : {}),
  };
  const logFile = join(options.logDir, `${options.name}.log`);
  try {
    const service = await Service.start(env, {
      cwd: spec.cwd,
      nodeArgs,
      launcher: cgroup?.launcher(),
      cpus: options.cpus ?? pinning.service,
      outputFile: logFile,
      // In the pod, its log file's page cache would be charged to its memory cgroup.
      outputThroughPipe: Boolean(cgroup),
      readyTimeoutMs: 30_000,
    });
    return { service, cgroup, diagnostics: options.diagnostics ? new ServiceDiagnostics(diagnosticsFile, service.process.pid!) : undefined, logFile };
  } catch (error) {
    try {
      cgroup?.remove();
    } catch {
      // its process is still being reaped: the next run's removeStaleCgroups takes it
    }
    throw error;
  }
}
