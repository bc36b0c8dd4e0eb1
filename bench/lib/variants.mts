import { join, resolve } from 'node:path';
import { readFileSync } from 'node:fs';
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
  /** Start a collector for it (otherwise nothing listens where it exports). */
  collector: boolean;
  /** Exports at all (so spans are expected). */
  traced: boolean;
  /** How long the span count must stay still to count as flushed: longer than the exporter's schedule delay. */
  flushQuietMs: number;
  /** Saturation seconds, when not the default. */
  saturationS?: number;
}


export const VARIANTS: Variant[] = [
  {
    key: 'untraced',
    label: 'untraced (OTEL_SDK_DISABLED=true)',
    spec: () => ({ nodeArgs: SERVICE_NODE_ARGS, cwd: ROOT, env: { OTEL_SDK_DISABLED: 'true' } }),
    collector: false,
    traced: false,
    flushQuietMs: 0,
  },
  {
    key: 'peer',
    label: 'zero-code auto-instrumentation (peer)',
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
    collector: true,
    traced: true,
    flushQuietMs: 6_500, // NodeSDK's default schedule delay is 5 s
  },
  {
    key: 'traced',
    label: 'traced → real collector',
    spec: (endpoint) => ({ nodeArgs: SERVICE_NODE_ARGS, cwd: ROOT, env: { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint } }),
    collector: true,
    traced: true,
    flushQuietMs: 2_500, // our schedule delay is 1 s
  },
  {
    key: 'down',
    label: 'traced, collector down',
    spec: (endpoint) => ({ nodeArgs: SERVICE_NODE_ARGS, cwd: ROOT, env: { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint } }),
    collector: false,
    traced: true,
    flushQuietMs: 0,
    saturationS: settings.downS,
  },
];

/**
 * Candidate changes, measured like `traced`: a JSON list of
 * { "key", "label", "dir"?: a copy of the project built into <dir>/dist, "env"?: extra variables,
 *   "nodeArgs"?: extra node flags }.
 */
export interface ExperimentSpec {
  key: string;
  label?: string;
  dir?: string;
  env?: Record<string, string>;
  nodeArgs?: string[];
}

export function experimentVariants(file: string): Variant[] {
  const list = JSON.parse(readFileSync(file, 'utf8')) as ExperimentSpec[];
  return list.map((experiment) => {
    const dir = experiment.dir ? resolve(ROOT, experiment.dir) : ROOT;
    return {
      key: experiment.key,
      label: experiment.label ?? experiment.key,
      spec: (endpoint: string) => ({
        nodeArgs: [...(experiment.nodeArgs ?? []), '--require', join(dir, 'dist/instrumentation.js'), join(dir, 'dist/server.js')],
        cwd: ROOT,
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, ...experiment.env },
      }),
      collector: true,
      traced: true,
      flushQuietMs: 2_500 + Number(experiment.env?.OTEL_BSP_SCHEDULE_DELAY ?? 0),
    };
  });
}
