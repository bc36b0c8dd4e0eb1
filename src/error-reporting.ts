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

export function initErrorReporting(dsn: string | undefined, release: string): void {
  if (!dsn) return;
  // Loaded here, not imported at the top: a service without a DSN never loads it.
  sentry = require('@sentry/node') as typeof SentryNode;
  sentry.init({
    dsn,
    release,
    // No tracesSampleRate: Sentry's own tracing stays off; spans go through OTLP only.
    integrations: [sentry.openTelemetryIntegration()],
    // Our propagator (W3C trace context) already carries the trace to other services.
    tracePropagationTargets: [],
  });
}

/** An unexpected error: becomes a Sentry issue when error reporting is on. */
export function reportError(error: Error): void {
  if (!sentry || reported.has(error)) return;
  reported.add(error);
  sentry.captureException(error);
}

/** Sends what is still queued, waiting at most `timeoutMs`; call at shutdown. */
export async function closeErrorReporting(timeoutMs: number): Promise<void> {
  await sentry?.close(timeoutMs);
}
