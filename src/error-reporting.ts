import { hostname } from 'node:os';
import { TraceFlags, isSpanContextValid, trace, type SpanContext } from '@opentelemetry/api';
import type * as SentryCore from '@sentry/core';
import type * as SentryServer from '@sentry/core/server';

/**
 * Errors as Sentry issues, when SENTRY_DSN is set. Errors only: OpenTelemetry
 * owns the traces (they reach Sentry through the collector), and each error is
 * stamped with the active OpenTelemetry span, so the issue links to its trace.
 *
 * Built on @sentry/core, the base every Sentry JavaScript SDK shares, rather
 * than @sentry/node: that one brings its own tracing, instrumentations and
 * bundler plugins (70 MB of the image: docs/collector.md, "Image sizes") that an errors-only setup never runs.
 * What @sentry/node would add here: its Node stack parser and HTTP transport,
 * and default integrations that gather context (the source lines around each
 * frame, Node's and the OS's versions, the loaded modules), drop repeats and
 * filter. Here the parser comes from @sentry/core/server, the transport is
 * Node's fetch, and linkedErrors (the `cause` chain) is the one integration;
 * source lines come from source maps uploaded to Sentry (docs/sentry.md,
 * "Stack traces").
 * Only the errors handed to reportError are sent: app.ts's error handler hands
 * it the requests' errors nobody handled, server.ts the uncaught exceptions.
 * Without a DSN the SDK is never loaded.
 */
let sentry: typeof SentryCore | undefined;
const reported = new WeakSet<Error>();

/**
 * `release` is <service.name>@<service.version> and `environment` the deployment
 * environment: the same pair collector/config.yaml (transform/sentry_environment_release)
 * puts on the spans and logs, so an issue, its trace and its logs line up in Sentry.
 */
export function initErrorReporting(dsn: string | undefined, service: { name: string; version: string; environment: string }): void {
  if (!dsn) return;
  // Loaded here, not imported at the top: a service without a DSN never loads it.
  sentry = require('@sentry/core') as typeof SentryCore;
  const { ServerRuntimeClient, nodeStackLineParser } = require('@sentry/core/server') as typeof SentryServer;
  const options: SentryServer.ServerRuntimeClientOptions = {
    dsn,
    release: `${service.name}@${service.version}`,
    environment: service.environment,
    platform: 'node',
    runtime: { name: 'node', version: process.version },
    serverName: hostname(), // the pod's name in Kubernetes
    // Errors with their `cause` chain; nothing else is collected: no request
    // data integration, so no IP address, header or query string (no personal
    // data by default, as for the spans: collector/config.yaml, transform/drop_personal_data).
    integrations: [sentry.linkedErrorsIntegration()],
    stackParser: sentry.createStackParser(nodeStackLineParser()),
    transport: (options) => sentry!.createTransport(options, (request) => postEnvelope(options.url, request.body)),
    // No tracesSampleRate, no span streaming: Sentry's own tracing stays off.
    traceLifecycle: 'static',
  };
  // The SDK's name and version on every envelope and event, as Sentry's own SDKs set them
  // (Relay marks them missing otherwise): this one is @sentry/core on Node.
  sentry.applySdkMetadata(options, 'core');
  const client = new ServerRuntimeClient(options);
  sentry.setCurrentClient(client);
  client.init();
  // What @sentry/node's openTelemetryIntegration does: each event carries the active OpenTelemetry span.
  sentry.registerExternalPropagationContext(() => {
    const context = activeSpanContext();
    return context && { traceId: context.traceId, spanId: context.spanId };
  });
  // ...and its envelope the trace's dynamic sampling context (the `trace` header), built by
  // @sentry/core from the client's DSN, release and environment, for the OpenTelemetry trace.
  client.on('preprocessEvent', (event) => {
    const context = activeSpanContext();
    if (!context) return;
    const dsc = { ...sentry!.getDynamicSamplingContextFromClient(context.traceId, client), sampled: String((context.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED) };
    event.sdkProcessingMetadata = { ...event.sdkProcessingMetadata, dynamicSamplingContext: dsc };
  });
}

function activeSpanContext(): SpanContext | undefined {
  const context = trace.getActiveSpan()?.spanContext();
  return context && isSpanContextValid(context) ? context : undefined;
}

/** One envelope to Sentry. Node's fetch is not traced by the HTTP instrumentation, so this makes no span. */
async function postEnvelope(url: string, body: string | Uint8Array): Promise<SentryCore.TransportMakeRequestResponse> {
  const response = await fetch(url, { method: 'POST', body: typeof body === 'string' ? body : new Uint8Array(body), signal: AbortSignal.timeout(10_000) });
  return {
    statusCode: response.status,
    headers: { 'retry-after': response.headers.get('retry-after'), 'x-sentry-rate-limits': response.headers.get('x-sentry-rate-limits') },
  };
}

/**
 * An error nobody handled: becomes a Sentry issue when error reporting is on.
 * Errors the code recovers from stay on their span and in the exception log,
 * so that an issue always means something failed.
 */
export function reportError(error: Error, where: { request?: FailedRequest; crashed?: boolean } = {}): void {
  if (!sentry || reported.has(error)) return;
  reported.add(error);
  const { request, crashed = false } = where;
  sentry.withScope((scope) => {
    if (request) scope.addEventProcessor((event) => ({ ...event, request }));
    sentry!.captureException(error, { mechanism: { type: crashed ? 'onuncaughtexception' : 'generic', handled: !crashed } });
  });
}

/** The request an error failed, as the issue shows it: no query string, no headers, no caller address (no personal data). */
export interface FailedRequest {
  method: string;
  url: string;
}

/** Sends what is still queued, waiting at most `timeoutMs`; call at shutdown. */
export async function closeErrorReporting(timeoutMs: number): Promise<void> {
  await sentry?.close(timeoutMs);
}
