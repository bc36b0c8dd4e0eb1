/*
 * Loaded before the application with `node --require ./dist/instrumentation.js`:
 * the instrumentations can only patch `http` and `pino` if they start before
 * anything imports them (Express does), so tracing starts here, first.
 */
import { DEFAULT_ENVIRONMENT, DEFAULT_SERVICE_NAME, loadConfig } from './config';
import { initTracer, serviceIdentity, serviceResource } from './telemetry';

const config = loadConfig();
const resource = serviceResource({ name: DEFAULT_SERVICE_NAME, version: config.version, environment: DEFAULT_ENVIRONMENT }, config.environment);

/** The name, version and environment every span and log record carries: the Sentry SDK reports the same. */
export const service = serviceIdentity(resource);

/** Flushes every span and log record still buffered, then stops exporting; gives up after `timeoutMs`. */
export const shutdownTelemetry = initTracer({ resource });
