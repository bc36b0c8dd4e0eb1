import { join, resolve } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { ROOT, SERVICE_NODE_ARGS } from '../../harness/service.mts';
import { settings } from './settings.mts';

/** What our own build makes per request (server → getUser [→ middleWork → errorWork]): checked against calibration. */
export const OWN_SPANS_PER_REQUEST: Record<string, number> = { '/users/42': 2, '/users/123': 4 };

/** How to start one variant of the service. */
export interface ServiceSpec {
  /** Arguments after the node binary. */
  nodeArgs: string[];
  env: Record<string, string>;
  cwd: string;
}

export interface Variant {
  key: string;
  label: string;
  spec: (endpoint: string) => ServiceSpec;
  /**
   * Where its spans go: `sink`, the counting sink (its own process, counts after each phase; the headline);
   * `collector`, the real collector (debug exporter, tail sampling) on the load generator's core;
   * `none`, a port where nothing listens.
   */
  exportTo: 'sink' | 'collector' | 'none';
  /** Which table it is in, each with its own untraced base. */
  table: 'headline' | 'collector' | 'pod';
  /** In a cgroup with the Deployment's CPU and memory limits. */
  pod?: boolean;
  /** Exports at all (so spans are expected). */
  traced: boolean;
  /** How long the span count must stay still to count as flushed: longer than the exporter's schedule delay. */
  flushQuietMs: number;
  /** Saturation seconds, when not the default. */
  saturationS?: number;
  /** The OTLP protocol it exports with, when not gRPC: the counting sink and the collector speak both. */
  protocol?: 'grpc' | 'http/protobuf';
}


export const VARIANTS: Variant[] = [
  untraced('untraced', 'untraced (OTEL_SDK_DISABLED=true)', 'headline'),
  peer('peer', 'zero-code auto-instrumentation (peer) → counting sink', 'sink', 'headline'),
  traced('traced', 'traced → counting sink', 'sink', 'headline'),
  peer('peer-collector', 'zero-code auto-instrumentation (peer) → real collector', 'collector', 'collector'),
  traced('traced-collector', 'traced → real collector', 'collector', 'collector'),
  { ...traced('down', 'traced, collector down', 'none', 'collector'), flushQuietMs: 0, saturationS: settings.downS },
  { ...untraced('untraced-pod', 'untraced, in a pod-shaped cgroup', 'pod'), pod: true },
  { ...traced('traced-pod', 'traced → counting sink, in a pod-shaped cgroup', 'sink', 'pod'), pod: true },
  // The pod's worst case for memory: every span waits in the queue (issue 23: under 60% of the limit).
  { ...traced('down-pod', 'traced, collector down, in a pod-shaped cgroup', 'none', 'pod'), pod: true, flushQuietMs: 0, saturationS: settings.downS },
];

/** Our service with tracing off. */
function untraced(key: string, label: string, table: Variant['table']): Variant {
  return {
    key,
    label,
    spec: () => ({ nodeArgs: SERVICE_NODE_ARGS, cwd: ROOT, env: { OTEL_SDK_DISABLED: 'true' } }),
    exportTo: 'none',
    table,
    traced: false,
    flushQuietMs: 0,
  };
}

/** Our service as shipped, exporting to `exportTo`. */
function traced(key: string, label: string, exportTo: Variant['exportTo'], table: Variant['table']): Variant {
  return {
    key,
    label,
    spec: (endpoint) => ({ nodeArgs: SERVICE_NODE_ARGS, cwd: ROOT, env: { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint } }),
    exportTo,
    table,
    traced: true,
    flushQuietMs: 2_500, // well past our schedule delay (200 ms)
  };
}

/** The zero-code peer, exporting to the counting sink or the real collector. */
function peer(key: string, label: string, exportTo: 'sink' | 'collector', table: 'headline' | 'collector'): Variant {
  return {
    key,
    label,
    // The register hook starts NodeSDK from the environment; the second preload then turns
    // OTEL_SDK_DISABLED on for our own init only (see bench/peer-own-tracing-off.cjs).
    spec: (endpoint) => ({
      nodeArgs: ['--require', '@opentelemetry/auto-instrumentations-node/register', '--require', './bench/peer-own-tracing-off.cjs', 'dist/server.js'],
      cwd: ROOT,
      env: {
        OTEL_SERVICE_NAME: 'users-api',
        OTEL_TRACES_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
        OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
        OTEL_METRICS_EXPORTER: 'none',
        OTEL_LOGS_EXPORTER: 'none',
        OTEL_NODE_RESOURCE_DETECTORS: 'env,host,os,process,serviceinstance',
      },
    }),
    exportTo,
    table,
    traced: true,
    flushQuietMs: 6_500, // NodeSDK's default schedule delay is 5 s
  };
}

/**
 * Candidate changes, measured like `traced`: a JSON list of
 * { "key", "label", "dir"?: a copy of the project built into <dir>/dist, "env"?: extra variables,
 *   "nodeArgs"?: extra node flags, "pod"?: true to run it pod-shaped (in the pod table),
 *   "collector"?: true to export to the real collector (in its table),
 *   "collectorDown"?: true to export to a port where nothing listens, as down-pod does (the pod's worst case for memory) }.
 * An experiment with OTEL_SDK_DISABLED=true is an untraced one (for node flags, say, that
 * both sides would get). OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf exports to the sink over HTTP.
 */
export interface ExperimentSpec {
  key: string;
  label?: string;
  dir?: string;
  env?: Record<string, string>;
  nodeArgs?: string[];
  pod?: boolean;
  /** Export to the real collector (the second table) instead of the counting sink. */
  collector?: boolean;
  /** Export to a port where nothing listens, for as long as the collector-down variants saturate. */
  collectorDown?: boolean;
}

export function experimentVariants(file: string): Variant[] {
  const list = JSON.parse(readFileSync(file, 'utf8')) as ExperimentSpec[];
  return list.map((experiment) => {
    const dir = experiment.dir ? resolve(ROOT, experiment.dir) : ROOT;
    if (!existsSync(join(dir, 'dist/server.js'))) {
      throw new Error(`${file}: experiment "${experiment.key}" needs a built copy in ${dir} (no dist/server.js there); docs/performance.md says how to make one`);
    }
    const traced = experiment.env?.OTEL_SDK_DISABLED?.toLowerCase() !== 'true';
    return {
      key: experiment.key,
      label: experiment.label ?? experiment.key,
      spec: (endpoint: string) => ({
        nodeArgs: [...(experiment.nodeArgs ?? []), '--require', join(dir, 'dist/instrumentation.js'), join(dir, 'dist/server.js')],
        cwd: ROOT,
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, ...experiment.env },
      }),
      exportTo: !traced || experiment.collectorDown ? ('none' as const) : experiment.collector ? ('collector' as const) : ('sink' as const),
      table: experiment.pod ? ('pod' as const) : experiment.collector ? ('collector' as const) : ('headline' as const),
      pod: experiment.pod,
      traced,
      protocol: experiment.env?.OTEL_EXPORTER_OTLP_PROTOCOL === 'http/protobuf' ? ('http/protobuf' as const) : undefined,
      flushQuietMs: traced && !experiment.collectorDown ? 2_500 + Number(experiment.env?.OTEL_BSP_SCHEDULE_DELAY ?? 0) : 0,
      saturationS: experiment.collectorDown ? settings.downS : undefined,
    };
  });
}

/** Whether every trace is recorded (the default sampler, or always_on): only then is the count of spans to expect known. */
export function samplesEveryTrace(variant: Variant): boolean {
  const sampler = variant.spec('http://127.0.0.1:4317').env.OTEL_TRACES_SAMPLER?.trim().toLowerCase();
  return sampler === undefined || sampler === '' || sampler === 'always_on' || sampler === 'parentbased_always_on';
}
