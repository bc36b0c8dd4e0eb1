import { SpanStatusCode, trace, type Attributes, type Span } from '@opentelemetry/api';
import { ATTR_ERROR_TYPE } from '@opentelemetry/semantic-conventions';

const tracer = trace.getTracer('users-api');
const spansWithRecordedError = new WeakSet<Span>();

/**
 * Runs `work` inside a new active span, so spans started inside it (even
 * after an await or a timer) become its children. A thrown error is recorded
 * on the span before it propagates; the span always ends.
 */
export function withSpan<T>(name: string, attributes: Attributes, work: (span: Span) => Promise<T>): Promise<T> {
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await work(span);
    } catch (error) {
      recordError(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}

/**
 * The exception event (type, message, stack), status ERROR with the
 * exception's message, and `error.type`, as the conventions ask. Whether the
 * error is also a Sentry issue is decided where it ends up.
 */
export function recordError(span: Span, error: unknown): void {
  const exception = error instanceof Error ? error : new Error(String(error));
  span.recordException(exception);
  span.setStatus({ code: SpanStatusCode.ERROR, message: exception.message });
  span.setAttribute(ATTR_ERROR_TYPE, exception.name);
  spansWithRecordedError.add(span);
}

/** Whether recordError described this span's error (the server span then keeps that description). */
export function hasRecordedError(span: Span): boolean {
  return spansWithRecordedError.has(span);
}
