import type * as SentryNode from '@sentry/node';

/**
 * Errors as Sentry issues, through the Sentry SDK, when SENTRY_DSN is set.
 * The SDK does no tracing of its own: OpenTelemetry owns the traces (they
 * reach Sentry through the collector), and openTelemetryIntegration stamps
 * each error with the active OpenTelemetry span, so the issue links to its trace.
 * Without a DSN the SDK is never loaded.
 */
let sentry: typeof SentryNode | undefined;
const reported = new WeakSet<Error>();

/**
 * `release` is <service.name>@<service.version> and `environment` the deployment
 * environment: the same pair collector/config.yaml (transform/sentry_environment_release)
 * puts on the spans and logs, so an issue, its trace and its logs line up in Sentry.
 */
export function initErrorReporting(dsn: string | undefined, service: { name: string; version: string; environment: string }): void {
  if (!dsn) return;
  // Loaded here, not imported at the top: a service without a DSN never loads it.
  sentry = require('@sentry/node') as typeof SentryNode;
  sentry.init({
    dsn,
    release: `${service.name}@${service.version}`,
    environment: service.environment,
    // No tracesSampleRate: Sentry's own tracing stays off; spans go through OTLP only.
    integrations: [sentry.openTelemetryIntegration()],
    // Our propagator (W3C trace context) already carries the trace to other services.
    tracePropagationTargets: [],
    // No personal data by default, as for the spans (collector/config.yaml,
    // transform/drop_personal_data): the SDK would otherwise attach the
    // caller's IP address, every request header and the query string to each issue.
    dataCollection: { userInfo: false, cookies: false, httpHeaders: false, urlQueryParams: false, httpBodies: [] },
  });
}

/**
 * An error nobody handled: becomes a Sentry issue when error reporting is on.
 * Errors the code recovers from stay on their span and in the exception log,
 * so that an issue always means something failed.
 */
export function reportError(error: Error): void {
  if (!sentry || reported.has(error)) return;
  reported.add(error);
  sentry.captureException(error);
}

/** Sends what is still queued, waiting at most `timeoutMs`; call at shutdown. */
export async function closeErrorReporting(timeoutMs: number): Promise<void> {
  await sentry?.close(timeoutMs);
}
