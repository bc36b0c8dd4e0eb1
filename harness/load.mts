import { Agent, request } from 'node:http';
import { percentile } from './stats.mts';

/** One answered request; `ms` is its latency. */
export interface Answer {
  path: string;
  status: number;
  ms: number;
  /** The trace id this request carried in its traceparent, when it sent one. */
  traceId?: string;
  /** When it was sent (performance.now()); in an open loop, when it was due. */
  sentAt: number;
}

export interface LoadRun {
  answers: Answer[];
  /** Requests that got no answer (refused, reset): the count and the first few messages. */
  failures: number;
  failureMessages: string[];
  elapsedS: number;
  /** True when time ran out before every request the run was given had been sent. */
  cutOff: boolean;
}

export interface PathLatency {
  p50Ms: number;
  p99Ms: number;
  /** Nearest rank: with fewer than 1,000 values it is the maximum. */
  p999Ms: number;
  maxMs: number;
  /** How many values the percentiles come from. */
  count: number;
}

/** A run in figures: rate, latency (overall and per path: the paths differ by design), answers by path and status. */
export interface LoadSummary extends PathLatency {
  responses: number;
  perPath: Record<string, number>;
  latencyByPath: Record<string, PathLatency>;
  non2xx: number;
  errors: number;
  elapsedS: number;
  rps: number;
  cutOff: boolean;
}

/** Headers for request number `i`, and the trace id they carry. */
export type HeadersFor = (i: number) => { headers: Record<string, string>; traceId?: string };

const REQUEST_TIMEOUT_MS = 10_000;

/**
 * A keep-alive agent that drops an idle connection before the server does.
 * Node applies the server's `Keep-Alive: timeout=5` hint (less a second) only
 * when it shortens the agent's own `timeout`, and without one it keeps idle
 * sockets forever (Agent.prototype.keepSocketAlive, Node 24.21). The server
 * closes them after 6 s idle (keepAliveTimeout + keepAliveTimeoutBuffer), and a
 * request sent just then is answered with a reset: each of the 100 `read
 * ECONNRESET` in four diagnostic runs at 3,000/s (2026-12-07) came on a reused
 * socket idle 5,996-6,053 ms (docs/performance.md, "Failed requests"). With a
 * timeout the hint applies: 4 s.
 */
function keepAliveAgent(maxSockets: number): Agent {
  return new Agent({ keepAlive: true, maxSockets, timeout: REQUEST_TIMEOUT_MS });
}

/** A GET with a keep-alive agent; resolves with the status once the body is read, or rejects on a connection error. */
function send(agent: Agent, base: URL, path: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: base.hostname, port: base.port, path, headers, agent, timeout: REQUEST_TIMEOUT_MS }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

class Recorder {
  readonly answers: Answer[] = [];
  readonly failureMessages: string[] = [];
  failures = 0;

  answered(path: string, status: number, sentAt: number, traceId?: string): void {
    this.answers.push({ path, status, ms: performance.now() - sentAt, sentAt, ...(traceId ? { traceId } : {}) });
  }

  failed(error: Error): void {
    this.failures += 1;
    if (this.failureMessages.length < 5) this.failureMessages.push(error.message);
  }

  run(elapsedS: number, cutOff: boolean): LoadRun {
    return { answers: this.answers, failures: this.failures, failureMessages: this.failureMessages, elapsedS, cutOff };
  }
}

/** Connections that cycle through `paths`; with `requests`, the pool stops after sending that many. */
export interface Pool {
  paths: string[];
  connections: number;
  requests?: number;
}

/**
 * A closed loop: each pool's connections send their next request as soon as
 * the last is answered, all pools at once, until every pool with a request
 * count has sent it, or `durationMs` has passed, or `stop()` returns true.
 * Give each path its own pool when their latencies differ (one pool cycling
 * through them would be paced by the slowest). A count makes span accounting
 * exact: nothing is cut off mid-flight. Loopback only; latency counts from
 * when each request was sent.
 */
export async function closedLoop(options: { baseUrl: string; pools: Pool[]; durationMs: number; headers?: HeadersFor; stop?: () => boolean }): Promise<LoadRun> {
  const base = new URL(options.baseUrl);
  const agent = keepAliveAgent(options.pools.reduce((sum, pool) => sum + pool.connections, 0));
  const recorder = new Recorder();
  const started = performance.now();
  const deadline = Date.now() + options.durationMs;
  let numbered = 0;
  let cutOff = false;
  const runPool = async (pool: Pool) => {
    let sent = 0;
    const worker = async () => {
      for (;;) {
        if (pool.requests !== undefined && sent >= pool.requests) return;
        if (Date.now() >= deadline) {
          if (pool.requests !== undefined) cutOff = true;
          return;
        }
        if (options.stop?.()) return;
        const path = pool.paths[sent++ % pool.paths.length]!;
        const { headers, traceId } = options.headers?.(numbered++) ?? { headers: {} };
        const sentAt = performance.now();
        try {
          const status = await send(agent, base, path, headers);
          recorder.answered(path, status, sentAt, traceId);
        } catch (error) {
          recorder.failed(error as Error);
          // A refused connection fails at once: do not spin on it.
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      }
    };
    await Promise.all(Array.from({ length: pool.connections }, worker));
  };
  await Promise.all(options.pools.map(runPool));
  agent.destroy();
  return recorder.run((performance.now() - started) / 1000, cutOff);
}

/**
 * An open loop at a fixed rate: request i is due at start + i/rate, whether
 * or not earlier ones have been answered, and its latency counts from when it
 * was due (so a stalled server shows up as latency, not as a politely slower
 * client). Bounded by count (rate × duration) and by a hard deadline.
 */
export async function openLoop(options: { baseUrl: string; paths: string[]; rate: number; durationS: number; maxSockets?: number; deadlineS?: number }): Promise<LoadRun> {
  const total = Math.round(options.rate * options.durationS);
  const agent = keepAliveAgent(options.maxSockets ?? 128);
  const base = new URL(options.baseUrl);
  const recorder = new Recorder();
  let sent = 0;
  let settled = 0;
  let cutOff = false;
  const started = performance.now();
  let lastAnswer = started;

  await new Promise<void>((resolve) => {
    const settle = () => {
      settled += 1;
      if (settled < total) return;
      clearInterval(pacer);
      clearTimeout(deadline);
      resolve();
    };
    const sendDue = (i: number) => {
      const path = options.paths[i % options.paths.length]!;
      const due = started + (i * 1000) / options.rate;
      send(agent, base, path).then(
        (status) => {
          lastAnswer = performance.now();
          recorder.answered(path, status, due);
          settle();
        },
        (error: Error) => {
          recorder.failed(error);
          settle();
        },
      );
    };
    const pacer = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - started) * options.rate) / 1000) + 1);
      while (sent < due) sendDue(sent++);
      if (sent === total) clearInterval(pacer);
    }, 1);
    const deadline = setTimeout(
      () => {
        cutOff = true;
        clearInterval(pacer);
        agent.destroy();
        resolve();
      },
      (options.deadlineS ?? options.durationS * 2 + 10) * 1000,
    );
  });
  agent.destroy();
  return recorder.run((lastAnswer - started) / 1000, cutOff);
}

function latency(values: number[]): PathLatency {
  return {
    p50Ms: percentile(values, 50),
    p99Ms: percentile(values, 99),
    p999Ms: percentile(values, 99.9),
    maxMs: values.length ? values.reduce((max, value) => Math.max(max, value), -Infinity) : NaN,
    count: values.length,
  };
}

export function summarize(run: LoadRun): LoadSummary {
  const byPath: Record<string, number[]> = {};
  for (const answer of run.answers) (byPath[answer.path] ??= []).push(answer.ms);
  const all = run.answers.map((answer) => answer.ms);
  return {
    responses: run.answers.length,
    perPath: Object.fromEntries(Object.entries(byPath).map(([path, values]) => [path, values.length])),
    latencyByPath: Object.fromEntries(Object.entries(byPath).map(([path, values]) => [path, latency(values)])),
    non2xx: run.answers.filter((answer) => answer.status < 200 || answer.status > 299).length,
    errors: run.failures,
    elapsedS: run.elapsedS,
    rps: run.answers.length / run.elapsedS,
    ...latency(all),
    cutOff: run.cutOff,
  };
}
