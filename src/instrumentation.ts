/*
 * Loaded before the application with `node --require ./dist/instrumentation.js`:
 * the HTTP and Express instrumentations can only patch modules loaded after
 * them, so tracing must start before anything imports http or express.
 */
import { loadConfig } from './config';
import { logger } from './logger';
import { initTracer } from './tracing';

export const shutdownTracing = initTracer(loadConfig().tracing, logger);
