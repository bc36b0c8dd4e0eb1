// Tracing is already running when started with --require ./dist/instrumentation.js;
// this import hands over its shutdown (and, without --require, still starts it first).
import { service, shutdownTelemetry } from './instrumentation';
import type { AddressInfo } from 'node:net';
import type { ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { createApp } from './app';
import { PROBE_PATHS, loadConfig } from './config';
import { closeErrorReporting, initErrorReporting, reportError } from './error-reporting';
import { logger } from './logger';
import { closeStdout, traceRequests } from './telemetry';

/** How long the last spans, log records and Sentry events may take to leave at shutdown. */
const TELEMETRY_FLUSH_MS = 10_000;
/** The same after a crash: the process is in an unknown state, be quick. */
const CRASH_FLUSH_MS = 5_000;
/** How long the shutdown waits for the responses it cut short to close (and end their spans). */
const CONNECTIONS_CLOSE_MS = 1_000;
/** How long the last lines may wait for stdout's reader. */
const STDOUT_FLUSH_MS = 1_000;

const config = loadConfig();
initErrorReporting(config.sentryDsn, service);
let ready = true;

const app = createApp({
  downstreamUrl: config.downstreamUrl,
  isReady: () => ready,
  traceRequests: traceRequests({ untracedPaths: PROBE_PATHS, trustCaller: config.trustCaller }),
});
const server = app.listen(config.port, (error?: Error) => {
  if (error) {
    logger.fatal({ err: error }, `cannot listen on port ${config.port}`);
    void exit(1);
    return;
  }
  const { port } = server.address() as AddressInfo;
  logger.info(
    { port, service: service.name, sentry_sdk: config.sentryDsn !== undefined },
    'listening',
  );
});
// From here an error nobody handled is a crash (below), which closes the server; one
// thrown while starting, before it existed, ends the process as Node does: exit 1, the stack on stderr.
process.on('uncaughtException', (error, origin) => void crash(error, origin));
process.on('unhandledRejection', (reason) => void crash(reason, 'unhandledRejection'));

/*
 * Responses not closed yet. A request's span ends when its response closes
 * (even when its connection is cut), so the telemetry is flushed only once
 * this is empty: a span that ended after the flush would be neither sent
 * nor counted. Registered after the app's own listeners, so it empties last.
 */
const openResponses = new Set<ServerResponse>();
let whenAllClosed: (() => void) | undefined;
server.on('request', (_request, response: ServerResponse) => {
  openResponses.add(response);
  response.once('close', () => {
    openResponses.delete(response);
    if (openResponses.size === 0) whenAllClosed?.();
  });
});

/** Resolves once every response has closed, or after `timeoutMs`. */
function responsesClosed(timeoutMs: number): Promise<void> {
  if (openResponses.size === 0) return Promise.resolve();
  return Promise.race([new Promise<void>((resolve) => (whenAllClosed = resolve)), sleep(timeoutMs)]);
}

const SAME_SIGNAL_WITHIN_MS = 1_000;
let firstSignal: { signal: NodeJS.Signals; at: number } | undefined;

/**
 * Stop taking requests, let those in flight finish (within the grace
 * period, then CONNECTIONS_CLOSE_MS for the connections it cut), flush every
 * span, log record and error (within TELEMETRY_FLUSH_MS), exit 0. Nothing
 * here waits on stdout for longer than STDOUT_FLUSH_MS, so the whole shutdown
 * ends within `deadline_ms`, the sum, which the pod's
 * terminationGracePeriodSeconds must exceed. A second signal exits at once,
 * unless it is the first one again: a terminal's Ctrl-C under `npm start`
 * reaches the service from the terminal and from npm, which passes it on
 * (test/shutdown.test.mts, "Ctrl-C"): only a signal a second later means "now".
 */
async function shutdown(signal: NodeJS.Signals): Promise<void> {
  if (!ready) {
    if (signal === firstSignal?.signal && performance.now() - firstSignal.at < SAME_SIGNAL_WITHIN_MS) return;
    logger.warn({ signal }, 'second signal: exiting now');
    return exit(1);
  }
  ready = false;
  firstSignal = { signal, at: performance.now() };
  const deadlineMs = config.shutdownGraceMs + CONNECTIONS_CLOSE_MS + TELEMETRY_FLUSH_MS + STDOUT_FLUSH_MS;
  logger.info({ signal, deadline_ms: deadlineMs }, 'shutting down');
  // The hard deadline, whatever hangs (stderr: written at once, unlike the log lines).
  setTimeout(() => {
    process.stderr.write(`shutdown still not done after ${deadlineMs} ms: exiting\n`);
    process.exit(1);
  }, deadlineMs + 500).unref();

  const grace = setTimeout(() => {
    logger.warn({ grace_ms: config.shutdownGraceMs }, 'requests still running after the grace period: closing their connections');
    server.closeAllConnections();
  }, config.shutdownGraceMs);
  // Idle keep-alive connections would hold the server open until each client
  // drops them: close them now, and each busy one as soon as its answer is sent.
  const closeIdle = setInterval(() => server.closeIdleConnections(), 50);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  clearTimeout(grace);
  clearInterval(closeIdle);
  await responsesClosed(CONNECTIONS_CLOSE_MS);

  await Promise.all([closeErrorReporting(TELEMETRY_FLUSH_MS), shutdownTelemetry(TELEMETRY_FLUSH_MS)]);
  logger.info('stopped');
  await exit(0);
}

let crashed = false;

/**
 * An error nobody handled: one fatal line with its stack (and the trace ids
 * of the span it happened in), the error to Sentry when it is on, every
 * connection closed, the telemetry flushed within CRASH_FLUSH_MS, exit 1.
 * The connections close first: a request still running would end its spans
 * after the flush, where nothing sends or counts them.
 */
async function crash(reason: unknown, origin: string): Promise<void> {
  if (crashed) return;
  crashed = true;
  ready = false;
  const error = reason instanceof Error ? reason : new Error(`non-error thrown: ${String(reason)}`);
  logger.fatal({ err: error, origin }, `${origin === 'unhandledRejection' ? 'unhandled rejection' : 'uncaught exception'}: exiting`);
  reportError(error, { crashed: true });
  server.close();
  server.closeAllConnections();
  await responsesClosed(CONNECTIONS_CLOSE_MS);
  await Promise.all([closeErrorReporting(CRASH_FLUSH_MS), shutdownTelemetry(CRASH_FLUSH_MS)]);
  await exit(1);
}

/** Exits once the last lines are written, or STDOUT_FLUSH_MS later if nobody reads them. */
async function exit(code: number): Promise<never> {
  await closeStdout(STDOUT_FLUSH_MS);
  process.exit(code);
}

process.on('SIGTERM', (signal) => void shutdown(signal));
process.on('SIGINT', (signal) => void shutdown(signal));
