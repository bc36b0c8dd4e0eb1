import { readFileSync } from 'node:fs';
import type { CpuProfile } from './profile.mts';

/**
 * Where tracing's CPU goes, by stage: each profile sample is charged to the
 * innermost frame on its stack that belongs to a stage. Frames shared by
 * several stages (@opentelemetry/core, the serializers' common writer, node's
 * own) belong to none, so they go to whichever stage called them. A frame
 * that runs the application's code inside it (a context's `with`, a
 * `startActiveSpan`) stops the search: above it is the request's work, not
 * tracing's, so the sample goes to "the service and Node", unless the sample
 * is in that frame itself.
 */
export interface StageRule {
  stage: string;
  matches: (frame: Frame) => boolean;
}

interface Frame {
  functionName: string;
  url: string;
}

export const REST = 'the service and Node (everything else)';

const inPackage = (...paths: string[]) => (frame: Frame) => paths.some((path) => frame.url.includes(path));

export const STAGES: StageRule[] = [
  { stage: 'garbage collection', matches: (frame) => frame.functionName === '(garbage collector)' },
  { stage: 'span export: OTLP serializer', matches: inPackage('/otlp-transformer/dist/trace/') },
  { stage: 'log export: OTLP serializer', matches: inPackage('/otlp-transformer/dist/logs/') },
  {
    stage: 'export: gRPC, HTTP/2 and retries',
    matches: inPackage('/@grpc/', '/otlp-exporter-base/', '/otlp-grpc-exporter-base/', '/exporter-trace-otlp', '/exporter-logs-otlp', '/dist/telemetry/export-', 'node:internal/http2/', 'node:http2'),
  },
  { stage: 'batch processors (queue, timers)', matches: inPackage('/sdk-trace/dist/export/', '/sdk-logs/dist/export/') },
  { stage: 'self-observability metrics', matches: inPackage('/sdk-metrics/') },
  // The exception's stack, formatted for exception.stacktrace: read from error.stack in LogRecordImpl._setException.
  { stage: 'log records: exception stack trace', matches: (frame) => frame.functionName === '_setException' },
  { stage: 'log records: pino bridge', matches: inPackage('/instrumentation-pino/', '/pino/lib/multistream') },
  // The service writes its log lines traced or not; traced, they carry trace_id and span_id.
  { stage: 'log lines to stdout (pino, sonic-boom)', matches: inPackage('/pino/', '/sonic-boom/', '/dist/telemetry/stdout', '/dist/logger') },
  { stage: 'log records: create and emit', matches: inPackage('/sdk-logs/dist/', '/api/dist/logs/', '/api-logs/') },
  { stage: 'spans: start, attributes, end', matches: inPackage('/sdk-trace/dist/', '/api/dist/trace/', '/semantic-conventions/') },
  { stage: 'server span (the kit\'s middleware)', matches: inPackage('/dist/telemetry/server-spans', '/forwarded-parse/') },
  { stage: 'propagation', matches: inPackage('/core/dist/trace/W3C', '/core/dist/baggage/', '/api/dist/propagation/', '/api/dist/api/propagation') },
  {
    stage: 'context (AsyncLocalStorage)',
    matches: inPackage('/context-async-hooks/', '/api/dist/context/', '/api/dist/api/context', 'node:internal/async_context_frame', 'node:internal/async_local_storage/', 'node:async_hooks'),
  },
  { stage: 'the kit: events, errors, logger', matches: inPackage('/dist/telemetry/') },
];

/** Frames that call the application's code: the search for a stage stops there. */
const RUNS_APPLICATION_CODE = new Set(['with', 'run', 'startActiveSpan', 'bind', 'runInAsyncScope']);

function isWrapper(frame: Frame): boolean {
  // withSpan (spans.ts) runs the work it is given in the callback it hands startActiveSpan, an anonymous function.
  if (frame.url.includes('/dist/telemetry/spans')) return frame.functionName === 'withSpan' || frame.functionName === '';
  return RUNS_APPLICATION_CODE.has(frame.functionName) && (frame.url.includes('@opentelemetry/') || frame.url.startsWith('node:'));
}

export function stageOf(stack: Frame[]): string {
  // stack[0] is the sampled frame, the last one the root.
  for (let i = 0; i < stack.length; i += 1) {
    const frame = stack[i]!;
    if (i > 0 && isWrapper(frame)) return REST;
    const rule = STAGES.find((r) => r.matches(frame));
    if (rule) return rule.stage;
  }
  return REST;
}

export interface StageTimes {
  /** Requests answered in the window: the divisor. */
  requests: number;
  /** The samples counted: from fromUs to toUs on the monotonic clock (the whole profile if absent). */
  window: { fromUs: number; toUs: number } | undefined;
  windowMs: number;
  busyUsPerRequest: number;
  /** µs of CPU per request, by stage, REST included; idle left out. */
  usPerRequest: Record<string, number>;
}

/**
 * The profile's samples from `fromUs` to `toUs` (the monotonic clock in µs,
 * the clock of process.hrtime and of V8's profiler), by stage, per request
 * answered in that window.
 */
export function stageTimes(profile: CpuProfile, requests: number, window?: { fromUs: number; toUs: number }): StageTimes {
  if (window && (window.fromUs < profile.startTime || window.toUs > profile.endTime)) {
    throw new Error(`the window ${window.fromUs}–${window.toUs} µs is not inside the profile's ${profile.startTime}–${profile.endTime}: not the same clock?`);
  }
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const stageOfNode = new Map<number, string>();
  const stageOfId = (id: number) => {
    let stage = stageOfNode.get(id);
    if (stage === undefined) {
      const stack: Frame[] = [];
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) stack.push(byId.get(at)!.callFrame);
      stage = stack[0]!.functionName === '(idle)' ? '(idle)' : stageOf(stack);
      stageOfNode.set(id, stage);
    }
    return stage;
  };
  const totals = new Map<string, number>();
  let time = profile.startTime;
  for (let i = 0; i < profile.samples.length; i += 1) {
    time += profile.timeDeltas[i] ?? 0;
    // V8 attributes delta i+1 to sample i (the time until the next sample).
    const us = Math.max(0, profile.timeDeltas[i + 1] ?? 0);
    if (window && (time < window.fromUs || time > window.toUs)) continue;
    const stage = stageOfId(profile.samples[i]!);
    totals.set(stage, (totals.get(stage) ?? 0) + us);
  }
  totals.delete('(idle)');
  const perRequest = (us: number) => Math.round((us / Math.max(1, requests)) * 10) / 10;
  const busyUs = [...totals.values()].reduce((a, b) => a + b, 0);
  return {
    requests,
    window,
    windowMs: window ? Math.round((window.toUs - window.fromUs) / 1000) : Math.round((profile.endTime - profile.startTime) / 1000),
    busyUsPerRequest: perRequest(busyUs),
    usPerRequest: Object.fromEntries([...totals].map(([stage, us]) => [stage, perRequest(us)])),
  };
}

export function readStageTimes(file: string, requests: number, window?: { fromUs: number; toUs: number }): StageTimes {
  return stageTimes(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, requests, window);
}
