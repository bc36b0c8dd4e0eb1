/*
 * Loaded before the application with `node --require ./dist/instrumentation.js`:
 * the HTTP instrumentation can only patch `http` if it starts before anything
 * imports it (Express does), so tracing starts here, first.
 */
import { loadConfig } from './config';
import { initLogExport } from './log-export';
import { logger } from './logger';
import { buildResource } from './resource';
import { initTracer } from './tracing';

const config = loadConfig();
const resource = buildResource({ ...config.tracing, environment: config.environment });
const shutdownTracing = initTracer(config.tracing, resource, logger);
const shutdownLogExport = initLogExport(config.logExport, resource, logger);

/** Flushes every span and log record still buffered, then stops exporting. */
export async function shutdownTelemetry(): Promise<void> {
  await Promise.all([shutdownTracing(), shutdownLogExport()]);
}
