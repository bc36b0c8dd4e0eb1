import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Everything the service reads from its environment, read once, validated,
 * typed. Two policies:
 * - the service's own settings (PORT, DOWNSTREAM_URL, ...): a bad value stops
 *   the process with one line that names the variable;
 * - the OTEL_* variables follow the OpenTelemetry specification
 *   (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/):
 *   a bad or unknown value is a warning, and the default is used. Telemetry
 *   never takes the service down, and a variable injected cluster-wide (the
 *   OpenTelemetry Operator sets several) must not crash-loop every pod.
 */
export interface Config {
  port: number;
  /** Base URL that /chain/:id calls; by default the service calls itself. */
  downstreamUrl: string;
  /** How long in-flight requests may take to finish after SIGTERM. */
  shutdownGraceMs: number;
  logLevel: LogLevel;
  /** When set, errors also go to Sentry as issues through the Sentry SDK; unset, that SDK is never loaded. */
  sentryDsn: string | undefined;
  /** Who is speaking, and where: on every span, log record and Sentry issue. */
  service: ServiceIdentity;
  tracing: TracingConfig;
  logExport: LogExportConfig;
  /** OTEL_* values that were set but unusable, each replaced by its default: logged once the logger exists. */
  warnings: ConfigWarning[];
}

export interface ServiceIdentity {
  name: string;
  version: string;
  /**
   * Where this copy runs (DEPLOYMENT_ENVIRONMENT: local, development, production...): the
   * resource's deployment.environment.name and the Sentry SDK's environment, so errors,
   * traces and logs in Sentry carry the same one.
   */
  environment: string;
}

/** How a batch processor queues and sends, for spans (OTEL_BSP_*) and log records (OTEL_BLRP_*) alike. */
export interface BatchConfig {
  maxQueueSize: number;
  maxExportBatchSize: number;
  scheduledDelayMillis: number;
  exportTimeoutMillis: number;
}

export const OTLP_PROTOCOLS = ['grpc', 'http/protobuf', 'http/json'] as const;
export type OtlpProtocol = (typeof OTLP_PROTOCOLS)[number];

/** Where OTLP goes and how. The endpoint always has its scheme (http:// plaintext, https:// TLS); over HTTP it is the signal's full URL. */
export interface OtlpTarget {
  protocol: OtlpProtocol;
  endpoint: string;
}

/** What spans and log records have in common. */
export interface SignalExportConfig {
  /** False with OTEL_SDK_DISABLED=true: decided once, the same for both signals. */
  enabled: boolean;
  exporter: 'otlp' | 'console' | 'none';
  otlp: OtlpTarget;
  batch: BatchConfig;
}

export interface TracingConfig extends SignalExportConfig {
  sampler: SamplerName;
  /** Ratio for the traceidratio samplers, 0..1. */
  samplerRatio: number;
  propagators: PropagatorName[];
  /**
   * False where the service faces the internet: an incoming traceparent then
   * starts a new trace that links to it (our sampler decides), and incoming
   * baggage is dropped. Outgoing calls still carry our context.
   */
  trustIncomingContext: boolean;
  /** Longest attribute value kept; longer ones are truncated, so no request can grow a span without bound. */
  attributeValueLengthLimit: number;
  /** Health and readiness probes: answered, never traced. */
  untracedPaths: string[];
  /** How much the SDK says about itself (OTEL_LOG_LEVEL). */
  diagLogLevel: DiagLevel;
}

/** The log lines also go out as OTLP log records, in the trace of the request that wrote them. */
export type LogExportConfig = SignalExportConfig;

/** An OTEL_* variable whose value was not used. */
export interface ConfigWarning {
  variable: string;
  value: string;
  /** What the service uses instead: the default, or the variable that now decides. */
  used: string;
  message: string;
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

export const PROPAGATORS = ['tracecontext', 'baggage', 'b3', 'b3multi'] as const;
export type PropagatorName = (typeof PROPAGATORS)[number];

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const DIAG_LEVELS = ['none', 'error', 'warn', 'info', 'debug', 'verbose', 'all'] as const;
export type DiagLevel = (typeof DIAG_LEVELS)[number];

const EXPORTERS = ['otlp', 'console', 'none'] as const;

/** The collector's Service in the cluster: gRPC on 4317 (this service's default), OTLP/HTTP on 4318. */
export const DEFAULT_OTLP_GRPC_ENDPOINT = 'http://otel-collector.observability.svc.cluster.local:4317';
export const DEFAULT_OTLP_HTTP_ENDPOINT = 'http://otel-collector.observability.svc.cluster.local:4318';
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
  const read = new EnvironmentReader(env);
  const port = read.own('PORT', wholeNumber(1, 65535), 8080);
  const enabled = read.otel('OTEL_SDK_DISABLED', trueOrFalse, false) === false;
  return {
    port,
    downstreamUrl: read.own('DOWNSTREAM_URL', httpUrl, `http://127.0.0.1:${port}`),
    shutdownGraceMs: read.own('SHUTDOWN_GRACE_MS', wholeNumber(0, 600_000), 10_000),
    logLevel: read.own('LOG_LEVEL', oneOf(LOG_LEVELS), 'info'),
    sentryDsn: read.own('SENTRY_DSN', sentryDsn, undefined),
    service: {
      name: read.otel('OTEL_SERVICE_NAME', anyText, DEFAULT_SERVICE_NAME),
      version: packageVersion(),
      environment: read.own('DEPLOYMENT_ENVIRONMENT', environmentName, 'local'),
    },
    tracing: {
      enabled,
      exporter: read.otel('OTEL_TRACES_EXPORTER', oneOf(EXPORTERS), 'otlp'),
      otlp: otlpTarget(read, 'traces'),
      // Measured (bench/): a batch leaves every 200 ms, so at a steady rate batches stay
      // small and p99 near the untraced service's. At saturation one export is in flight
      // at a time, and a busy collector takes each one in about the same time whatever its
      // size: batches of up to 2048 spans (~0.6 MB, under gRPC's 4 MiB) lost 0.6–0.7% of
      // the spans where the specification's 512 lost 2.8–6.6%, and a queue of 16384 spans
      // (~30 MB at most) rode out the rest where 8192 lost 0.1–0.5%. It also carries the
      // service through a collector that is slow or away for a few seconds.
      batch: batchConfig(read, 'OTEL_BSP', { maxQueueSize: 16_384, maxExportBatchSize: 2048, scheduledDelayMillis: 200, exportTimeoutMillis: 60_000 }),
      sampler: read.otel('OTEL_TRACES_SAMPLER', oneOf(SAMPLERS), 'parentbased_always_on'),
      samplerRatio: read.otel('OTEL_TRACES_SAMPLER_ARG', ratio, 1),
      propagators: read.otel('OTEL_PROPAGATORS', propagatorList, ['tracecontext', 'baggage']),
      trustIncomingContext: read.own('TRUST_INCOMING_TRACE_CONTEXT', trueOrFalse, true),
      attributeValueLengthLimit: read.otel(
        'OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT',
        wholeNumber(1, 1_000_000),
        read.otel('OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT', wholeNumber(1, 1_000_000), 4096),
      ),
      untracedPaths: PROBE_PATHS,
      diagLogLevel: read.otel('OTEL_LOG_LEVEL', oneOf(DIAG_LEVELS), 'warn'),
    },
    logExport: {
      enabled,
      exporter: read.otel('OTEL_LOGS_EXPORTER', oneOf(EXPORTERS), 'otlp'),
      otlp: otlpTarget(read, 'logs'),
      batch: batchConfig(read, 'OTEL_BLRP', { maxQueueSize: 2048, maxExportBatchSize: 512, scheduledDelayMillis: 1000, exportTimeoutMillis: 60_000 }),
    },
    warnings: read.warnings,
  };
}

/**
 * The signal's own variables win over the shared ones. Over gRPC the
 * endpoint is used as given; over HTTP the shared endpoint is a base to which
 * the signal's path (/v1/traces, /v1/logs) is added, while the signal's own
 * endpoint is the full URL, as the specification says.
 */
function otlpTarget(read: EnvironmentReader, signal: 'traces' | 'logs'): OtlpTarget {
  const SIGNAL = signal.toUpperCase();
  const protocol = read.otel(`OTEL_EXPORTER_OTLP_${SIGNAL}_PROTOCOL`, oneOf(OTLP_PROTOCOLS), read.otel('OTEL_EXPORTER_OTLP_PROTOCOL', oneOf(OTLP_PROTOCOLS), 'grpc'));
  const base = read.otel('OTEL_EXPORTER_OTLP_ENDPOINT', httpUrl, protocol === 'grpc' ? DEFAULT_OTLP_GRPC_ENDPOINT : DEFAULT_OTLP_HTTP_ENDPOINT);
  const endpoint = read.otel(`OTEL_EXPORTER_OTLP_${SIGNAL}_ENDPOINT`, httpUrl, protocol === 'grpc' ? base : `${base}/v1/${signal}`);
  return { protocol, endpoint };
}

function batchConfig(read: EnvironmentReader, prefix: 'OTEL_BSP' | 'OTEL_BLRP', defaults: BatchConfig): BatchConfig {
  const maxQueueSize = read.otel(`${prefix}_MAX_QUEUE_SIZE`, wholeNumber(1, 1_000_000), defaults.maxQueueSize);
  return {
    maxQueueSize,
    maxExportBatchSize: read.otel(`${prefix}_MAX_EXPORT_BATCH_SIZE`, wholeNumber(1, maxQueueSize), Math.min(defaults.maxExportBatchSize, maxQueueSize)),
    scheduledDelayMillis: read.otel(`${prefix}_SCHEDULE_DELAY`, wholeNumber(0, 3_600_000), defaults.scheduledDelayMillis),
    exportTimeoutMillis: read.otel(`${prefix}_EXPORT_TIMEOUT`, wholeNumber(1, 3_600_000), defaults.exportTimeoutMillis),
  };
}

/**
 * Reads variables under the two policies. (@opentelemetry/core's
 * getStringFromEnv and friends follow the same rules for blanks and
 * booleans, but read only process.env and warn through the diagnostic
 * logger, which is not set up yet: its level is one of these variables.)
 */
class EnvironmentReader {
  readonly warnings: ConfigWarning[] = [];

  constructor(private readonly env: Env) {}

  /** The service's own settings: a bad value stops the process. */
  own<T>(name: string, parse: Parser<T>, fallback: T): T {
    const raw = this.raw(name);
    if (raw === undefined) return fallback;
    const parsed = parse(raw);
    if (parsed instanceof Invalid) throw new ConfigError(name, parsed.secret ? parsed.expected : `${parsed.expected}, got "${raw}"`);
    return parsed;
  }

  /** OTEL_* variables: a bad value is one warning, and the default is used. */
  otel<T>(name: string, parse: Parser<T>, fallback: T): T {
    const raw = this.raw(name);
    if (raw === undefined) return fallback;
    const parsed = parse(raw);
    if (!(parsed instanceof Invalid)) return parsed;
    if (!this.warnings.some((warning) => warning.variable === name)) {
      const used = Array.isArray(fallback) ? fallback.join(',') : String(fallback);
      this.warnings.push({ variable: name, value: raw, used, message: `ignoring ${name}="${raw}": it ${parsed.expected}; using ${used}` });
    }
    return fallback;
  }

  /** An unset or blank variable counts as unset, as the specification says. */
  private raw(name: string): string | undefined {
    const raw = this.env[name]?.trim();
    return raw === undefined || raw === '' ? undefined : raw;
  }
}

/** Why a value was refused, as "<what it> must ...". */
class Invalid {
  constructor(
    readonly expected: string,
    /** Not repeated in the error line. */
    readonly secret = false,
  ) {}
}
type Parser<T> = (raw: string) => T | Invalid;

const anyText: Parser<string> = (raw) => raw;

function wholeNumber(min: number, max: number): Parser<number> {
  return (raw) => {
    const parsed = /^\d+$/.test(raw) ? Number(raw) : NaN;
    return parsed >= min && parsed <= max ? parsed : new Invalid(`must be a whole number from ${min} to ${max}`);
  };
}

const ratio: Parser<number> = (raw) => {
  const parsed = Number(raw);
  return Number.isFinite(parsed) && parsed >= 0 && parsed <= 1 ? parsed : new Invalid('must be a number from 0 to 1');
};

/** Only "true" is true, in any case; anything but "true" or "false" is refused. */
const trueOrFalse: Parser<boolean> = (raw) => {
  const lower = raw.toLowerCase();
  return lower === 'true' ? true : lower === 'false' ? false : new Invalid('must be true or false');
};

/** Enumerated values are read case-insensitively, as the specification asks. */
function oneOf<T extends string>(allowed: readonly T[]): Parser<T> {
  return (raw) => {
    const lower = raw.toLowerCase();
    return (allowed as readonly string[]).includes(lower) ? (lower as T) : new Invalid(`must be one of ${allowed.join(', ')}`);
  };
}

const httpUrl: Parser<string> = (raw) => {
  const url = URL.canParse(raw) ? new URL(raw) : undefined;
  if (url?.protocol !== 'http:' && url?.protocol !== 'https:') {
    return new Invalid('must be a URL that starts with http:// (plaintext) or https:// (TLS)');
  }
  return raw.replace(/\/+$/, '');
};

/** A comma-separated list; "none" alone means no propagation. */
const propagatorList: Parser<PropagatorName[]> = (raw) => {
  const names = raw.toLowerCase().split(',').map((name) => name.trim()).filter(Boolean);
  if (names.length === 1 && names[0] === 'none') return [];
  const known = names.every((name) => (PROPAGATORS as readonly string[]).includes(name));
  return known && names.length > 0 ? [...new Set(names)] as PropagatorName[] : new Invalid(`must list some of ${PROPAGATORS.join(', ')}, or be none`);
};

/** Sentry's rules for an environment name: no slash, no whitespace, at most 64 characters, not "." or "..". */
const environmentName: Parser<string> = (raw) =>
  /^[^\s/]{1,64}$/.test(raw) && raw !== '.' && raw !== '..'
    ? raw
    : new Invalid('must be a name without slashes or spaces, at most 64 characters (such as production)');

const sentryDsn: Parser<string | undefined> = (raw) => {
  const dsn = URL.canParse(raw) ? new URL(raw) : undefined;
  if (!dsn || !/^https?:$/.test(dsn.protocol) || !dsn.username || !/^\/\d+$/.test(dsn.pathname)) {
    return new Invalid('must look like https://<public key>@o<org>.ingest.sentry.io/<project id> (Project Settings > Client Keys)', true);
  }
  return raw;
};

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

let loaded: Config | undefined;

/**
 * The process's configuration, parsed on first use. A bad value of the
 * service's own ends the process here, before anything listens or exports.
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
