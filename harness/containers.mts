import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { millicoresOf, type K8sObject } from './k8s.mts';
import { ROOT } from './service.mts';
import { ProcessWithOutput, runCommand } from './process.mts';

/*
 * Images built with buildah from the project's Dockerfiles and run with podman
 * and runc, in the project's own container storage (.cache/containers), with
 * the flags scripts/containers.sh chooses (storage driver, runtime).
 */

const CONTAINERS_DIR = join(ROOT, '.cache/containers');
let flags: { storage: string[]; podman: string[]; driver: string } | undefined;
/** The flags of scripts/containers.sh, read once (it picks the storage driver on first use). */
function cliFlags(): { storage: string[]; podman: string[]; driver: string } {
  if (!flags) {
    const script = `source ${JSON.stringify(join(ROOT, 'scripts/containers.sh'))} && echo "$STORAGE_DRIVER" && printf '%s\\n' "\${STORAGE_FLAGS[@]}" && echo -- && printf '%s\\n' "\${PODMAN_FLAGS[@]}"`;
    const result = spawnSync('bash', ['-c', script], { encoding: 'utf8', timeout: 60_000 });
    if (result.status !== 0) throw new Error(`scripts/containers.sh failed:\n${result.stderr}`);
    const [driver, ...rest] = result.stdout.trim().split('\n');
    const split = rest.indexOf('--');
    flags = { driver: driver!, storage: rest.slice(0, split), podman: rest.slice(split + 1) };
  }
  return flags;
}
/** This sandbox cannot raise rlimits, so every container and build step gets explicit lower ones. */
export const ULIMITS = ['--ulimit', 'nofile=1024:4096', '--ulimit', 'nproc=1024:4096'];
const INSTALL_HINT = 'apt-get install -y buildah podman runc debootstrap uidmap';

/** Why images cannot be built and run on this machine, or undefined when they can. */
export function missingContainerTools(): string | undefined {
  if (process.getuid?.() !== 0) return 'building and running images needs root (CI runs as root)';
  const missing = ['buildah', 'podman', 'runc', 'debootstrap'].filter((tool) => spawnSync(tool, ['--version']).error);
  return missing.length > 0 ? `${missing.join(', ')} missing: ${INSTALL_HINT}` : undefined;
}

/** Runs a command to its end, failing with its output; `timeoutMs` bounds it. */
async function run(command: string[], timeoutMs: number): Promise<string> {
  const { code, output } = await runCommand(command, { timeoutMs });
  if (code !== 0) throw new Error(`${command.join(' ')} failed (exit ${code}):\n${output.slice(-4000)}`);
  return output;
}

export const podman = (args: string[], timeoutMs = 60_000) => run(['podman', ...cliFlags().podman, ...args], timeoutMs);

/**
 * buildah keeps the folder of each `RUN --mount=type=cache,target=T` under
 * /var/tmp/buildah-cache/T. Before the first build on a machine, the Go ones
 * (collector/Dockerfile) start as hard links of this machine's own Go caches,
 * so that CI, which has just built the same collector with collector/build.sh,
 * does not download and compile it all again. Only a head start: a build
 * without it is slower, not different.
 */
function seedGoBuildCaches(): void {
  const go = spawnSync('go', ['env', 'GOMODCACHE', 'GOCACHE'], { encoding: 'utf8' });
  if (go.status !== 0) return;
  const [modules, builds] = go.stdout.trim().split('\n');
  const dockerfile = readFileSync(join(ROOT, 'collector/Dockerfile'), 'utf8');
  for (const [from, target] of [[modules!, '/go/pkg/mod'], [builds!, '/root/.cache/go-build']] as const) {
    if (!dockerfile.includes(`--mount=type=cache,target=${target}`)) throw new Error(`collector/Dockerfile no longer caches ${target}: update seedGoBuildCaches`);
    const folder = join('/var/tmp/buildah-cache', target);
    if (existsSync(folder) || !existsSync(from)) continue;
    mkdirSync(dirname(folder), { recursive: true });
    if (spawnSync('cp', ['-al', from, folder], { timeout: 120_000 }).status !== 0) rmSync(folder, { recursive: true, force: true });
  }
}

/** The stand-in base images (scripts/base-images.sh; cached). */
export function ensureBaseImages(): Promise<string> {
  return run(['bash', join(ROOT, 'scripts/base-images.sh')], 15 * 60_000);
}

/**
 * `buildah bud` of a Dockerfile, as `docker build -t <tag> <context>` would,
 * from the stand-in bases (never pulled), caching each step's layer.
 */
export async function buildImage(tag: string, context: string, timeoutMs = 15 * 60_000): Promise<{ seconds: number }> {
  const started = Date.now();
  seedGoBuildCaches();
  await run(['nice', '-n', '10', 'buildah', ...cliFlags().storage, 'bud', '--runtime', 'runc', '--pull=never', '--layers', '--network', 'host', ...ULIMITS, '-t', tag, context], timeoutMs);
  return { seconds: (Date.now() - started) / 1000 };
}

/** Drops the layers of earlier builds that no tag uses any more (vfs keeps a full copy of each); not during a build. */
export async function pruneImages(): Promise<void> {
  await podman(['image', 'prune', '--force']).catch(() => undefined);
}

export async function imageConfig(image: string): Promise<{ size: number; user: string; entrypoint: string[] | null; cmd: string[] | null; env: string[] }> {
  const [inspected] = JSON.parse(await podman(['image', 'inspect', image])) as Array<{ Size: number; Config: { User?: string; Entrypoint?: string[]; Cmd?: string[]; Env?: string[] } }>;
  const config = inspected!.Config;
  return { size: inspected!.Size, user: config.User ?? '', entrypoint: config.Entrypoint ?? null, cmd: config.Cmd ?? null, env: config.Env ?? [] };
}

/**
 * podman flags for what a Deployment's pod and container set. Anything in
 * their security context this function does not know fails, so a new setting
 * cannot be left out of the run silently.
 */
export function podRunFlags(pod: K8sObject, container: K8sObject): string[] {
  const flags: string[] = [];
  const { runAsUser, runAsGroup, runAsNonRoot, seccompProfile, ...podRest } = pod.securityContext ?? {};
  if (Object.keys(podRest).length > 0) throw new Error(`pod securityContext: no podman flag for ${Object.keys(podRest)}`);
  if (runAsUser !== undefined) flags.push('--user', `${runAsUser}:${runAsGroup ?? runAsUser}`);
  if (runAsNonRoot && !(runAsUser > 0)) throw new Error('runAsNonRoot without a non-zero runAsUser');
  // RuntimeDefault: the runtime's default seccomp profile, which podman applies unless told otherwise.
  if (seccompProfile && seccompProfile.type !== 'RuntimeDefault') throw new Error(`seccompProfile ${seccompProfile.type}`);

  const { readOnlyRootFilesystem, allowPrivilegeEscalation, capabilities, ...rest } = container.securityContext ?? {};
  if (Object.keys(rest).length > 0) throw new Error(`container securityContext: no podman flag for ${Object.keys(rest)}`);
  // Kubernetes adds no writable /tmp or /run of its own: neither may podman.
  if (readOnlyRootFilesystem) flags.push('--read-only', '--read-only-tmpfs=false');
  if (allowPrivilegeEscalation === false) flags.push('--security-opt', 'no-new-privileges');
  for (const cap of capabilities?.drop ?? []) flags.push('--cap-drop', cap);
  for (const cap of capabilities?.add ?? []) flags.push('--cap-add', cap);

  const limits = container.resources?.limits ?? {};
  if (limits.memory) flags.push('--memory', String(limits.memory).replace(/i$/, '').toLowerCase());
  if (limits.cpu) flags.push('--cpus', String(millicoresOf(limits.cpu) / 1000));
  return flags;
}

/** A container run in the foreground by podman (so its output and exit code come back to us). */
export class Container extends ProcessWithOutput {
  readonly name: string;

  private constructor(name: string, child: ChildProcess) {
    super(child);
    this.name = name;
  }

  /**
   * `podman run --rm` of `image` with `flags` (podRunFlags), the environment,
   * on a network namespace of ours (`netns`, a name under /run/netns), with
   * `hosts` (name → address) in its /etc/hosts, and `args` after the image.
   */
  static async run(options: {
    name: string;
    image: string;
    flags: string[];
    env: Record<string, string>;
    netns: string;
    hosts: Record<string, string>;
    volumes?: string[];
    args?: string[];
  }): Promise<Container> {
    await podman(['rm', '--force', '--ignore', options.name]).catch(() => undefined);
    const command = [
      ...cliFlags().podman, 'run', '--rm', '--name', options.name, ...ULIMITS, '--network', `ns:/run/netns/${options.netns}`, '--hostname', options.name,
      ...Object.entries(options.hosts).flatMap(([host, address]) => ['--add-host', `${host}:${address}`]),
      ...options.flags,
      ...Object.entries(options.env).flatMap(([key, value]) => ['--env', `${key}=${value}`]),
      ...(options.volumes ?? []).flatMap((volume) => ['--volume', volume]),
      options.image,
      ...(options.args ?? []),
    ];
    return new Container(options.name, spawn('podman', command, { stdio: ['ignore', 'pipe', 'pipe'] }));
  }

  /**
   * SIGTERM to the container's main process, as the kubelet sends it (not to
   * podman's client, which stop() would signal); resolves with the exit code.
   */
  async terminate(timeoutMs = 40_000): Promise<number | null> {
    if (this.running) {
      await podman(['kill', '--signal', 'TERM', this.name]);
      const timer = setTimeout(() => void podman(['kill', '--signal', 'KILL', this.name]).catch(() => undefined), timeoutMs);
      await this.waitForExit();
      clearTimeout(timer);
    }
    return this.waitForExit();
  }

  /** For cleanup after a failure: gone, whatever state it is in. */
  async remove(): Promise<void> {
    await podman(['rm', '--force', '--ignore', '--time', '0', this.name]).catch(() => undefined);
  }
}

/**
 * The environment that makes a plain `podman` use the same storage, runtime
 * and limits as the flags above (containers.conf and storage.conf, the files
 * podman reads): for code that runs `podman` the way a user would (the demo).
 */
export function plainPodmanEnv(): Record<string, string> {
  const storage = join(CONTAINERS_DIR, 'storage.conf');
  const containers = join(CONTAINERS_DIR, 'containers.conf');
  mkdirSync(CONTAINERS_DIR, { recursive: true });
  writeFileSync(storage, `[storage]\ndriver = "${cliFlags().driver}"\ngraphroot = "${join(CONTAINERS_DIR, 'storage')}"\nrunroot = "${join(CONTAINERS_DIR, 'run')}"\n`);
  writeFileSync(
    containers,
    `[containers]\ndefault_ulimits = ["nofile=1024:4096", "nproc=1024:4096"]\n[engine]\nruntime = "runc"\ntmp_dir = "${join(CONTAINERS_DIR, 'libpod')}"\n`,
  );
  return { CONTAINERS_STORAGE_CONF: storage, CONTAINERS_CONF: containers };
}
