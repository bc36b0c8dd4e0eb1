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
const resource = buildResource(config.service);
const shutdownTracing = initTracer(config.tracing, resource, logger);
const shutdownLogExport = initLogExport(config.logExport, resource, logger);
// Said only now that the logger (built from this config) and log export exist.
for (const { message, ...fields } of config.warnings) logger.warn(fields, message);

/** Flushes every span and log record still buffered, then stops exporting. */
export async function shutdownTelemetry(): Promise<void> {
  await Promise.all([shutdownTracing(), shutdownLogExport()]);
}
