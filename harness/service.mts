import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { freePort } from './loopback.mts';
import { ManagedProcess, stopProcess } from './process.mts';
import { newTraceparent } from './traces.mts';

export const ROOT = join(import.meta.dirname, '..');

/** How `npm start` starts the service: the arguments after the node binary. */
export const SERVICE_NODE_ARGS = ['--require', './dist/instrumentation.js', 'dist/server.js'];

export interface LogLine {
  level: string;
  msg: string;
  trace_id?: string;
  span_id?: string;
  [key: string]: unknown;
}

/**
 * Runs `program` (`node -e`, after `nodeArgs`) in a new process at the project's root, with
 * PATH and `env` only, for up to 20 s; `lines` is its stdout read as JSON lines.
 */
export function runProgram(program: string, env: Record<string, string> = {}, nodeArgs: string[] = []) {
  const run = spawnSync(process.execPath, [...nodeArgs, '-e', program], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8', timeout: 20_000 });
  const lines = run.stdout.split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line) as LogLine);
  return { status: run.status, stdout: run.stdout, stderr: run.stderr, lines };
}

export interface ServiceOptions {
  cwd?: string;
  /** Its own process group, so a Ctrl-C meant for the caller does not reach it. */
  detached?: boolean;
  /** The arguments after the node binary (default: the service as `npm start` runs it). */
  nodeArgs?: string[];
  /**
   * Where stdout and stderr go: a file instead of a pipe (the benchmark: a
   * pipe it had to drain would compete with its load generator).
   */
  outputFile?: string;
  /**
   * With `outputFile`: the output goes through a pipe to a `cat` that writes
   * the file, as a container runtime collects a pod's logs. A service in a
   * memory cgroup that wrote the file itself would have the file's page cache
   * charged to its cgroup (measured: 5 MB in 15 s at 2,000 requests/s).
   */
  outputThroughPipe?: boolean;
  /** `taskset -c` CPU list to run it on. */
  cpus?: string;
  /** A command that runs the rest (the benchmark's pod-shaped run: one that enters a cgroup, then execs node). */
  launcher?: string[];
  readyTimeoutMs?: number;
}

/**
 * The built service, started the way `npm start` starts it, in a clean
 * environment (no OTEL_* leaks in from the shell running the tests), and
 * timed from spawn until it answers /readyz.
 */
export class Service extends ManagedProcess {
  stderr = '';
  readonly port: number;
  /** Milliseconds from spawn to the first 200 answer on /readyz. */
  startToReadyMs = NaN;
  private readonly piped: LogLine[] = [];
  private readonly outputFile: string | undefined;
  private readonly outputWritten: Promise<unknown>;

  private constructor(child: ChildProcess, port: number, outputFile: string | undefined, outputWritten: Promise<unknown>) {
    super(child);
    this.port = port;
    this.outputFile = outputFile;
    this.outputWritten = outputWritten;
    if (outputFile) return;
    let pending = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) if (line.trim()) this.piped.push(JSON.parse(line) as LogLine);
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Its log lines so far (from the output file, when it writes to one). */
  get logs(): LogLine[] {
    if (!this.outputFile) return this.piped;
    if (!existsSync(this.outputFile)) return [];
    const lines: LogLine[] = [];
    for (const line of readFileSync(this.outputFile, 'utf8').split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        lines.push(JSON.parse(line) as LogLine);
      } catch {
        // a line cut short by a crash: not a log record
      }
    }
    return lines;
  }

  /** What the service said last: its stderr, else its last warning or error log lines, with the error's message. */
  lastWords(): string {
    if (this.stderr.trim()) return this.stderr.trim();
    const said = this.logs.filter((line) => ['warn', 'error', 'fatal'].includes(line.level)).slice(-3);
    const err = (line: LogLine) => (line.err as { message?: string } | undefined)?.message;
    return said.map((line) => (err(line) ? `${line.msg}: ${err(line)}` : line.msg)).join('\n') || '(it said nothing)';
  }

  override describe(lines = 20): string {
    if (!this.outputFile) return this.lastWords();
    return existsSync(this.outputFile) ? readFileSync(this.outputFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n') : '';
  }

  /** Starts the service and waits until it answers /readyz. */
  static async start(env: Record<string, string> = {}, options: ServiceOptions = {}): Promise<Service> {
    const port = Number(env.PORT ?? (await freePort()));
    const started = performance.now();
    const { child, outputWritten } = spawnService({ ...env, PORT: String(port) }, options);
    const service = new Service(child, port, options.outputFile, outputWritten);
    await service.waitUntilReady(async () => (await status(`${service.url}/readyz`)) === 200, 'the service to answer /readyz', options.readyTimeoutMs ?? 15_000, 5);
    service.startToReadyMs = performance.now() - started;
    return service;
  }

  get(path: string, headers: Record<string, string> = {}): Promise<Response> {
    return fetch(`${this.url}${path}`, { headers });
  }

  /** `count` GETs of `path`, one after another, each in a trace of its own; each must answer 200. Their trace ids. */
  async getInNewTraces(path: string, count: number): Promise<string[]> {
    const traceIds: string[] = [];
    for (let i = 0; i < count; i += 1) {
      const { traceparent, traceId } = newTraceparent();
      const { status } = await this.get(path, { traceparent });
      if (status !== 200) throw new Error(`GET ${path} answered ${status}, not 200`);
      traceIds.push(traceId);
    }
    return traceIds;
  }

  /** Stops it, then waits (up to 5 s) until its output is all in the output file. */
  override async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<number | null> {
    const code = await super.stop(signal, timeoutMs);
    await Promise.race([this.outputWritten, new Promise((resolve) => setTimeout(resolve, 5_000).unref())]);
    return code;
  }
}

/** Runs the service to completion (for configurations that must refuse to start). */
export async function runService(env: Record<string, string>, timeoutMs = 15_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { child } = spawnService(env);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const { code } = await stopProcess(child, null, timeoutMs);
  return { code, stdout, stderr };
}

function spawnService(env: Record<string, string>, options: ServiceOptions = {}): { child: ChildProcess; outputWritten: Promise<unknown> } {
  const nodeArgs = options.nodeArgs ?? SERVICE_NODE_ARGS;
  const pinned = options.cpus === undefined ? [process.execPath, ...nodeArgs] : ['taskset', '-c', options.cpus, process.execPath, ...nodeArgs];
  const [command, ...args] = [...(options.launcher ?? []), ...pinned] as [string, ...string[]];
  const file = options.outputFile ? openSync(options.outputFile, 'w') : undefined;
  const writer = file !== undefined && options.outputThroughPipe ? spawn('cat', [], { stdio: ['pipe', file, 'ignore'] }) : undefined;
  const output = writer ? writer.stdin! : (file ?? 'pipe');
  const child = spawn(command, args, {
    cwd: options.cwd ?? ROOT,
    detached: options.detached ?? false,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', output, output],
  });
  if (file !== undefined) closeSync(file);
  // The service holds the pipe's write end now: `cat` ends when the service does.
  writer?.stdin!.destroy();
  return { child, outputWritten: writer ? once(writer, 'exit') : Promise.resolve() };
}

/**
 * For tests that load the built modules into their own process: those read
 * process.env when loaded, so clear what a developer's shell may have set
 * (OTEL_*, the service's own settings) and keep the log quiet.
 */
export function useServiceDefaultsInThisProcess(): void {
  for (const name of Object.keys(process.env)) {
    if (name.startsWith('OTEL_') || SERVICE_VARIABLES.includes(name)) delete process.env[name];
  }
  process.env.LOG_LEVEL = 'silent';
}

const SERVICE_VARIABLES = ['PORT', 'DOWNSTREAM_URL', 'SHUTDOWN_GRACE_MS', 'LOG_LEVEL', 'SENTRY_DSN', 'TRUST_INCOMING_TRACE_CONTEXT', 'DEPLOYMENT_ENVIRONMENT'];


/** The status of one GET on a fresh connection (no keep-alive left behind), or 0 when nothing answered. */
export function status(url: string, timeoutMs = 1_000): Promise<number> {
  return new Promise((resolve) => {
    const req = request(url, { agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}
