import {
  createContextKey,
  trace,
  type Context,
  type Link,
  type SpanContext,
  type TextMapGetter,
  type TextMapPropagator,
  type TextMapSetter,
} from '@opentelemetry/api';

const OUTSIDE_CALLER = createContextKey('the span context an outside caller sent');

/**
 * For a service that faces the internet (TRUST_INCOMING_TRACE_CONTEXT=false).
 * An outside caller's `traceparent` would choose our trace id and our sampling
 * decision (`…-00` switches tracing off, so its errors escape "keep every
 * error"), and its `baggage` would travel to every service behind us. This
 * propagator takes neither: each incoming request starts a new trace that our
 * own sampler decides, and the caller's span context is only kept aside, to
 * become a link (outsideCallerLinks). Injection is unchanged, so our calls to
 * our own services still continue our trace.
 */
export class UntrustedIncomingPropagator implements TextMapPropagator {
  constructor(private readonly inner: TextMapPropagator) {}

  inject(context: Context, carrier: unknown, setter: TextMapSetter): void {
    this.inner.inject(context, carrier, setter);
  }

  extract(context: Context, carrier: unknown, getter: TextMapGetter): Context {
    const outside = trace.getSpanContext(this.inner.extract(context, carrier, getter));
    return outside ? context.setValue(OUTSIDE_CALLER, outside) : context;
  }

  fields(): string[] {
    return this.inner.fields();
  }
}

/**
 * The link from a new server span to the caller's span: whoever holds the
 * caller's trace can still find ours, and a trace of ours is never merged
 * into theirs. None when the caller's context was trusted (or absent).
 */
export function outsideCallerLinks(incoming: Context): Link[] {
  const outside = incoming.getValue(OUTSIDE_CALLER) as SpanContext | undefined;
  return outside ? [{ context: outside }] : [];
}
