import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The service's own settings, read once from the environment, validated,
 * typed. A bad value stops the process with one line that names the
 * variable. (The OTEL_* variables are telemetry's: the kit and the SDK read
 * them, and a bad one is only a warning, as the specification says.)
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
  /**
   * Where this copy runs (local, development, production...), when told:
   * the resource's deployment.environment.name and so the Sentry SDK's
   * environment, so errors, traces and logs in Sentry carry the same one.
   * Unset: deployment.environment.name from OTEL_RESOURCE_ATTRIBUTES, else
   * DEFAULT_ENVIRONMENT.
   */
  environment: string | undefined;
  /** The package version: service.version, unless OTEL_RESOURCE_ATTRIBUTES says otherwise. */
  version: string;
  /** False where the service faces the internet (see TraceRequestsOptions.trustCaller). */
  trustCaller: boolean;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** service.name when OTEL_SERVICE_NAME (or service.name in OTEL_RESOURCE_ATTRIBUTES) does not say. */
export const DEFAULT_SERVICE_NAME = 'users-api';
export const DEFAULT_ENVIRONMENT = 'local';
/** Health and readiness probes: answered, never traced. */
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
  const read = <T,>(name: string, parse: Parser<T>, fallback: T): T => {
    const raw = env[name]?.trim();
    if (raw === undefined || raw === '') return fallback; // blank counts as unset
    const parsed = parse(raw);
    if (parsed instanceof Invalid) throw new ConfigError(name, parsed.secret ? parsed.expected : `${parsed.expected}, got "${raw}"`);
    return parsed;
  };
  const port = read('PORT', wholeNumber(1, 65535), 8080);
  return {
    port,
    downstreamUrl: read('DOWNSTREAM_URL', httpUrl, `http://127.0.0.1:${port}`),
    shutdownGraceMs: read('SHUTDOWN_GRACE_MS', wholeNumber(0, 600_000), 10_000),
    logLevel: read('LOG_LEVEL', oneOf(LOG_LEVELS), 'info'),
    sentryDsn: read('SENTRY_DSN', sentryDsn, undefined),
    environment: read('DEPLOYMENT_ENVIRONMENT', environmentName, undefined),
    version: packageVersion(),
    trustCaller: read('TRUST_INCOMING_TRACE_CONTEXT', trueOrFalse, true),
  };
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

function wholeNumber(min: number, max: number): Parser<number> {
  return (raw) => {
    const parsed = /^\d+$/.test(raw) ? Number(raw) : NaN;
    return parsed >= min && parsed <= max ? parsed : new Invalid(`must be a whole number from ${min} to ${max}`);
  };
}

/** Only "true" or "false", in any case. */
const trueOrFalse: Parser<boolean> = (raw) => {
  const lower = raw.toLowerCase();
  return lower === 'true' ? true : lower === 'false' ? false : new Invalid('must be true or false');
};

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

/**
 * Sentry's rules for an environment name (docs.sentry.io, "Environments"): no
 * slash, no whitespace, at most 64 characters, not the string "None"; nor "." or "..".
 */
const environmentName: Parser<string> = (raw) =>
  /^[^\s/]{1,64}$/.test(raw) && !['.', '..', 'None'].includes(raw)
    ? raw
    : new Invalid('must be a name without slashes or spaces, at most 64 characters, not "None" (such as production)');

/** A DSN as Sentry's SDKs read it (@sentry/core dsnFromString): a self-hosted Sentry may serve under a path, before the project id. */
const sentryDsn: Parser<string | undefined> = (raw) => {
  const dsn = URL.canParse(raw) ? new URL(raw) : undefined;
  if (!dsn || !/^https?:$/.test(dsn.protocol) || !dsn.username || !/\/\d+$/.test(dsn.pathname)) {
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
