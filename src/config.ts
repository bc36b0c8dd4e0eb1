import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Everything the service reads from its environment, read once, validated,
 * typed. Bad values stop the process with one line that names the variable.
 * The OTEL_* variables follow the OpenTelemetry specification
 * (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/).
 */
export interface Config {
  port: number;
  /** Base URL that /chain/:id calls; by default the service calls itself. */
  downstreamUrl: string;
  /** How long in-flight requests may take to finish after SIGTERM. */
  shutdownGraceMs: number;
  logLevel: LogLevel;
  tracing: TracingConfig;
  logExport: LogExportConfig;
  /** When set, errors also go to Sentry as issues through the Sentry SDK; unset, that SDK is never loaded. */
  sentryDsn: string | undefined;
}

export interface TracingConfig {
  enabled: boolean;
  serviceName: string;
  serviceVersion: string;
  exporter: 'otlp' | 'console' | 'none';
  /** OTLP gRPC endpoint, always with its scheme: http:// is plaintext, https:// is TLS. */
  endpoint: string;
  sampler: SamplerName;
  /** Ratio for the traceidratio samplers, 0..1. */
  samplerRatio: number;
  propagators: Array<'tracecontext' | 'baggage'>;
  batch: {
    maxQueueSize: number;
    maxExportBatchSize: number;
    scheduledDelayMillis: number;
    exportTimeoutMillis: number;
  };
  /** Longest attribute value kept; longer ones are truncated, so no request can grow a span without bound. */
  attributeValueLengthLimit: number;
  /** Health and readiness probes: answered, never traced. */
  untracedPaths: string[];
  /** How much the SDK says about itself (OTEL_LOG_LEVEL). */
  diagLogLevel: DiagLevel;
}

/** The log lines also go out as OTLP log records, in the trace of the request that wrote them. */
export interface LogExportConfig {
  enabled: boolean;
  exporter: 'otlp' | 'console' | 'none';
  endpoint: string;
  batch: {
    maxQueueSize: number;
    maxExportBatchSize: number;
    scheduledDelayMillis: number;
    exportTimeoutMillis: number;
  };
}

export const SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;
export type SamplerName = (typeof SAMPLERS)[number];

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const DIAG_LEVELS = ['none', 'error', 'warn', 'info', 'debug', 'verbose', 'all'] as const;
export type DiagLevel = (typeof DIAG_LEVELS)[number];

export const DEFAULT_OTLP_ENDPOINT = 'http://otel-collector.observability.svc.cluster.local:4317';
export const DEFAULT_SERVICE_NAME = 'users-api';
export const PROBE_PATHS = ['/healthz', '/readyz'];

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`${variable} ${problem}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

export function parseConfig(env: Env): Config {
  const port = integer(env, 'PORT', 8080, 1, 65535);
  return {
    port,
    downstreamUrl: httpUrl(env, 'DOWNSTREAM_URL', `http://127.0.0.1:${port}`),
    shutdownGraceMs: integer(env, 'SHUTDOWN_GRACE_MS', 10_000, 0, 600_000),
    logLevel: oneOf(env, 'LOG_LEVEL', LOG_LEVELS, 'info'),
    tracing: parseTracingConfig(env),
    logExport: parseLogExportConfig(env),
    sentryDsn: sentryDsn(env),
  };
}

function sdkEnabled(env: Env): boolean {
  return boolean(env, 'OTEL_SDK_DISABLED', false) === false;
}

function parseLogExportConfig(env: Env): LogExportConfig {
  const maxQueueSize = integer(env, 'OTEL_BLRP_MAX_QUEUE_SIZE', 2048, 1, 1_000_000);
  return {
    enabled: sdkEnabled(env),
    exporter: oneOf(env, 'OTEL_LOGS_EXPORTER', ['otlp', 'console', 'none'] as const, 'otlp'),
    endpoint: otlpEndpoint(env, 'LOGS'),
    batch: {
      maxQueueSize,
      maxExportBatchSize: integer(env, 'OTEL_BLRP_MAX_EXPORT_BATCH_SIZE', Math.min(512, maxQueueSize), 1, maxQueueSize),
      scheduledDelayMillis: integer(env, 'OTEL_BLRP_SCHEDULE_DELAY', 1000, 0, 3_600_000),
      exportTimeoutMillis: integer(env, 'OTEL_BLRP_EXPORT_TIMEOUT', 60_000, 1, 3_600_000),
    },
  };
}

/** The signal's own variable wins over the shared one; gRPC takes either as is, with its scheme. */
function otlpEndpoint(env: Env, signal: 'TRACES' | 'LOGS'): string {
  const protocolVariable = value(env, `OTEL_EXPORTER_OTLP_${signal}_PROTOCOL`) ? `OTEL_EXPORTER_OTLP_${signal}_PROTOCOL` : 'OTEL_EXPORTER_OTLP_PROTOCOL';
  const protocol = value(env, protocolVariable);
  if (protocol !== undefined && protocol !== 'grpc') {
    throw new ConfigError(protocolVariable, `is "${protocol}", but this service exports over OTLP gRPC only: unset it or set it to "grpc"`);
  }
  const endpointVariable = value(env, `OTEL_EXPORTER_OTLP_${signal}_ENDPOINT`) ? `OTEL_EXPORTER_OTLP_${signal}_ENDPOINT` : 'OTEL_EXPORTER_OTLP_ENDPOINT';
  return httpUrl(env, endpointVariable, DEFAULT_OTLP_ENDPOINT);
}

function sentryDsn(env: Env): string | undefined {
  const raw = value(env, 'SENTRY_DSN');
  if (raw === undefined) return undefined;
  const dsn = URL.canParse(raw) ? new URL(raw) : undefined;
  if (!dsn || !/^https?:$/.test(dsn.protocol) || !dsn.username || !/^\/\d+$/.test(dsn.pathname)) {
    throw new ConfigError('SENTRY_DSN', 'must look like https://<public key>@o<org>.ingest.sentry.io/<project id> (Project Settings > Client Keys)');
  }
  return raw;
}

function parseTracingConfig(env: Env): TracingConfig {
  // Measured (bench/): small batches sent often keep the export's bursts short, which
  // keeps p99 near the untraced service's; the deep queue rides out a slow collector.
  const maxQueueSize = integer(env, 'OTEL_BSP_MAX_QUEUE_SIZE', 8192, 1, 1_000_000);
  return {
    enabled: sdkEnabled(env),
    serviceName: value(env, 'OTEL_SERVICE_NAME') ?? DEFAULT_SERVICE_NAME,
    serviceVersion: packageVersion(),
    exporter: oneOf(env, 'OTEL_TRACES_EXPORTER', ['otlp', 'console', 'none'] as const, 'otlp'),
    endpoint: otlpEndpoint(env, 'TRACES'),
    sampler: oneOf(env, 'OTEL_TRACES_SAMPLER', SAMPLERS, 'parentbased_always_on'),
    samplerRatio: ratio(env, 'OTEL_TRACES_SAMPLER_ARG', 1),
    propagators: propagators(env),
    batch: {
      maxQueueSize,
      maxExportBatchSize: integer(env, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', Math.min(256, maxQueueSize), 1, maxQueueSize),
      scheduledDelayMillis: integer(env, 'OTEL_BSP_SCHEDULE_DELAY', 200, 0, 3_600_000),
      exportTimeoutMillis: integer(env, 'OTEL_BSP_EXPORT_TIMEOUT', 60_000, 1, 3_600_000),
    },
    attributeValueLengthLimit: integer(
      env,
      value(env, 'OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT') ? 'OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT' : 'OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT',
      4096,
      1,
      1_000_000,
    ),
    untracedPaths: PROBE_PATHS,
    diagLogLevel: oneOf(env, 'OTEL_LOG_LEVEL', DIAG_LEVELS, 'warn'),
  };
}

/** An unset or blank variable counts as unset, as the specification says. */
function value(env: Env, name: string): string | undefined {
  const raw = env[name]?.trim();
  return raw === undefined || raw === '' ? undefined : raw;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = value(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `must be a whole number, got "${raw}"`);
  const parsed = Number(raw);
  if (parsed < min || parsed > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${raw}`);
  return parsed;
}

function ratio(env: Env, name: string, fallback: number): number {
  const raw = value(env, name);
  if (raw === undefined) return fallback;
  const parsed = Number(raw);
  if (!Number.isFinite(parsed) || parsed < 0 || parsed > 1) {
    throw new ConfigError(name, `must be a number from 0 to 1, got "${raw}"`);
  }
  return parsed;
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = value(env, name)?.toLowerCase();
  if (raw === undefined) return fallback;
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  throw new ConfigError(name, `must be "true" or "false", got "${raw}"`);
}

/** Enumerated values are read case-insensitively, as the specification asks. */
function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = value(env, name)?.toLowerCase();
  if (raw === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(name, `must be one of ${allowed.join(', ')}, got "${raw}"`);
  }
  return raw as T;
}

function httpUrl(env: Env, name: string, fallback: string): string {
  const raw = value(env, name) ?? fallback;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(name, `must be a URL such as http://host:port, got "${raw}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(name, `must start with http:// (plaintext) or https:// (TLS), got "${raw}"`);
  }
  return raw.replace(/\/+$/, '');
}

function propagators(env: Env): TracingConfig['propagators'] {
  const raw = value(env, 'OTEL_PROPAGATORS')?.toLowerCase() ?? 'tracecontext,baggage';
  const names = raw.split(',').map((name) => name.trim()).filter(Boolean);
  if (names.includes('none')) return [];
  for (const name of names) {
    if (name !== 'tracecontext' && name !== 'baggage') {
      throw new ConfigError('OTEL_PROPAGATORS', `supports tracecontext, baggage and none, got "${name}"`);
    }
  }
  return names as TracingConfig['propagators'];
}

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

let loaded: Config | undefined;

/**
 * The process's configuration, parsed on first use. A bad value ends the
 * process here, before anything listens or exports.
 */
export function loadConfig(): Config {
  if (loaded) return loaded;
  try {
    loaded = parseConfig(process.env);
    return loaded;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`configuration error: ${error.message}\n`);
    process.exit(1);
  }
}
