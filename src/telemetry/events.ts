import { SeverityNumber, context, logs, trace, type Attributes, type Span } from '@opentelemetry/api';

const logger = logs.getLogger('users-api');

/**
 * An event, the way OpenTelemetry writes events since it deprecated the Span
 * Event API (OTEP 4430, 2026): a log record named by `event.name`, in the
 * active span's context, so it shows in its trace, on its span. Sentry keeps
 * these; it drops span events at ingestion (relay-spans, otel_to_sentry_v2.rs).
 * The body repeats the name, as Sentry requires a body.
 */
export function emitEvent(name: string, attributes: Attributes = {}): void {
  logger.emit({ eventName: name, severityNumber: SeverityNumber.INFO, severityText: 'INFO', body: name, attributes });
}

/**
 * An exception as a log-based event of `span` (event.name `exception`): the
 * SDK writes exception.type, .message and .stacktrace from the error itself.
 * The body reads as the exception reads everywhere else.
 */
export function emitException(exception: Error, severity: SeverityNumber, span: Span): void {
  logger.emit({
    eventName: 'exception',
    severityNumber: severity,
    severityText: SeverityNumber[severity],
    body: `${exception.name}: ${exception.message}`,
    exception,
    context: trace.setSpan(context.active(), span),
  });
}
