// Tracing is already running when started with --require ./dist/instrumentation.js;
// this import hands over its shutdown (and, without --require, still starts it first).
import { shutdownTelemetry } from './instrumentation';
import type { AddressInfo } from 'node:net';
import { createApp } from './app';
import { loadConfig } from './config';
import { closeErrorReporting, initErrorReporting } from './error-reporting';
import { logger } from './logger';

const config = loadConfig();
initErrorReporting(config.sentryDsn, config.service);
let ready = true;

const app = createApp({ downstreamUrl: config.downstreamUrl, isReady: () => ready });
const server = app.listen(config.port, (error?: Error) => {
  if (error) {
    logger.fatal({ err: error }, `cannot listen on port ${config.port}`);
    process.exit(1);
  }
  const { port } = server.address() as AddressInfo;
  logger.info(
    { port, service: config.service.name, tracing: config.tracing.enabled, sentry_sdk: config.sentryDsn !== undefined },
    'listening',
  );
});

/**
 * Stop taking requests, let those in flight finish (within the grace
 * period), flush every span, log record and error, exit 0. A second signal
 * exits at once.
 */
async function shutdown(signal: NodeJS.Signals): Promise<void> {
  if (!ready) {
    logger.warn({ signal }, 'second signal: exiting now');
    process.exit(1);
  }
  ready = false;
  logger.info({ signal }, 'shutting down');

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

  await Promise.all([closeErrorReporting(), shutdownTelemetry()]);
  logger.info('stopped');
  process.exit(0);
}

process.on('SIGTERM', (signal) => void shutdown(signal));
process.on('SIGINT', (signal) => void shutdown(signal));
