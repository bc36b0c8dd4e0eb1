import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { listenOnLoopback } from './loopback.mts';
import { waitFor } from './wait.mts';

export const ROOT = join(import.meta.dirname, '..');

export interface LogLine {
  level: string;
  msg: string;
  trace_id?: string;
  span_id?: string;
  [key: string]: unknown;
}

/**
 * The built service, started the way `npm start` starts it, in a clean
 * environment (no OTEL_* leaks in from the shell running the tests).
 */
export class Service {
  readonly logs: LogLine[] = [];
  stderr = '';
  readonly process: ChildProcess;
  readonly port: number;
  private readonly exited: Promise<number | null>;

  private constructor(process: ChildProcess, port: number) {
    this.process = process;
    this.port = port;
    this.exited = once(process, 'exit').then(([code]) => code as number | null);
    let pending = '';
    process.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) if (line.trim()) this.logs.push(JSON.parse(line) as LogLine);
    });
    process.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts the service and waits until it answers /healthz. */
  /** `detached` puts it in its own process group, so a Ctrl-C meant for the caller does not reach it. */
  static async start(env: Record<string, string> = {}, options: { cwd?: string; detached?: boolean } = {}): Promise<Service> {
    const port = Number(env.PORT ?? (await freePort()));
    const child = spawnService({ ...env, PORT: String(port) }, options.cwd, options.detached);
    const service = new Service(child, port);
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`service exited with ${child.exitCode}: ${service.stderr}`);
        return (await fetch(`${service.url}/healthz`).catch(() => undefined))?.ok || undefined;
      },
      'the service to answer /healthz',
      15_000,
    );
    return service;
  }

  get(path: string, headers: Record<string, string> = {}): Promise<Response> {
    return fetch(`${this.url}${path}`, { headers });
  }

  /** Sends a signal and resolves with the exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<number | null> {
    if (this.process.exitCode === null) this.process.kill(signal);
    const timer = setTimeout(() => this.process.kill('SIGKILL'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  waitForExit(): Promise<number | null> {
    return this.exited;
  }
}

/** Runs the service to completion (for configurations that must refuse to start). */
export async function runService(env: Record<string, string>, timeoutMs = 15_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawnService(env);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [code] = await once(child, 'exit');
  clearTimeout(timer);
  return { code: code as number | null, stdout, stderr };
}

function spawnService(env: Record<string, string>, cwd = ROOT, detached = false): ChildProcess {
  return spawn(process.execPath, ['--require', './dist/instrumentation.js', 'dist/server.js'], {
    cwd,
    detached,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
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

const SERVICE_VARIABLES = ['PORT', 'DOWNSTREAM_URL', 'SHUTDOWN_GRACE_MS', 'LOG_LEVEL', 'SENTRY_DSN', 'TRUST_INCOMING_TRACE_CONTEXT'];

export async function freePort(): Promise<number> {
  const server = createServer();
  const port = await listenOnLoopback(server);
  server.close();
  await once(server, 'close');
  return port;
}
