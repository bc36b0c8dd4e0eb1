import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './loopback.mts';
import { ProcessWithOutput } from './process.mts';
import { ROOT, status } from './service.mts';

export const COLLECTOR_BINARY = join(ROOT, '.cache/collector/dist/otelcol-users-demo');
export const COLLECTOR_CONFIG = join(ROOT, 'collector/config.yaml');
/** The load-balancing tier's configuration (docs/kubernetes.md). */
export const LOADBALANCER_CONFIG = join(ROOT, 'collector/loadbalancer/loadbalancer.yaml');

export interface CollectorOptions {
  grpc?: number;
  /** Its own process group, so a Ctrl-C meant for the caller does not reach it. */
  detached?: boolean;
  /** The --config arguments, in order (default: collector/config.yaml). */
  configs?: string[];
  /** A command that runs the collector (for example one that enters a mount namespace, then execs it). */
  launcher?: string[];
}

/** Builds the collector once (cached by collector/build.sh); a failed build fails the tests that need it. */
export function ensureCollectorBuilt(): string {
  if (!existsSync(COLLECTOR_BINARY)) {
    const build = spawnSync('bash', [join(ROOT, 'collector/build.sh')], { stdio: 'inherit', timeout: 30 * 60_000 });
    if (build.status !== 0 || !existsSync(COLLECTOR_BINARY)) throw new Error('the collector could not be built: see the output of collector/build.sh');
  }
  return COLLECTOR_BINARY;
}

/** `otelcol validate` on a list of config files, as a user would run it. */
export function validateConfig(configs: string[], env: Record<string, string> = {}): { status: number | null; output: string } {
  const result = spawnSync(ensureCollectorBuilt(), ['validate', ...configs.map((c) => `--config=${c}`)], {
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** The real collector binary with collector/config.yaml, on free loopback ports. */
export class Collector extends ProcessWithOutput {
  readonly grpcPort: number;
  /** OTLP/HTTP: POST /v1/traces and /v1/logs, protobuf or JSON. */
  readonly httpPort: number;
  readonly healthPort: number;
  /** The collector's own metrics, Prometheus text at /metrics. */
  readonly metricsPort: number;

  private constructor(process: ChildProcess, grpcPort: number, httpPort: number, healthPort: number, metricsPort: number) {
    super(process);
    this.metricsPort = metricsPort;
    this.grpcPort = grpcPort;
    this.httpPort = httpPort;
    this.healthPort = healthPort;
  }

  /** The endpoint a service exports to. */
  get endpoint(): string {
    return `http://127.0.0.1:${this.grpcPort}`;
  }

  /** Its OTLP/HTTP receiver: the base URL, to which a client adds /v1/traces or /v1/logs. */
  get httpEndpoint(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  static async start(env: Record<string, string> = {}, options: CollectorOptions = {}): Promise<Collector> {
    const binary = ensureCollectorBuilt();
    const [grpc, http, health, metrics] = [options.grpc ?? (await freePort()), await freePort(), await freePort(), await freePort()];
    const [command, ...args] = [...(options.launcher ?? []), binary, ...(options.configs ?? [COLLECTOR_CONFIG]).map((config) => `--config=${config}`)] as [string, ...string[]];
    const child = spawn(command, args, {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        GOMEMLIMIT: '400MiB',
        OTLP_GRPC_ENDPOINT: `127.0.0.1:${grpc}`,
        OTLP_HTTP_ENDPOINT: `127.0.0.1:${http}`,
        HEALTH_CHECK_ENDPOINT: `127.0.0.1:${health}`,
        COLLECTOR_METRICS_HOST: '127.0.0.1',
        COLLECTOR_METRICS_PORT: String(metrics),
        TAIL_SAMPLING_DECISION_WAIT: '1s',
        TAIL_SAMPLING_PERCENTAGE: '100',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: options.detached ?? false,
    });
    const collector = new Collector(child, grpc, http, health, metrics);
    await collector.waitUntilReady(async () => (await status(`http://127.0.0.1:${health}/`)) === 200, 'the collector health check', 20_000);
    return collector;
  }

  /** The collector's own metrics, as Prometheus text. */
  async metricsText(): Promise<string> {
    const response = await fetch(`http://127.0.0.1:${this.metricsPort}/metrics`);
    if (!response.ok) throw new Error(`the collector's metrics answered ${response.status}`);
    return response.text();
  }

  /** One of the collector's own metrics, summed over the series that carry `labels`; undefined while there is none. */
  async metric(name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
    return sumSeries(await this.metricsText(), name, labels);
  }

  override stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<number | null> {
    return super.stop(signal, timeoutMs);
  }
}

/** A metric in Prometheus text (a counter's `_total` suffix optional), summed over the series that carry `labels`; undefined while there is none. */
export function sumSeries(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const values = text
    .split('\n')
    .filter((line) => [name, `${name}_total`].some((full) => line.startsWith(`${full}{`) || line.startsWith(`${full} `)))
    .filter((line) => Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`)))
    .map((line) => Number(line.split(' ').at(-1)));
  return values.length > 0 ? values.reduce((sum, value) => sum + value, 0) : undefined;
}

/**
 * A second --config for collector/loadbalancer/loadbalancer.yaml that replaces its DNS
 * resolver with a fixed list of sampling collectors (`host:port`), as that file describes.
 */
export function staticResolver(hostnames: string[]): string {
  return `yaml:exporters::load_balancing::resolver: {static: {hostnames: [${hostnames.join(', ')}]}, dns: null}`;
}

/**
 * A launcher (CollectorOptions.launcher) that runs the collector with `hostsFile`
 * as its /etc/hosts, in a mount namespace of its own: how a test gives the DNS
 * resolver a name whose addresses it can change. The file is bound, not copied:
 * rewriting it in place (same inode) changes what the collector resolves.
 * As root, a mount namespace; otherwise a user namespace too, where the kernel allows it.
 */
export function withHostsFile(hostsFile: string): string[] {
  const userNamespace = process.getuid?.() === 0 ? [] : ['--user', '--map-root-user'];
  return ['unshare', ...userNamespace, '--mount', 'sh', '-c', 'mount --bind "$0" /etc/hosts && exec "$@"', hostsFile];
}

/** Why withHostsFile cannot work on this machine, or undefined when it can. */
export function hostsFileMissing(): string | undefined {
  const [command, ...args] = withHostsFile('/etc/hosts');
  const run = spawnSync(command!, [...args, 'true'], { encoding: 'utf8', timeout: 10_000 });
  if (run.error) return `unshare is missing (${run.error.message}; apt-get install util-linux)`;
  return run.status === 0 ? undefined : `no mount namespace for a private /etc/hosts (${run.stderr.trim() || `exit ${run.status}`}): needs root or unprivileged user namespaces`;
}
