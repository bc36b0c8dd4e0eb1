import type { AttributeValue, Attributes } from './otlp.mts';
import type { ForwardedItem } from './relay-upstream.mts';
import type { SentryLog, SentrySpan } from './sentry-conversion.mts';

/*
 * What Relay forwards, in the shapes the stand-in (sentry-ingest.mts) stores,
 * so one test can run against either.
 *
 * Where they cannot match:
 * - Times: Relay writes them as seconds in a JSON float (relay-event-schema,
 *   Timestamp), which holds about a microsecond at today's dates, so
 *   `startNs`, `endNs` and `timeNs` are whole microseconds here.
 * - Attributes: Relay writes each as `{type, value}` (relay-event-schema,
 *   Attribute); only the value is kept here. Type and `_meta` (what Relay
 *   trimmed, scrubbed or found invalid) are in the raw items.
 */

interface RelayAttribute {
  type: string;
  value: AttributeValue;
}

interface SpanV2 {
  trace_id: string;
  span_id: string;
  parent_span_id?: string;
  name?: string;
  status: 'ok' | 'error';
  start_timestamp: number;
  end_timestamp: number;
  attributes?: Record<string, RelayAttribute | null>;
  /* A link Relay could not convert stays as null (relay-spans/src/otel_to_sentry_v2.rs, otel_to_sentry_link). */
  links?: Array<{ trace_id: string; span_id: string; sampled?: boolean; attributes?: Record<string, RelayAttribute | null> } | null>;
}

interface OurLog {
  timestamp: number;
  trace_id: string;
  span_id?: string;
  level: SentryLog['level'];
  body: string;
  attributes?: Record<string, RelayAttribute | null>;
}

/**
 * The entries of a forwarded item: an item container holds them in `items`
 * (relay-server/src/envelope/container.rs: `span` and `log` items with
 * content type application/vnd.sentry.items.*), a single span is the payload itself.
 */
export function entriesOf<T>(item: ForwardedItem): T[] {
  const payload = item.payload as { items?: T[] };
  return Array.isArray(payload?.items) ? payload.items : [payload as T];
}

export function toSentrySpan(span: SpanV2): SentrySpan {
  const attributes = plain(span.attributes);
  const kind = attributes['sentry.kind'];
  return {
    traceId: span.trace_id,
    spanId: span.span_id,
    parentSpanId: span.parent_span_id ?? '',
    name: span.name ?? '',
    kind: typeof kind === 'string' ? (kind as SentrySpan['kind']) : undefined,
    status: span.status,
    startNs: secondsToNs(span.start_timestamp),
    endNs: secondsToNs(span.end_timestamp),
    attributes,
    links: (span.links ?? []).flatMap((link) => (link ? [link] : [])).map((link) => ({ traceId: link.trace_id, spanId: link.span_id, sampled: link.sampled ?? false, attributes: plain(link.attributes) })),
  };
}

export function toSentryLog(log: OurLog): SentryLog {
  return {
    traceId: log.trace_id,
    spanId: log.span_id ?? '',
    timeNs: secondsToNs(log.timestamp),
    level: log.level,
    body: log.body,
    attributes: plain(log.attributes),
  };
}

function plain(attributes: Record<string, RelayAttribute | null> | undefined): Attributes {
  const result: Attributes = {};
  for (const [key, attribute] of Object.entries(attributes ?? {})) {
    if (attribute && attribute.value !== undefined && attribute.value !== null) result[key] = attribute.value;
  }
  return result;
}

/** Seconds as a JSON float to nanoseconds, rounded to the microsecond the float can hold. */
export function secondsToNs(seconds: number): bigint {
  return BigInt(Math.round(seconds * 1e6)) * 1000n;
}

/**
 * What Relay noted in an item's `_meta` (relay-protocol/src/meta.rs): per field, the errors
 * (`err`, such as missing_attribute or invalid_data) and remarks (`rem`: what it removed or
 * replaced, and by which rule), as `path: err missing_attribute` lines.
 */
export function metaRemarks(item: { _meta?: object }): string[] {
  const lines: string[] = [];
  const walk = (node: Record<string, unknown>, path: string[]) => {
    for (const [key, value] of Object.entries(node)) {
      if (key !== '') {
        walk(value as Record<string, unknown>, [...path, key]);
        continue;
      }
      const { err = [], rem = [] } = value as { err?: unknown[]; rem?: unknown[][] };
      for (const error of err) lines.push(`${path.join('.')}: err ${typeof error === 'string' ? error : JSON.stringify(error)}`);
      for (const remark of rem) lines.push(`${path.join('.')}: rem ${remark.map(String).join(' ')}`);
    }
  };
  walk((item._meta ?? {}) as Record<string, unknown>, []);
  return lines;
}
