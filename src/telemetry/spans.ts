import { SeverityNumber, SpanStatusCode, trace, type Attributes, type Span } from '@opentelemetry/api';
import { ATTR_ERROR_TYPE } from '@opentelemetry/semantic-conventions';
import { emitException } from './events';

const tracer = trace.getTracer('telemetry-kit');
const spansWithRecordedError = new WeakSet<Span>();
const loggedExceptions = new WeakSet<Error>();

/**
 * Runs `work` inside a new active span, so spans started inside it (even
 * after an await or a timer) become its children. A thrown error marks the
 * span failed (status ERROR, `error.type`) before it propagates; whoever
 * handles it records it (recordError). The span always ends.
 */
export function withSpan<T>(name: string, attributes: Attributes, work: (span: Span) => Promise<T>): Promise<T> {
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await work(span);
    } catch (error) {
      markFailed(span, asError(error));
      throw error;
    } finally {
      span.end();
    }
  });
}

/**
 * Where an error is handled: the span fails (status ERROR with the error's
 * message, `error.type`), and the exception becomes a log-based event in the
 * span's context (event.name `exception`, with exception.type, .message and
 * .stacktrace), once per error, as OTEP 4430 and OTEP 4333 ask instead of a
 * span event (which Sentry drops). `severity`: ERROR for an error nobody
 * handled; an error the caller recovers from is WARN at most (OTEP 4333).
 */
export function recordError(span: Span, error: unknown, severity: SeverityNumber = SeverityNumber.ERROR): void {
  const exception = asError(error);
  markFailed(span, exception);
  spansWithRecordedError.add(span);
  if (loggedExceptions.has(exception)) return;
  loggedExceptions.add(exception);
  emitException(exception, severity, span);
}

/** Whether recordError described this span's error (the server span then keeps that description). */
export function hasRecordedError(span: Span): boolean {
  return spansWithRecordedError.has(span);
}

function markFailed(span: Span, exception: Error): void {
  span.setStatus({ code: SpanStatusCode.ERROR, message: exception.message });
  span.setAttribute(ATTR_ERROR_TYPE, exception.name);
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
