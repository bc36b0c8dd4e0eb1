import { context, diag, propagation, trace, type DiagLogger, type TextMapPropagator } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator, diagLogLevelFromString, setGlobalErrorHandler } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { ExpressInstrumentation, ExpressLayerType } from '@opentelemetry/instrumentation-express';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
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
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import type { TracingConfig } from './config';
import { ExportMonitor } from './export-monitor';
import type { Logger } from './logger';

export type Shutdown = () => Promise<void>;

/**
 * Sets up tracing for the whole process: the one place that knows the SDK.
 * Everything else uses @opentelemetry/api only. Returns the function that
 * flushes every finished span and stops tracing; the caller owns the lifetime.
 */
export function initTracer(config: TracingConfig, resource: Resource, log: Logger): Shutdown {
  if (!config.enabled) return async () => {};

  routeDiagnostics(config, log);
  const provider = new TracerProvider({
    resource,
    sampler: buildSampler(config),
    spanLimits: { attributeValueLengthLimit: config.attributeValueLengthLimit },
    spanProcessors: buildProcessors(config, log),
  });
  trace.setGlobalTracerProvider(provider);
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(buildPropagator(config));
  const stopInstrumenting = registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (request) => config.untracedPaths.includes(request.url ?? ''),
      }),
      // Only for the route: it names the server span "GET /users/:id" and sets
      // http.route. Its layer spans ("middleware - query", ...) carry nothing more.
      new ExpressInstrumentation({ ignoreLayersType: Object.values(ExpressLayerType) }),
    ],
  });

  return async () => {
    stopInstrumenting();
    try {
      await provider.shutdown();
    } catch (error) {
      log.warn({ error: String(error) }, 'some spans could not be delivered at shutdown');
    }
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

function buildProcessors(config: TracingConfig, log: Logger): SpanProcessor[] {
  const exporter = buildExporter(config, log);
  // SDK 3 takes one options object; it reads no OTEL_BSP_* itself, so config passes them in.
  return exporter ? [new BatchSpanProcessor({ exporter, ...config.batch })] : [];
}

function buildExporter(config: TracingConfig, log: Logger): SpanExporter | undefined {
  switch (config.exporter) {
    case 'none':
      return undefined;
    case 'console':
      return new ConsoleSpanExporter();
    case 'otlp':
      return new ExportMonitor(new OTLPTraceExporter({ url: config.endpoint }), log, 'span', config.endpoint);
  }
}

function buildPropagator(config: TracingConfig): TextMapPropagator {
  const known = { tracecontext: new W3CTraceContextPropagator(), baggage: new W3CBaggagePropagator() };
  return new CompositePropagator({ propagators: config.propagators.map((name) => known[name]) });
}

/**
 * The SDK's own warnings go to the service log (OTEL_LOG_LEVEL, default warn).
 * Failed exports are left to ExportMonitor, which reports them once instead
 * of once per batch.
 */
function routeDiagnostics(config: TracingConfig, log: Logger): void {
  const level = diagLogLevelFromString(config.diagLogLevel);
  const sdkLog = log.child({ component: 'opentelemetry-sdk' });
  const diagLogger: DiagLogger = {
    error: (message, ...args) => sdkLog.error({ args }, message),
    warn: (message, ...args) => sdkLog.warn({ args }, message),
    info: (message, ...args) => sdkLog.info({ args }, message),
    debug: (message, ...args) => sdkLog.debug({ args }, message),
    verbose: (message, ...args) => sdkLog.trace({ args }, message),
  };
  diag.setLogger(diagLogger, { logLevel: level, suppressOverrideMessage: true });
  setGlobalErrorHandler((error) => sdkLog.debug({ error: String(error) }, 'SDK error'));
}
