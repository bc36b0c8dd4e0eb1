import { context, diag, propagation, trace, type DiagLogger, type TextMapPropagator } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator, diagLogLevelFromString, setGlobalErrorHandler } from '@opentelemetry/core';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { B3InjectEncoding, B3Propagator } from '@opentelemetry/propagator-b3';
import type { Resource } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type Sampler,
} from '@opentelemetry/sdk-trace';
import { buildBatchExport, type Shutdown } from './batch-export';
import type { TracingConfig } from './config';
import type { Logger } from './logger';
import { otlpSpanExporter } from './otlp-exporters';
import { UntrustedIncomingPropagator } from './untrusted-context';

/**
 * Sets up tracing for the whole process: the one place that knows the
 * tracing SDK. Everything else uses @opentelemetry/api only. Returns the
 * function that flushes every finished span and stops tracing; the caller
 * owns the lifetime. `log` is for the pipeline's reports about itself.
 */
export function initTracer(config: TracingConfig, resource: Resource, log: Logger): Shutdown {
  if (!config.enabled) return async () => {};

  const spanExport = buildBatchExport(
    {
      what: 'span',
      consoleExporter: () => new ConsoleSpanExporter(),
      otlpExporter: otlpSpanExporter,
      batchProcessor: (options) => new BatchSpanProcessor(options),
    },
    config,
    log,
  );
  routeDiagnostics(config, log);
  const provider = new TracerProvider({
    resource,
    sampler: buildSampler(config),
    spanLimits: { attributeValueLengthLimit: config.attributeValueLengthLimit },
    spanProcessors: spanExport.processor ? [spanExport.processor] : [],
  });
  trace.setGlobalTracerProvider(provider);
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(buildPropagator(config));
  const stopInstrumenting = registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      // Outgoing calls only (the CLIENT span of /chain, and its traceparent): the server
      // spans come from traceRequests (server-spans.ts), which costs a fraction of this.
      new HttpInstrumentation({ disableIncomingRequestInstrumentation: true }),
    ],
  });

  return async (deadline) => {
    stopInstrumenting();
    await spanExport.shutdown(deadline, () => provider.shutdown());
  };
}

function buildSampler(config: TracingConfig): Sampler {
  const ratio = new TraceIdRatioBasedSampler(config.samplerRatio);
  switch (config.sampler) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return ratio;
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: ratio });
  }
}

/** OTEL_PROPAGATORS; b3 and b3multi are the Zipkin headers that service meshes use. */
function buildPropagator(config: TracingConfig): TextMapPropagator {
  const known = {
    tracecontext: () => new W3CTraceContextPropagator(),
    baggage: () => new W3CBaggagePropagator(),
    b3: () => new B3Propagator(),
    b3multi: () => new B3Propagator({ injectEncoding: B3InjectEncoding.MULTI_HEADER }),
  };
  const propagator = new CompositePropagator({ propagators: config.propagators.map((name) => known[name]()) });
  return config.trustIncomingContext ? propagator : new UntrustedIncomingPropagator(propagator);
}

/** SDK warnings that say again what ExportMonitor reports from the processor's metrics. */
const REPORTED_BY_MONITOR = /^Dropped \d+ spans because maxQueueSize reached/;

/**
 * The SDK's own messages go to the service log (OTEL_LOG_LEVEL, default
 * warn), on stdout only, as `log` writes them. Drops and failed exports do
 * not depend on them: ExportMonitor counts those from the processors.
 */
function routeDiagnostics(config: TracingConfig, log: Logger): void {
  const component = 'opentelemetry-sdk';
  const diagLogger: DiagLogger = {
    error: (message, ...args) => log.error({ component, args }, message),
    warn: (message, ...args) => {
      if (!REPORTED_BY_MONITOR.test(message)) log.warn({ component, args }, message);
    },
    info: (message, ...args) => log.info({ component, args }, message),
    debug: (message, ...args) => log.debug({ component, args }, message),
    verbose: (message, ...args) => log.trace({ component, args }, message),
  };
  diag.setLogger(diagLogger, { logLevel: diagLogLevelFromString(config.diagLogLevel), suppressOverrideMessage: true });
  setGlobalErrorHandler((error) => log.debug({ component, error: String(error) }, 'SDK error'));
}
