/*
 * The telemetry kit's public entry: what a service calls to be traced. The
 * rest of the service imports this and @opentelemetry/api, nothing else of
 * OpenTelemetry. Importing it starts nothing; initTracer does.
 */
export { initTracer, type Shutdown, type TracerOptions } from './init';
export { serviceIdentity, serviceResource, type ServiceIdentity } from './resource';
export { traceRequests, type TraceRequestsOptions } from './server-spans';
export { emitEvent } from './events';
export { recordError, withSpan } from './spans';
export { closeStdout, stdout } from './stdout';
