/*
 * OTLP/JSON export requests written by hand, for tests that send payloads
 * straight to an ingest: attributes given as plain values (an integer number
 * becomes intValue, any other number doubleValue, an array arrayValue, an
 * object kvlistValue), ids as hex, as OTLP/JSON writes them.
 */

type Plain = string | number | boolean | Plain[] | { [key: string]: Plain };

export function anyValue(value: Plain): object {
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  if (typeof value === 'number') return Number.isInteger(value) ? { intValue: String(value) } : { doubleValue: value };
  if (Array.isArray(value)) return { arrayValue: { values: value.map(anyValue) } };
  return { kvlistValue: { values: keyValues(value) } };
}

export function keyValues(attributes: Record<string, Plain>): object[] {
  return Object.entries(attributes).map(([key, value]) => ({ key, value: anyValue(value) }));
}

export interface Origin {
  resource?: Record<string, Plain>;
  scope?: { name: string; version?: string; attributes?: object[] };
}

/** An ExportTraceServiceRequest with one resource and one scope. */
export function tracesRequest(spans: object[], origin: Origin = {}): { resourceSpans: object[] } {
  return { resourceSpans: [{ resource: { attributes: keyValues(origin.resource ?? {}) }, scopeSpans: [{ scope: origin.scope ?? {}, spans }] }] };
}

/** An ExportLogsServiceRequest with one resource and one scope. */
export function logsRequest(logRecords: object[], origin: Origin = {}): { resourceLogs: object[] } {
  return { resourceLogs: [{ resource: { attributes: keyValues(origin.resource ?? {}) }, scopeLogs: [{ scope: origin.scope ?? {}, logRecords }] }] };
}

/** A time as OTLP/JSON writes it: nanoseconds since the epoch, as a decimal string. */
export function nanos(date = new Date()): string {
  return String(BigInt(date.getTime()) * 1_000_000n);
}

/** POSTs an OTLP/JSON export request to a Sentry project's endpoint (Relay or the stand-in), with the project's key. */
export function postOtlpJson(ingest: { endpoint(signal: 'traces' | 'logs'): string; publicKey: string }, signal: 'traces' | 'logs', body: object): Promise<Response> {
  return fetch(ingest.endpoint(signal), {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-sentry-auth': `sentry sentry_key=${ingest.publicKey}` },
    body: JSON.stringify(body),
  });
}
