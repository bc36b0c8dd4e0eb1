import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { cpus } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

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

export interface ServiceSpec {
  /** Arguments after the node binary, e.g. ['--require', './dist/instrumentation.js', 'dist/server.js']. */
  nodeArgs: string[];
  env: Record<string, string>;
  cwd: string;
}

export interface LogLine {
  level?: string;
  msg?: string;
  [key: string]: unknown;
}

/**
 * One service process for the benchmark: spawned on its own core, its
 * stdout and stderr written to a file (a pipe the benchmark had to drain
 * would compete with the load generator), timed from spawn to the first
 * 200 on /readyz.
 */
export class BenchService {
  readonly process: ChildProcess;
  readonly port: number;
  readonly logFile: string;
  /** Milliseconds from spawn to the first 200 answer on /readyz. */
  startToReadyMs = NaN;
  private readonly exited: Promise<number | null>;

  private constructor(child: ChildProcess, port: number, logFile: string) {
    this.process = child;
    this.port = port;
    this.logFile = logFile;
    this.exited = once(child, 'exit').then(([code]) => code as number | null);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  static async start(spec: ServiceSpec, options: { port: number; cpus: string | undefined; logFile: string; timeoutMs?: number }): Promise<BenchService> {
    const fd = openSync(options.logFile, 'w');
    const env = { PATH: process.env.PATH ?? '', ...spec.env, PORT: String(options.port) };
    const [command, args] =
      options.cpus === undefined ? [process.execPath, spec.nodeArgs] : ['taskset', ['-c', options.cpus, process.execPath, ...spec.nodeArgs]];
    const started = performance.now();
    const child = spawn(command, args, { cwd: spec.cwd, env, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    const service = new BenchService(child, options.port, options.logFile);
    const deadline = started + (options.timeoutMs ?? 30_000);
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`the service exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${service.logTail()}`);
      }
      if ((await status(`${service.url}/readyz`)) === 200) break;
      if (performance.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`the service was not ready within ${options.timeoutMs ?? 30_000} ms:\n${service.logTail()}`);
      }
      await sleep(5);
    }
    service.startToReadyMs = performance.now() - started;
    return service;
  }

  /** Resident set size now, in MiB (from /proc). */
  rssMiB(): number {
    const statusText = readFileSync(`/proc/${this.process.pid}/status`, 'utf8');
    const kb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(statusText)?.[1] ?? NaN);
    return kb / 1024;
  }

  logs(): LogLine[] {
    if (!existsSync(this.logFile)) return [];
    const lines: LogLine[] = [];
    for (const line of readFileSync(this.logFile, 'utf8').split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        lines.push(JSON.parse(line) as LogLine);
      } catch {
        // a line cut short by a crash: not a log record
      }
    }
    return lines;
  }

  logTail(lines = 20): string {
    if (!existsSync(this.logFile)) return '';
    return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  }

  /** SIGTERM, then SIGKILL after `timeoutMs`; resolves with the exit code (null when killed). */
  async stop(timeoutMs = 20_000): Promise<number | null> {
    if (this.process.exitCode === null && this.process.signalCode === null) this.process.kill('SIGTERM');
    const timer = setTimeout(() => this.process.kill('SIGKILL'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The status of one GET on a fresh connection, or 0 when nothing answered. */
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

/** A GET on a fresh connection, resolving with the body once answered (for calibration requests). */
export function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, headers, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
    req.end();
  });
}
