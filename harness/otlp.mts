import { existsSync, readFileSync } from 'node:fs';
import protobuf from 'protobufjs';

/*
 * The OTLP messages the tests read, written from the specification
 * (github.com/open-telemetry/opentelemetry-proto, v1). Protobuf skips
 * fields a reader does not know, so this subset decodes real payloads.
 */
const PROTO = `
syntax = "proto3";
package otlp;

message AnyValue {
  oneof value {
    string string_value = 1;
    bool bool_value = 2;
    int64 int_value = 3;
    double double_value = 4;
    ArrayValue array_value = 5;
    KeyValueList kvlist_value = 6;
    bytes bytes_value = 7;
  }
}
message ArrayValue { repeated AnyValue values = 1; }
message KeyValueList { repeated KeyValue values = 1; }
message KeyValue { string key = 1; AnyValue value = 2; }
message InstrumentationScope { string name = 1; string version = 2; repeated KeyValue attributes = 3; }
message Resource { repeated KeyValue attributes = 1; }

message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; }
message ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; }
message Span {
  bytes trace_id = 1;
  bytes span_id = 2;
  string trace_state = 3;
  bytes parent_span_id = 4;
  string name = 5;
  int32 kind = 6;
  fixed64 start_time_unix_nano = 7;
  fixed64 end_time_unix_nano = 8;
  repeated KeyValue attributes = 9;
  message Event {
    fixed64 time_unix_nano = 1;
    string name = 2;
    repeated KeyValue attributes = 3;
  }
  repeated Event events = 11;
  message Link {
    bytes trace_id = 1;
    bytes span_id = 2;
    string trace_state = 3;
    repeated KeyValue attributes = 4;
    fixed32 flags = 6;
  }
  repeated Link links = 13;
  Status status = 15;
  fixed32 flags = 16;
}
message Status { string message = 2; int32 code = 3; }

message ExportLogsServiceRequest { repeated ResourceLogs resource_logs = 1; }
message ResourceLogs { Resource resource = 1; repeated ScopeLogs scope_logs = 2; }
message ScopeLogs { InstrumentationScope scope = 1; repeated LogRecord log_records = 2; }
message LogRecord {
  fixed64 time_unix_nano = 1;
  int32 severity_number = 2;
  string severity_text = 3;
  AnyValue body = 5;
  repeated KeyValue attributes = 6;
  bytes trace_id = 9;
  bytes span_id = 10;
  fixed64 observed_time_unix_nano = 11;
  string event_name = 12;
}
`;

const root = protobuf.parse(PROTO, { keepCase: true }).root;
const TraceRequest = root.lookupType('otlp.ExportTraceServiceRequest');
const LogsRequest = root.lookupType('otlp.ExportLogsServiceRequest');
// The same messages with the JSON encoding's lowerCamelCase field names (OTLP/JSON).
const jsonRoot = protobuf.parse(PROTO).root;

export const SPAN_KIND = { INTERNAL: 1, SERVER: 2, CLIENT: 3 } as const;
export const STATUS_CODE = { UNSET: 0, OK: 1, ERROR: 2 } as const;

export type AttributeValue = string | number | boolean | AttributeValue[] | { [key: string]: AttributeValue } | null;
export type Attributes = Record<string, AttributeValue>;

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** The W3C tracestate the span carries ('' when none). */
  traceState: string;
  parentSpanId: string;
  name: string;
  kind: number;
  startNs: bigint;
  endNs: bigint;
  /** SpanFlags: the W3C trace flags in bits 0-7; bits 8 and 9 say whether the parent is remote. */
  flags: number;
  attributes: Attributes;
  events: Array<{ name: string; timeNs: bigint; attributes: Attributes }>;
  links: Array<{ traceId: string; spanId: string; flags: number; attributes: Attributes }>;
  status: { code: number; message: string };
  resource: Attributes;
  scope: string;
  scopeVersion: string;
  scopeAttributes: Attributes;
}

export interface ReceivedLog {
  traceId: string;
  spanId: string;
  timeNs: bigint;
  observedTimeNs: bigint;
  severityNumber: number;
  severityText: string;
  body: AttributeValue;
  eventName: string;
  attributes: Attributes;
  resource: Attributes;
  scope: string;
  scopeVersion: string;
  scopeAttributes: Attributes;
}

/* eslint-disable @typescript-eslint/no-explicit-any -- decoded protobuf objects are untyped */
export function decodeSpans(payload: Uint8Array): ReceivedSpan[] {
  const request = TraceRequest.toObject(TraceRequest.decode(payload), { longs: String, bytes: Array }) as any;
  return [...eachItem(request.resource_spans, 'scope_spans', 'spans')].map(({ item: span, origin }) => ({
    traceId: hex(span.trace_id),
    spanId: hex(span.span_id),
    traceState: span.trace_state ?? '',
    parentSpanId: hex(span.parent_span_id),
    name: span.name,
    kind: span.kind ?? 0,
    startNs: BigInt(span.start_time_unix_nano ?? 0),
    endNs: BigInt(span.end_time_unix_nano ?? 0),
    flags: span.flags ?? 0,
    attributes: attributes(span.attributes),
    events: (span.events ?? []).map((event: any) => ({
      name: event.name,
      timeNs: BigInt(event.time_unix_nano ?? 0),
      attributes: attributes(event.attributes),
    })),
    links: (span.links ?? []).map((link: any) => ({ traceId: hex(link.trace_id), spanId: hex(link.span_id), flags: link.flags ?? 0, attributes: attributes(link.attributes) })),
    status: { code: span.status?.code ?? 0, message: span.status?.message ?? '' },
    ...origin,
  }));
}

export function decodeLogs(payload: Uint8Array): ReceivedLog[] {
  const request = LogsRequest.toObject(LogsRequest.decode(payload), { longs: String, bytes: Array }) as any;
  return [...eachItem(request.resource_logs, 'scope_logs', 'log_records')].map(({ item: record, origin }) => ({
    traceId: hex(record.trace_id),
    spanId: hex(record.span_id),
    timeNs: BigInt(record.time_unix_nano ?? 0),
    observedTimeNs: BigInt(record.observed_time_unix_nano ?? 0),
    severityNumber: record.severity_number ?? 0,
    severityText: record.severity_text ?? '',
    body: anyValue(record.body),
    eventName: record.event_name ?? '',
    attributes: attributes(record.attributes),
    ...origin,
  }));
}

/** Every span or log record of a request, with the resource and scope it came under. */
function* eachItem(
  resources: any[] | undefined,
  scopesKey: string,
  itemsKey: string,
): Generator<{ item: any; origin: { resource: Attributes; scope: string; scopeVersion: string; scopeAttributes: Attributes } }> {
  for (const entry of resources ?? []) {
    const resource = attributes(entry.resource?.attributes);
    for (const scoped of entry[scopesKey] ?? []) {
      const scope = scoped.scope ?? {};
      const origin = { resource, scope: scope.name ?? '', scopeVersion: scope.version ?? '', scopeAttributes: attributes(scope.attributes) };
      for (const item of scoped[itemsKey] ?? []) yield { item, origin };
    }
  }
}

/**
 * How many spans, or log records, an OTLP export request holds, without
 * decoding them: a walk over the tags that skips every payload. Both requests
 * nest the same way (resource_* = 1, scope_* = 2, spans / log_records = 2).
 * For a receiver that counts a steady stream on a busy core (the bench's
 * counting sink): decodeSpans builds every attribute.
 */
export function countItems(payload: Uint8Array, path: readonly number[] = [1, 2, 2]): number {
  const reader = protobuf.Reader.create(payload);
  let count = 0;
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    const wireType = tag & 7;
    if (tag >>> 3 !== path[0] || wireType !== 2) reader.skipType(wireType);
    else if (path.length === 1) {
      reader.skipType(wireType);
      count += 1;
    } else count += countItems(reader.bytes(), path.slice(1));
  }
  return count;
}

/**
 * An OTLP/JSON request body as protobuf bytes. OTLP/JSON writes trace and
 * span ids as hex (protobuf's JSON mapping would use base64): turned into bytes first.
 */
export function otlpJsonToProtobuf(signal: 'traces' | 'logs', body: string): Uint8Array {
  const type = jsonRoot.lookupType(signal === 'traces' ? 'otlp.ExportTraceServiceRequest' : 'otlp.ExportLogsServiceRequest');
  const withIdBytes = JSON.parse(body, (key, value: unknown) =>
    ['traceId', 'spanId', 'parentSpanId'].includes(key) && typeof value === 'string' ? Buffer.from(value, 'hex') : value,
  ) as Record<string, unknown>;
  return type.encode(type.fromObject(withIdBytes)).finish();
}

/** One line of the collector's file exporter: an OTLP/JSON export request, of spans or of log records. */
export function decodeJsonLine(line: string): { spans: ReceivedSpan[]; logs: ReceivedLog[] } {
  const request = JSON.parse(line) as { resourceSpans?: unknown; resourceLogs?: unknown };
  return {
    spans: request.resourceSpans ? decodeSpans(otlpJsonToProtobuf('traces', line)) : [],
    logs: request.resourceLogs ? decodeLogs(otlpJsonToProtobuf('logs', line)) : [],
  };
}

/** What a collector's file exporter has written so far (a last line still being written is left for later). */
export function readCollectorFile(file: string): { spans: ReceivedSpan[]; logs: ReceivedLog[] } {
  const lines = existsSync(file) ? readFileSync(file, 'utf8').split('\n').slice(0, -1).map(decodeJsonLine) : [];
  return { spans: lines.flatMap((line) => line.spans), logs: lines.flatMap((line) => line.logs) };
}

function hex(bytes: number[] | undefined): string {
  return Buffer.from(bytes ?? []).toString('hex');
}

function attributes(list: any[] | undefined): Attributes {
  const result: Attributes = {};
  for (const { key, value } of list ?? []) result[key] = anyValue(value);
  return result;
}

function anyValue(value: any): AttributeValue {
  if (!value) return null;
  if ('string_value' in value) return value.string_value;
  if ('bool_value' in value) return value.bool_value;
  if ('int_value' in value) return Number(value.int_value);
  if ('double_value' in value) return value.double_value;
  if ('array_value' in value) return (value.array_value.values ?? []).map(anyValue);
  if ('kvlist_value' in value) return attributes(value.kvlist_value.values);
  if ('bytes_value' in value) return hex(value.bytes_value);
  return null;
}
