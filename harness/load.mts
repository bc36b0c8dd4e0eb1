import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';

export interface Answer {
  path: string;
  status: number;
  ms: number;
  /** The trace id this request carried in its traceparent, when it sent one. */
  traceId?: string;
}

export interface LoadRun {
  answers: Answer[];
  /** Requests that got no answer (refused, reset): the count and the first few messages. */
  failures: number;
  failureMessages: string[];
}

/** A GET with a keep-alive agent; resolves with the status, or rejects on a connection error. */
function send(agent: Agent, base: URL, path: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: base.hostname, port: base.port, path, headers, agent, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

/**
 * A bounded closed loop: `concurrency` workers, each sending its next
 * request when the last one is answered, until `durationMs` has passed,
 * `maxRequests` were sent, or `stop()` returns true. Loopback only.
 */
export async function loadLoop(options: {
  baseUrl: string;
  paths: string[];
  concurrency: number;
  durationMs: number;
  maxRequests: number;
  headers?: (i: number) => { headers: Record<string, string>; traceId?: string };
  stop?: () => boolean;
}): Promise<LoadRun> {
  const base = new URL(options.baseUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency });
  const answers: Answer[] = [];
  const failureMessages: string[] = [];
  let failures = 0;
  let sent = 0;
  const deadline = Date.now() + options.durationMs;
  const worker = async () => {
    while (Date.now() < deadline && sent < options.maxRequests && !options.stop?.()) {
      const i = sent++;
      const path = options.paths[i % options.paths.length]!;
      const { headers, traceId } = options.headers?.(i) ?? { headers: {} };
      const started = performance.now();
      try {
        const status = await send(agent, base, path, headers);
        answers.push({ path, status, ms: performance.now() - started, ...(traceId ? { traceId } : {}) });
      } catch (error) {
        failures += 1;
        if (failureMessages.length < 5) failureMessages.push((error as Error).message);
        // A refused connection fails at once: do not spin on it.
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  agent.destroy();
  return { answers, failures, failureMessages };
}

/** Nearest-rank percentile of the answers' latencies (ms). */
export function latencyPercentile(answers: Answer[], p: number): number {
  const sorted = answers.map((a) => a.ms).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** Resident set size of a process, in MiB, from /proc (Linux). */
export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? NaN) / 1024;
}
