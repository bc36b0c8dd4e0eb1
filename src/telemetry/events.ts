import { SeverityNumber, TraceFlags, context, isSpanContextValid, logs, trace, type Attributes, type Context, type Span } from '@opentelemetry/api';

const logger = logs.getLogger('telemetry-kit');

/**
 * An event, the way OpenTelemetry writes events since it deprecated the Span
 * Event API (OTEP 4430, 2026): a log record named by `event.name`, in the
 * active span's context, so it shows in its trace, on its span. Sentry keeps
 * these; it drops span events at ingestion (relay-spans, otel_to_sentry_v2.rs).
 * The body repeats the name, as Sentry requires a body.
 */
export function emitEvent(name: string, attributes: Attributes = {}): void {
  const active = context.active();
  if (inTraceLeftOut(active)) return;
  logger.emit({ eventName: name, severityNumber: SeverityNumber.INFO, severityText: 'INFO', body: name, attributes, context: active });
}

/**
 * An exception as a log-based event of `span` (event.name `exception`): the
 * SDK writes exception.type, .message and .stacktrace from the error itself.
 * The body reads as the exception reads everywhere else.
 */
export function emitException(exception: Error, severity: SeverityNumber, span: Span): void {
  const inSpan = trace.setSpan(context.active(), span);
  if (inTraceLeftOut(inSpan)) return;
  logger.emit({
    eventName: 'exception',
    severityNumber: severity,
    severityText: SeverityNumber[severity],
    body: `${exception.name}: ${exception.message}`,
    exception,
    context: inSpan,
  });
}

/**
 * An event goes with its span, as a span event did: in a trace the SDK's
 * sampler left out, it is not written. (The collector's tail sampling decides
 * later, on spans only: an event of a trace it leaves out is still sent.) This is the Logs SDK's
 * `traceBased` logger option (sdk-logs Logger.enabled), which NodeSDK does
 * not let us set; the pino lines keep the default and are exported whatever
 * the sampler decided. test/events-sampling.test.mts proves the two rules
 * equal; the bench (bench/candidates-events.json) measures what it saves at 10%.
 */
function inTraceLeftOut(active: Context): boolean {
  const spanContext = trace.getSpanContext(active);
  return spanContext !== undefined && isSpanContextValid(spanContext) && (spanContext.traceFlags & TraceFlags.SAMPLED) !== TraceFlags.SAMPLED;
}
