/*
 * Reads what the collector's file exporter writes: one OTLP/JSON export
 * request per line (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding).
 */

export interface Span {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  service: string;
  startNs: bigint;
  endNs: bigint;
  attributes: Record<string, unknown>;
  events: Array<{ name: string; timeNs: bigint; attributes: Record<string, unknown> }>;
  error: boolean;
  statusMessage: string;
}

export interface LogRecord {
  traceId: string;
  spanId: string;
  severity: string;
  body: unknown;
  attributes: Record<string, unknown>;
}

interface KeyValue {
  key: string;
  value?: Record<string, unknown>;
}

const STATUS_ERROR = 2;

export function parseLine(line: string): { spans: Span[]; logs: LogRecord[] } {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- OTLP/JSON as the collector writes it
  const request = JSON.parse(line) as any;
  const spans: Span[] = [];
  const logs: LogRecord[] = [];
  for (const resourceSpans of request.resourceSpans ?? []) {
    const service = String(attributes(resourceSpans.resource?.attributes)['service.name'] ?? '?');
    for (const scopeSpans of resourceSpans.scopeSpans ?? []) {
      for (const span of scopeSpans.spans ?? []) {
        spans.push({
          traceId: span.traceId,
          spanId: span.spanId,
          parentSpanId: span.parentSpanId ?? '',
          name: span.name,
          kind: span.kind ?? 0,
          service,
          startNs: BigInt(span.startTimeUnixNano ?? 0),
          endNs: BigInt(span.endTimeUnixNano ?? 0),
          attributes: attributes(span.attributes),
          events: (span.events ?? []).map((event: { name: string; timeUnixNano?: string; attributes?: KeyValue[] }) => ({
            name: event.name,
            timeNs: BigInt(event.timeUnixNano ?? 0),
            attributes: attributes(event.attributes),
          })),
          error: span.status?.code === STATUS_ERROR,
          statusMessage: span.status?.message ?? '',
        });
      }
    }
  }
  for (const resourceLogs of request.resourceLogs ?? []) {
    for (const scopeLogs of resourceLogs.scopeLogs ?? []) {
      for (const record of scopeLogs.logRecords ?? []) {
        logs.push({
          traceId: record.traceId ?? '',
          spanId: record.spanId ?? '',
          severity: record.severityText ?? '',
          body: anyValue(record.body),
          attributes: attributes(record.attributes),
        });
      }
    }
  }
  return { spans, logs };
}

function attributes(list: KeyValue[] | undefined): Record<string, unknown> {
  return Object.fromEntries((list ?? []).map(({ key, value }) => [key, anyValue(value)]));
}

function anyValue(value: Record<string, unknown> | undefined): unknown {
  if (!value) return undefined;
  const [kind, inner] = Object.entries(value)[0] ?? [];
  if (kind === 'intValue') return Number(inner);
  if (kind === 'arrayValue') return ((inner as { values?: Array<Record<string, unknown>> }).values ?? []).map(anyValue);
  if (kind === 'kvlistValue') return attributes((inner as { values?: KeyValue[] }).values);
  return inner;
}
