// Tracing is already running when started with --require ./dist/instrumentation.js;
// this import hands over its shutdown (and, without --require, still starts it first).
import { shutdownTelemetry } from './instrumentation';
import type { AddressInfo } from 'node:net';
import { createApp } from './app';
import { loadConfig } from './config';
import { closeErrorReporting, initErrorReporting, reportError } from './error-reporting';
import { logger } from './logger';
import { traceRequests } from './server-spans';
import { closeStdout } from './stdout';

/** How long the last spans, log records and Sentry events may take to leave at shutdown. */
const TELEMETRY_FLUSH_MS = 10_000;
/** The same after a crash: the process is in an unknown state, be quick. */
const CRASH_FLUSH_MS = 5_000;
/** How long the last lines may wait for stdout's reader. */
const STDOUT_FLUSH_MS = 1_000;

const config = loadConfig();
process.on('uncaughtException', (error, origin) => void crash(error, origin));
process.on('unhandledRejection', (reason) => void crash(reason, 'unhandledRejection'));
initErrorReporting(config.sentryDsn, config.service);
let ready = true;

const app = createApp({
  downstreamUrl: config.downstreamUrl,
  isReady: () => ready,
  traceRequests: config.tracing.enabled ? traceRequests(config.tracing.untracedPaths) : undefined,
});
const server = app.listen(config.port, (error?: Error) => {
  if (error) {
    logger.fatal({ err: error }, `cannot listen on port ${config.port}`);
    void exit(1);
    return;
  }
  const { port } = server.address() as AddressInfo;
  logger.info(
    { port, service: config.service.name, tracing: config.tracing.enabled, sentry_sdk: config.sentryDsn !== undefined },
    'listening',
  );
});

/**
 * Stop taking requests, let those in flight finish (within the grace
 * period), flush every span, log record and error (within
 * TELEMETRY_FLUSH_MS), exit 0. Nothing here waits on stdout for longer than
 * STDOUT_FLUSH_MS, so the whole shutdown ends within `deadline_ms`, which the
 * pod's terminationGracePeriodSeconds must exceed. A second signal exits at once.
 */
async function shutdown(signal: NodeJS.Signals): Promise<void> {
  if (!ready) {
    logger.warn({ signal }, 'second signal: exiting now');
    return exit(1);
  }
  ready = false;
  const deadlineMs = config.shutdownGraceMs + TELEMETRY_FLUSH_MS + STDOUT_FLUSH_MS;
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

  await Promise.all([closeErrorReporting(TELEMETRY_FLUSH_MS), shutdownTelemetry(TELEMETRY_FLUSH_MS)]);
  logger.info('stopped');
  await exit(0);
}

let crashed = false;

/**
 * An error nobody handled: one fatal line with its stack (and the trace ids
 * of the span it happened in), the error to Sentry when it is on, the
 * telemetry flushed within CRASH_FLUSH_MS, exit 1.
 */
async function crash(reason: unknown, origin: string): Promise<void> {
  if (crashed) return;
  crashed = true;
  ready = false;
  const error = reason instanceof Error ? reason : new Error(`non-error thrown: ${String(reason)}`);
  logger.fatal({ err: error, origin }, `${origin === 'unhandledRejection' ? 'unhandled rejection' : 'uncaught exception'}: exiting`);
  reportError(error, { crashed: true });
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
