import { randomBytes } from 'node:crypto';
import type { AttributeValue, Attributes, ReceivedLog, ReceivedSpan } from './otlp.mts';

/*
 * What Sentry's ingest (Relay 26.9.0) makes of OTLP spans and log records,
 * for the stand-in (sentry-ingest.mts): it converts them (relay-spans,
 * relay-ourlogs, relay-otel), then normalizes them
 * (relay-server/src/processing/{spans,logs}/process.rs, which call
 * relay-event-normalization/src/eap/mod.rs). Each rule names its file. The
 * differential test (test/relay-differential.test.mts) checks these rules
 * against the real Relay, built from source.
 */

/** A span as Sentry stores it (relay-spans/src/otel_to_sentry_v2.rs: a "span v2"). */
export interface SentrySpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: 'internal' | 'server' | 'client' | 'producer' | 'consumer' | undefined;
  status: 'ok' | 'error';
  startNs: bigint;
  endNs: bigint;
  attributes: Attributes;
  links: SentrySpanLink[];
}

export interface SentrySpanLink {
  traceId: string;
  spanId: string;
  sampled: boolean;
  attributes: Attributes;
}

/** A log record as Sentry stores it (relay-ourlogs/src/otel_to_sentry.rs: an "OurLog"). */
export interface SentryLog {
  traceId: string;
  spanId: string;
  timeNs: bigint;
  level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
  body: string;
  attributes: Attributes;
}

/** Why Relay dropped an item: its outcome's reason (relay-server/src/services/outcome/mod.rs, DiscardReason). */
export type DropReason = 'no_data' | 'timestamp' | 'invalid_span' | 'duplicate' | 'too_large:log';

/**
 * Attributes Relay writes that the stand-in leaves out, given the attributes
 * Relay forwarded with them. Not modelled:
 * - Relay's bookkeeping: sentry.relay.* and sentry.observed_timestamp_nanos
 *   (eap/mod.rs, normalize_pipeline_attributes, normalize_received);
 * - what Sentry derives for grouping spans and for its Insights pages:
 *   sentry.category, .action, .domain, .description, .status_code,
 *   .normalized_* (eap/mod.rs, normalize_span_category, normalize_sentry_description,
 *   normalize_attribute_values, write_legacy_attributes), db.operation.name and
 *   db.collection.name read from a query (normalize_db_attributes), and the scrubbed
 *   domain that replaces server.address on http.client spans (normalize_http_attributes).
 * Nor modelled: data scrubbing (relay-pii/src/legacy.rs: with a new project's
 * settings, values of secret-like names and card numbers become "[Filtered]";
 * test/relay.test.mts shows it), value trimming, attribute renames from
 * sentry-conventions (normalize_attribute_names), the sample rate read from an
 * `ot=th:` tracestate, timestamps in the future moved to the time received.
 */
export function notModelled(key: string, relayAttributes: Attributes): boolean {
  if (/^sentry\.relay\.|^sentry\.observed_timestamp_nanos$/.test(key)) return true;
  if (/^sentry\.(category|action|domain|description|status_code|normalized_.*)$/.test(key)) return true;
  const op = relayAttributes['sentry.op'];
  if (op === 'db' && (key === 'db.operation.name' || key === 'db.collection.name')) return true;
  return op === 'http.client' && key === 'server.address';
}

/*
 * relay-server/src/processing/utils/normalize.rs, time_config: an item older than the
 * project's retention (relay-server/src/constants.rs, DEFAULT_EVENT_RETENTION: 90 days)
 * is dropped (eap/time.rs, normalize, TimestampOutOfRange: outcome invalid, reason
 * "timestamp"). It dates a log record by its timestamp, a span by its start
 * (TimeNormalize::reference_timestamp_mut).
 */
const RETENTION_NS = 90n * 24n * 3600n * 1_000_000_000n;
const tooOld = (timeNs: bigint) => timeNs < BigInt(Date.now()) * 1_000_000n - RETENTION_NS;

/*
 * relay-otel/src/lib.rs, otel_value_to_attribute: scalars stay as they are; an array keeps
 * its scalars (otel_array_to_sentry_array drops nested arrays and maps); a map becomes a JSON
 * string of its scalar members (otel_kvlist_to_string; serde_json sorts the keys); an attribute
 * without a value is dropped. (Bytes: Relay reads them as UTF-8 text, the harness's decoder as hex.)
 */
function toSentryValue(value: AttributeValue): AttributeValue | undefined {
  if (value === null) return undefined;
  if (Array.isArray(value)) return value.filter(isScalar);
  if (typeof value === 'object') return kvlistToString(value);
  return value;
}

/*
 * eap/mod.rs, normalize_attribute_types (is_supported_array), on the attributes of spans and
 * log records (not of links): an array must hold one type (numbers of any kind count as one),
 * else it is dropped.
 */
function normalizeAttributeTypes(attributes: Attributes): void {
  for (const [key, value] of Object.entries(attributes)) {
    if (Array.isArray(value) && new Set(value.map((item) => typeof item)).size > 1) delete attributes[key];
  }
}

function kvlistToString(map: { [key: string]: AttributeValue }): string {
  return JSON.stringify(Object.fromEntries(Object.entries(map).filter(([, v]) => isScalar(v)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
}

function isScalar(value: AttributeValue): boolean {
  return value !== null && typeof value !== 'object';
}

function putAll(target: Attributes, source: Attributes, prefix = ''): void {
  for (const [key, value] of Object.entries(source)) {
    const converted = toSentryValue(value);
    if (converted !== undefined) target[`${prefix}${key}`] = converted;
  }
}

/* relay-event-schema/src/protocol/attributes.rs, Attributes::insert: an empty value is not inserted. */
function putIfNotEmpty(target: Attributes, key: string, value: string | undefined): void {
  if (value) target[key] = value;
}

/*
 * relay-otel/src/lib.rs, otel_scope_into_attributes: resource attributes become `resource.<key>`,
 * the scope's `instrumentation.<key>`, then its name and version instrumentation.name and
 * .version; and otel_resource_to_platform: telemetry.sdk.language "nodejs" gives sentry.platform "node".
 */
function scopeAttributes(item: ReceivedSpan | ReceivedLog, origin: string): Attributes {
  const attributes: Attributes = { 'sentry.origin': origin };
  const language = item.resource['telemetry.sdk.language'];
  if (typeof language === 'string') attributes['sentry.platform'] = { dotnet: 'csharp', nodejs: 'node', js: 'javascript', webjs: 'javascript' }[language] ?? language;
  putAll(attributes, item.resource, 'resource.');
  putAll(attributes, item.scopeAttributes, 'instrumentation.');
  putIfNotEmpty(attributes, 'instrumentation.name', item.scope);
  putIfNotEmpty(attributes, 'instrumentation.version', item.scopeVersion);
  return attributes;
}

/* relay-event-schema/src/protocol/contexts/trace.rs, TraceId::try_from_slice_or_random: 16 bytes, not all zeros (Uuid::is_nil). */
function traceIdOrRandom(traceId: string): string {
  return traceId.length === 32 && /[^0]/.test(traceId) ? traceId : randomBytes(16).toString('hex');
}

/* trace.rs, SpanId::try_from(&[u8]): 8 bytes, not all zeros; an invalid one counts as none. */
function isSpanId(spanId: string): boolean {
  return spanId.length === 16 && /[^0]/.test(spanId);
}

/* trace.rs, SpanId::from_str: 16 characters, a hexadecimal u64 (u64::from_str_radix also takes a leading "+"), not 0. */
function isSpanIdText(text: AttributeValue | undefined): boolean {
  return typeof text === 'string' && text.length === 16 && /^\+?[0-9a-f]+$/i.test(text) && /[1-9a-f]/i.test(text);
}

const SPAN_KINDS = [undefined, 'internal', 'server', 'client', 'producer', 'consumer'] as const;
/* relay-spans/src/otel_to_sentry_v2.rs, otel_flags_is_remote (OTLP SpanFlags): bit 8 says whether bit 9, the parent is remote, is set. */
const HAS_IS_REMOTE = 0x100;
const IS_REMOTE = 0x200;

/*
 * relay-server/src/processing/spans/process.rs, expand, on the spans of one request, before
 * anything else: a span without a valid id is dropped (invalid_span); of two with the same
 * id, the earlier (duplicate). Then toSentrySpan, on each span left.
 */
export function toSentrySpans(spans: ReceivedSpan[]): Array<{ item: ReceivedSpan; kept: SentrySpan | DropReason }> {
  const dropped: Array<{ item: ReceivedSpan; kept: DropReason }> = [];
  const byId = new Map<string, ReceivedSpan>();
  for (const span of spans) {
    if (!isSpanId(span.spanId)) {
      dropped.push({ item: span, kept: 'invalid_span' });
      continue;
    }
    const earlier = byId.get(span.spanId);
    if (earlier) dropped.push({ item: earlier, kept: 'duplicate' });
    byId.set(span.spanId, span);
  }
  return [...dropped, ...[...byId.values()].map((span) => ({ item: span, kept: toSentrySpan(span) }))];
}

/*
 * relay-spans/src/otel_to_sentry_v2.rs, otel_to_sentry_span: the events are dropped (an
 * exception recorded as a span event never shows, and no outcome says so); every attribute
 * is kept under its own name, after the resource's; status Unset and Ok are "ok", Error is
 * "error"; the kind and the status message become sentry.kind and sentry.status.message; a
 * span without a name is named "db", or "http.server"/"http.client"/"http", by whichever
 * attribute comes first; links keep their ids, attributes and sampled flag (W3C flag bit 0),
 * a link without a valid span id is not kept (otel_to_sentry_link). A span without a valid
 * parent id, or with a remote parent, is a segment: sentry.segment.id and .name.
 * Then process.rs, normalize_span: eap/time.rs, normalize (too old), validate_timestamps (a
 * start after the end: "timestamp"), validate_segment_id (sentry.segment.id must be a span id
 * as text, SpanId::from_str: "invalid_span"); and normalize_span_derived: span_v2/mod.rs makes
 * `name` required, and OTLP spans are not named later (spans/mod.rs, Settings::default():
 * infer_name false), so a span still without a name is dropped (RequiredMode::DeleteParent: "no_data").
 */
function toSentrySpan(span: ReceivedSpan): SentrySpan | DropReason {
  if (tooOld(span.startNs) || span.startNs > span.endNs) return 'timestamp';
  const attributes = scopeAttributes(span, 'auto.otlp.spans');
  let name = span.name;
  for (const [key, value] of Object.entries(span.attributes)) {
    if (value === null) continue;
    if (!name && key.startsWith('db')) name = 'db';
    if (!name && (key === 'http.method' || key === 'http.request.method')) name = span.kind === 2 ? 'http.server' : span.kind === 3 ? 'http.client' : 'http';
  }
  putAll(attributes, span.attributes);
  putIfNotEmpty(attributes, 'sentry.status.message', span.status.message);
  const isRemote = span.flags & HAS_IS_REMOTE ? (span.flags & IS_REMOTE) !== 0 : undefined;
  if (isRemote !== undefined) attributes['sentry.is_remote'] = isRemote;
  const kind = SPAN_KINDS[span.kind];
  if (kind) attributes['sentry.kind'] = kind;
  const status = span.status.code === 2 ? 'error' : 'ok';
  const parentSpanId = isSpanId(span.parentSpanId) ? span.parentSpanId : '';
  const isSegment = parentSpanId === '' || isRemote === true;
  if (isSegment) {
    attributes['sentry.segment.id'] = span.spanId;
    putIfNotEmpty(attributes, 'sentry.segment.name', name);
  }
  normalizeAttributeTypes(attributes);
  if ('sentry.segment.id' in attributes && !isSpanIdText(attributes['sentry.segment.id'])) return 'invalid_span';
  if (!name) return 'no_data';
  normalizeSpanAttributes(attributes, isSegment, status);
  return {
    traceId: traceIdOrRandom(span.traceId),
    spanId: span.spanId,
    parentSpanId,
    name,
    kind,
    status,
    startNs: span.startNs,
    endNs: span.endNs,
    attributes,
    links: span.links.filter((link) => isSpanId(link.spanId)).map((link) => {
      const linkAttributes: Attributes = {};
      putAll(linkAttributes, link.attributes);
      return { traceId: traceIdOrRandom(link.traceId), spanId: link.spanId, sampled: (link.flags & 1) !== 0, attributes: linkAttributes };
    }),
  };
}

/*
 * relay-server/src/processing/spans/process.rs, normalize_span, with eap/mod.rs:
 * normalize_sentry_op (relay-spans/src/op.rs, derive_op_for_v2_span), normalize_trace_status
 * (segments only) and normalize_client_sample_rate (1 when the span has none; a rate outside
 * (0, 1] is removed).
 */
function normalizeSpanAttributes(attributes: Attributes, isSegment: boolean, status: SentrySpan['status']): void {
  if (attributes['sentry.op'] === undefined) attributes['sentry.op'] = deriveOp(attributes);
  if (isSegment && attributes['sentry.trace.status'] === undefined) {
    attributes['sentry.trace.status'] = typeof attributes['sentry.status'] === 'string' ? attributes['sentry.status'] : status;
  }
  const rate = attributes['sentry.client_sample_rate'];
  if (rate === undefined) attributes['sentry.client_sample_rate'] = 1;
  else if (typeof rate !== 'number' || rate <= 0 || rate > 1) delete attributes['sentry.client_sample_rate'];
}

/* relay-spans/src/op.rs, derive_op_for_v2_span. */
function deriveOp(attributes: Attributes): string {
  if ('http.request.method' in attributes) {
    if (attributes['sentry.kind'] === 'client') return 'http.client';
    if (attributes['sentry.kind'] === 'server') return 'http.server';
    return 'sentry.http.prefetch' in attributes ? 'http.prefetch' : 'http';
  }
  if ('db.system.name' in attributes) return 'db';
  if (typeof attributes['gen_ai.operation.name'] === 'string') return `gen_ai.${attributes['gen_ai.operation.name']}`;
  if ('rpc.service' in attributes) return 'rpc';
  if ('messaging.system' in attributes) return 'message';
  if (typeof attributes['faas.trigger'] === 'string') return attributes['faas.trigger'];
  return 'default';
}

/*
 * relay-ourlogs/src/otel_to_sentry.rs, otel_to_sentry_log: the body becomes text
 * (otel_body_to_sentry_body: a string as it is, a number or boolean written out, a map or
 * an array as JSON of its scalars). Severity 1-4 trace, 5-8 debug, 9-12 info, 13-16 warn,
 * 17-20 error, 21-24 fatal, else from the severity text, else info. A missing or invalid trace
 * id is replaced by a random one; the span id is kept when valid. The time: the record's, else
 * when it was observed, else now. Attributes: sentry.origin, event.name (the record's
 * event_name), the resource's and the scope's, then the record's.
 * Then relay-server/src/processing/logs/mod.rs, process, in this order: validate::size (a record
 * larger than max_log_size: "too_large:log"), process::normalize (eap/time.rs: too old), and
 * normalize_derived: relay-event-schema/src/protocol/ourlog/mod.rs makes `body` required, so a
 * record without one is dropped (RequiredMode::DeleteParent: "no_data").
 */
export function toSentryLog(record: ReceivedLog): SentryLog | DropReason {
  const body = bodyText(record.body);
  const attributes = scopeAttributes(record, 'auto.otlp.logs');
  putIfNotEmpty(attributes, 'event.name', record.eventName);
  putAll(attributes, record.attributes);
  if (logSize(body, attributes) > MAX_LOG_SIZE) return 'too_large:log';
  const timeNs = record.timeNs || record.observedTimeNs || BigInt(Date.now()) * 1_000_000n;
  if (tooOld(timeNs)) return 'timestamp';
  if (body === undefined) return 'no_data';
  normalizeAttributeTypes(attributes);
  return {
    traceId: traceIdOrRandom(record.traceId),
    spanId: isSpanId(record.spanId) ? record.spanId : '',
    timeNs,
    level: levelOf(record.severityNumber, record.severityText),
    body,
    attributes,
  };
}

/* relay-config/src/config.rs, Limits::default(): max_log_size 2 MiB. */
const MAX_LOG_SIZE = 2 * 1024 * 1024;

/*
 * relay-ourlogs/src/size.rs, calculate_size, of the record as converted (logs/integrations/mod.rs,
 * expand): the body's UTF-8 bytes, plus each attribute's key bytes and value size
 * (relay-event-normalization/src/eap/size.rs: a string its bytes, a boolean 1, a number 8, an
 * array the sum of its items); at least 1.
 */
function logSize(body: string | undefined, attributes: Attributes): number {
  const valueSize = (value: AttributeValue): number =>
    typeof value === 'string' ? Buffer.byteLength(value) : typeof value === 'boolean' ? 1 : typeof value === 'number' ? 8 : Array.isArray(value) ? value.reduce<number>((sum, item) => sum + valueSize(item), 0) : 0;
  const total = Object.entries(attributes).reduce((sum, [key, value]) => sum + Buffer.byteLength(key) + valueSize(value), Buffer.byteLength(body ?? ''));
  return Math.max(total, 1);
}

function bodyText(body: AttributeValue): string | undefined {
  if (body === null) return undefined;
  if (Array.isArray(body)) return JSON.stringify(body.filter(isScalar));
  if (typeof body === 'object') return kvlistToString(body);
  return String(body);
}

function levelOf(number: number, text: string): SentryLog['level'] {
  const levels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
  if (number >= 1 && number <= 24) return levels[Math.floor((number - 1) / 4)]!;
  const byText: Record<string, SentryLog['level']> = {
    trace: 'trace',
    debug: 'debug',
    info: 'info',
    information: 'info',
    warn: 'warn',
    warning: 'warn',
    error: 'error',
    fatal: 'fatal',
  };
  return byText[text.toLowerCase()] ?? 'info';
}
