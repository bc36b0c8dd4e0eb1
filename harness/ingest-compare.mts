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
 * `sentTraceIds`: the trace ids the payloads carried. Both sides give a span or
 * record without a valid one a random id, so another id is only checked to be well-formed.
 */
export function differences(standIn: Kept, relay: Kept, sentTraceIds: Set<string>): string[] {
  const compareTraceId = (a: { traceId: string }, b: { traceId: string }): string[] =>
    sentTraceIds.has(a.traceId) || !WELL_FORMED_TRACE_ID.test(a.traceId) || !WELL_FORMED_TRACE_ID.test(b.traceId) ? compareFields(a, b, ['traceId']) : [];
  const compareSpan = (a: SentrySpan, b: SentrySpan): string[] => [
    ...compareTraceId(a, b),
    ...compareFields(a, b, ['parentSpanId', 'name', 'kind', 'status', 'links']),
    ...compareTimes(a, b, ['startNs', 'endNs']),
    ...compareAttributes(a.attributes, b.attributes),
  ];
  const compareLog = (a: SentryLog, b: SentryLog): string[] => [
    ...compareTraceId(a, b),
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

/* Items are matched by key, counting repeats: an item kept twice by one side and once by the other is a difference. */
function compareBy<T>(what: string, standIn: T[], relay: T[], key: (item: T) => string, compare: (a: T, b: T) => string[]): string[] {
  const found: string[] = [];
  const standInByKey = Map.groupBy(standIn, key);
  const relayByKey = Map.groupBy(relay, key);
  for (const k of new Set([...standInByKey.keys(), ...relayByKey.keys()])) {
    const ours = standInByKey.get(k) ?? [];
    const theirs = [...(relayByKey.get(k) ?? [])];
    if (theirs.length === 0) found.push(`${what} ${k}: kept by the stand-in, not by Relay`);
    else if (ours.length === 0) found.push(`${what} ${k}: kept by Relay, not by the stand-in`);
    else if (ours.length !== theirs.length) found.push(`${what} ${k}: kept ${ours.length} times by the stand-in, ${theirs.length} by Relay`);
    // Repeats may come in another order: each of ours is compared with an equal one of Relay's, if any.
    for (const item of ours.slice(0, theirs.length)) {
      const index = Math.max(0, theirs.findIndex((other) => compare(item, other).length === 0));
      found.push(...compare(item, theirs.splice(index, 1)[0]!).map((difference) => `${what} ${k}: ${difference}`));
    }
  }
  return found;
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
