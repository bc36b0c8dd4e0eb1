import { isDeepStrictEqual } from 'node:util';
import type { AttributeValue, Attributes } from './otlp.mts';
import { notModelled, type SentryLog, type SentrySpan } from './sentry-conversion.mts';

/*
 * Compares what the stand-in (sentry-ingest.mts) and the real Relay kept of
 * the same OTLP payloads: which spans and log records, and each one's fields
 * and attributes. Returns the differences as sentences, none when they agree.
 */

export interface Kept {
  spans: SentrySpan[];
  logs: SentryLog[];
}

/**
 * `sentTraceIds`: the trace ids the payloads carried. Both sides give a record
 * without one a random id, so another id is only checked to be well-formed.
 */
export function differences(standIn: Kept, relay: Kept, sentTraceIds: Set<string>): string[] {
  const compareLog = (a: SentryLog, b: SentryLog): string[] => [
    ...(sentTraceIds.has(a.traceId) || !WELL_FORMED_TRACE_ID.test(a.traceId) || !WELL_FORMED_TRACE_ID.test(b.traceId) ? compareFields(a, b, ['traceId']) : []),
    ...compareFields(a, b, ['level', 'body']),
    ...compareTimes(a, b, ['timeNs']),
    ...compareAttributes(a.attributes, b.attributes),
  ];
  return [
    ...compareBy('span', standIn.spans, relay.spans, (span) => span.spanId, compareSpan),
    ...compareBy('log', standIn.logs, relay.logs, (log) => `${log.spanId || '(no span)'} ${JSON.stringify(log.body)}`, compareLog),
  ];
}

const WELL_FORMED_TRACE_ID = /^[0-9a-f]{32}$/;

function compareBy<T>(what: string, standIn: T[], relay: T[], key: (item: T) => string, compare: (a: T, b: T) => string[]): string[] {
  const found: string[] = [];
  const relayByKey = new Map(relay.map((item) => [key(item), item]));
  const standInKeys = new Set(standIn.map(key));
  for (const item of standIn) {
    const other = relayByKey.get(key(item));
    if (!other) found.push(`${what} ${key(item)}: kept by the stand-in, not by Relay`);
    else found.push(...compare(item, other).map((difference) => `${what} ${key(item)}: ${difference}`));
  }
  for (const item of relay) if (!standInKeys.has(key(item))) found.push(`${what} ${key(item)}: kept by Relay, not by the stand-in`);
  return found;
}

function compareSpan(a: SentrySpan, b: SentrySpan): string[] {
  return [
    ...compareFields(a, b, ['traceId', 'parentSpanId', 'name', 'kind', 'status', 'links']),
    ...compareTimes(a, b, ['startNs', 'endNs']),
    ...compareAttributes(a.attributes, b.attributes),
  ];
}

/* Relay's times hold about a microsecond (relay-items.mts): equal within one. */
function compareTimes<T extends object>(a: T, b: T, fields: Array<keyof T>): string[] {
  const apart = (x: unknown, y: unknown) => {
    const difference = (x as bigint) - (y as bigint);
    return difference > 1_000n || difference < -1_000n;
  };
  return fields.filter((field) => apart(a[field], b[field])).map((field) => `${String(field)}: stand-in ${show(a[field])}, Relay ${show(b[field])}`);
}

function compareFields<T extends object>(a: T, b: T, fields: Array<keyof T>): string[] {
  return fields
    .filter((field) => !isDeepStrictEqual(a[field], b[field]))
    .map((field) => `${String(field)}: stand-in ${show(a[field])}, Relay ${show(b[field])}`);
}

function compareAttributes(a: Attributes, b: Attributes): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)].filter((key) => !notModelled(key, b)));
  return [...keys]
    .sort()
    .filter((key) => !isDeepStrictEqual(a[key], b[key]))
    .map((key) => `attribute ${key}: stand-in ${show(a[key])}, Relay ${show(b[key])}`);
}

function show(value: unknown): string {
  return value === undefined ? 'none' : JSON.stringify(value, (_, v: AttributeValue | bigint) => (typeof v === 'bigint' ? String(v) : v));
}
