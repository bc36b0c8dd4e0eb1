/*
 * Where the demo's collector comes from, in this order:
 *   1. the binary collector/build.sh built (cached in .cache/collector), or Go to build it;
 *   2. without Go: the collector image, built from collector/Dockerfile with
 *      Docker or Podman (the same manifest, builder and release), run with the
 *      demo's ports published on 127.0.0.1;
 *   3. with neither: one message that says what to install.
 * Either way the demo gets the same thing: an OTLP endpoint, the collector's
 * output, and stop().
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { COLLECTOR_BINARY, COLLECTOR_CONFIG, Collector } from '../harness/collector.mts';
import { ProcessWithOutput, runCommand } from '../harness/process.mts';
import { freePort } from '../harness/loopback.mts';
import { ROOT, status } from '../harness/service.mts';

export type CollectorSource = { kind: 'binary' } | { kind: 'image'; engine: 'docker' | 'podman' };
const IMAGE = 'otelcol-users-demo:demo';

export const INSTALL_MESSAGE = [
  'The demo needs an OpenTelemetry Collector, and this machine cannot make one. Install either:',
  '  Go 1.26 or newer (https://go.dev/dl/): the demo builds the collector with it, 2 to 4 minutes the first time (measured: README, Two commands); or',
  '  Docker (https://docs.docker.com/get-docker/) or Podman (https://podman.io/docs/installation): the demo builds and runs the collector image (collector/Dockerfile).',
  'Then run `npm run demo` again.',
].join('\n');

const works = (command: string, args: string[]) => spawnSync(command, args, { stdio: 'ignore', timeout: 20_000 }).status === 0;

type Check = boolean | (() => boolean);
const THIS_MACHINE = {
  binary: () => existsSync(COLLECTOR_BINARY),
  go: () => works('go', ['version']),
  docker: () => works('docker', ['info']), // the CLI alone is not enough: the engine must answer
  podman: () => works('podman', ['--version']),
};

/** The first thing this machine has (each asked only when needed); throws INSTALL_MESSAGE when it has none. */
export function chooseCollectorSource(has: Record<keyof typeof THIS_MACHINE, Check> = THIS_MACHINE): CollectorSource {
  const yes = (check: Check) => (typeof check === 'function' ? check() : check);
  if (yes(has.binary) || yes(has.go)) return { kind: 'binary' };
  if (yes(has.docker)) return { kind: 'image', engine: 'docker' };
  if (yes(has.podman)) return { kind: 'image', engine: 'podman' };
  throw new Error(INSTALL_MESSAGE);
}

/**
 * The collector image, run like the binary: collector/config.yaml mounted
 * where the Deployment mounts its ConfigMap, the file exporter writing into
 * `COLLECTOR_FILE_PATH`'s folder, as the calling user (so the files are yours).
 */
export class ImageCollector extends ProcessWithOutput {
  readonly grpcPort: number;
  private readonly engine: string;
  private readonly name: string;

  private constructor(engine: string, name: string, child: ChildProcess, grpcPort: number) {
    super(child);
    this.engine = engine;
    this.name = name;
    this.grpcPort = grpcPort;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.grpcPort}`;
  }

  /** `engine build` of collector/Dockerfile (layers cached by the engine), its output into `log`. */
  static async build(engine: string, log: string): Promise<void> {
    const { code, output } = await runCommand([engine, 'build', '-t', IMAGE, join(ROOT, 'collector')], { timeoutMs: 30 * 60_000 });
    writeFileSync(log, output);
    if (code !== 0) throw new Error(`${engine} build -t ${IMAGE} collector failed: see ${log}`);
  }

  static async start(engine: string, env: Record<string, string>, options: { grpc?: number } = {}): Promise<ImageCollector> {
    const [grpc, health] = [options.grpc ?? (await freePort()), await freePort()];
    const name = `users-demo-collector-${process.pid}`;
    const { COLLECTOR_FILE_PATH, ...rest } = env;
    const volumes = [`${COLLECTOR_CONFIG}:/conf/config.yaml:ro`];
    if (COLLECTOR_FILE_PATH) volumes.push(`${dirname(COLLECTOR_FILE_PATH)}:/received`);
    const containerEnv = {
      GOMEMLIMIT: '400MiB',
      TAIL_SAMPLING_DECISION_WAIT: '1s',
      TAIL_SAMPLING_PERCENTAGE: '100',
      ...rest,
      ...(COLLECTOR_FILE_PATH ? { COLLECTOR_FILE_PATH: `/received/${basename(COLLECTOR_FILE_PATH)}` } : {}),
    };
    const args = [
      'run', '--rm', '--name', name,
      '--user', `${process.getuid?.() ?? 10001}:${process.getgid?.() ?? 10001}`,
      '--publish', `127.0.0.1:${grpc}:4317`, '--publish', `127.0.0.1:${health}:13133`,
      ...volumes.flatMap((volume) => ['--volume', volume]),
      ...Object.entries(containerEnv).flatMap(([key, value]) => ['--env', `${key}=${value}`]),
      IMAGE,
    ];
    // Its own process group: a Ctrl-C meant for the demo does not stop it before the services have flushed.
    const child = spawn(engine, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const collector = new ImageCollector(engine, name, child, grpc);
    await collector.waitUntilReady(async () => (await status(`http://127.0.0.1:${health}/`)) === 200, `${engine} run ${IMAGE}: the collector container health check`, 60_000);
    return collector;
  }

  /** At once, the container itself: killing the engine's client alone would leave it holding the demo's ports. */
  removeContainer(): void {
    spawnSync(this.engine, ['rm', '--force', this.name], { stdio: 'ignore', timeout: 30_000 });
  }

  /** `engine stop`: SIGTERM to the collector itself, 10 s to flush, then it is killed. */
  override async stop(): Promise<number | null> {
    if (this.running) spawnSync(this.engine, ['stop', '--time', '10', this.name], { stdio: 'ignore', timeout: 30_000 });
    return this.waitForExit();
  }
}

/**
 * The demo's collector from whatever this machine has. `buildBinary` is the
 * demo's own progress-reporting build of collector/build.sh.
 */
export async function startDemoCollector(
  env: Record<string, string>,
  options: { grpc?: number; detached?: boolean; log: string },
  buildBinary: () => Promise<void>,
): Promise<Collector | ImageCollector> {
  const source = chooseCollectorSource();
  if (source.kind === 'binary') {
    await buildBinary();
    return Collector.start(env, options);
  }
  console.log(`No Go here: building the collector image with ${source.engine} (collector/Dockerfile; first run only: a few minutes) …`);
  await ImageCollector.build(source.engine, options.log);
  return ImageCollector.start(source.engine, env, options);
}
