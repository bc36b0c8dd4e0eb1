import { getBooleanFromEnv } from '@opentelemetry/core';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { PinoInstrumentation } from '@opentelemetry/instrumentation-pino';
import type { Resource } from '@opentelemetry/resources';
import { NodeSDK, type NodeSDKConfiguration } from '@opentelemetry/sdk-node';
import { settleBy } from './deadline';
import { leaveOutWhatTheKitReports, report, routeDiagnostics } from './diagnostics';
import { withVariables } from './environment';
import { buildExportPipeline } from './export-pipeline';
import { LOG_RECORDS, SPANS } from './signals';
import { exportPlan, exportReportIntervalMs, metricsExported, nodeSdkEnvironment, otlpExportSettings, spanLimits, warnIfConfigFileGiven } from './settings';

/** Flushes what is buffered and stops; gives up after `timeoutMs`, saying what was not delivered. */
export type Shutdown = (timeoutMs: number) => Promise<void>;

export interface TracerOptions {
  /** Who is speaking: serviceResource(...). */
  resource: Resource;
}

/**
 * Starts tracing and log export for the whole process, through NodeSDK, which
 * reads the OTEL_* variables: the sampler, the propagators, the log record
 * limits, and any exporter list without `otlp`. Where it would misread one,
 * the kit checks it first (settings.ts: the span limits, headers, names in
 * another letter case). For OTLP (the default, over gRPC to the cluster's
 * collector) the kit builds the export itself (export-pipeline.ts): NodeSDK's would not
 * retry over gRPC, would lose data without saying so, and would use batch
 * sizes that lost 3–7% of the spans at saturation (settings.ts).
 * Instrumented: outgoing HTTP calls (their CLIENT spans and traceparent),
 * and pino (every log line also an OTLP log record in its span's context).
 * Incoming requests get their SERVER span from traceRequests (server-spans.ts).
 *
 * Returns the shutdown that flushes; the caller owns the lifetime. Telemetry
 * never takes the service down: if it cannot start, it says why and the
 * service runs without it.
 */
export function initTracer({ resource }: TracerOptions): Shutdown {
  routeDiagnostics();
  // Read as NodeSDK reads it: a value neither true nor false is a warning, and false.
  if (getBooleanFromEnv('OTEL_SDK_DISABLED')) return async () => {};
  warnIfConfigFileGiven();
  try {
    const reportIntervalMs = exportReportIntervalMs();
    const spanPlan = exportPlan('traces');
    const logPlan = exportPlan('logs');
    const spans = spanPlan.by === 'kit' ? buildExportPipeline(SPANS, otlpExportSettings('traces'), reportIntervalMs, spanPlan) : undefined;
    const logs = logPlan.by === 'kit' ? buildExportPipeline(LOG_RECORDS, otlpExportSettings('logs'), reportIntervalMs, logPlan) : undefined;
    const metrics = metricsExported();
    const configuration: Partial<NodeSDKConfiguration> = {
      resource,
      spanLimits: spanLimits(),
      autoDetectResources: false, // serviceResource ran the detectors this service wants
      // Nobody's: no processor, as NodeSDK would decide, without its warning that "the SDK will not be initialized".
      spanProcessors: spans ? spans.processors : spanPlan.by === 'nobody' ? [] : undefined,
      // Nobody's: NodeSDK reads OTEL_LOGS_EXPORTER=none itself and sets up no log export.
      logRecordProcessors: logs?.processors,
      metricReaders: metrics ? undefined : [],
      instrumentations: [
        new HttpInstrumentation({ disableIncomingRequestInstrumentation: true }),
        new PinoInstrumentation(),
      ],
    };
    leaveOutWhatTheKitReports({ spans: spans !== undefined, everyExport: spanPlan.by !== 'NodeSDK' && logPlan.by !== 'NodeSDK' && !metrics });
    const sdk = withVariables(nodeSdkEnvironment(metrics), () => {
      const started = new NodeSDK(configuration);
      started.start();
      return started;
    });
    // Once: a crash during the shutdown calls it again (the SDK warns on a second shutdown).
    let finished: Promise<void> | undefined;
    return (timeoutMs) => (finished ??= (async () => {
      const deadline = Date.now() + timeoutMs;
      const flush = sdk.shutdown();
      await Promise.all([spans?.finish(deadline), logs?.finish(deadline), settleBy(flush, deadline)]);
    })());
  } catch (error) {
    report('error', 'telemetry could not start; the service runs without it', { error: String(error) });
    return async () => {};
  }
}
