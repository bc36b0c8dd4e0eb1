/*
 * Loaded before the application with `node --require ./dist/instrumentation.js`:
 * the HTTP instrumentation can only patch `http` if it starts before anything
 * imports it (Express does), so tracing starts here, first.
 */
import { loadConfig } from './config';
import { initLogExport } from './log-export';
import { logger, telemetryLogger } from './logger';
import { buildResource } from './resource';
import { initTracer } from './tracing';

const config = loadConfig();
const resource = buildResource(config.service);
const shutdownTracing = initTracer(config.tracing, resource, telemetryLogger);
const shutdownLogExport = initLogExport(config.logExport, resource, telemetryLogger);
// Said only now that the logger (built from this config) and log export exist.
for (const { message, ...fields } of config.warnings) logger.warn(fields, message);

/**
 * Flushes every span and log record still buffered, then stops exporting.
 * Gives up after `timeoutMs`, saying what was not delivered.
 */
export async function shutdownTelemetry(timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  await Promise.all([shutdownTracing(deadline), shutdownLogExport(deadline)]);
}
