import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';

/**
 * A W3C traceparent with a fresh trace id, sent the way a traced client
 * would: the test then knows which spans belong to its request. Unsampled
 * (flags 00), the caller decided the trace is not recorded.
 */
export function newTraceparent(sampled = true): { traceparent: string; traceId: string; parentId: string } {
  const traceId = randomBytes(16).toString('hex');
  const parentId = randomBytes(8).toString('hex');
  return { traceparent: `00-${traceId}-${parentId}-${sampled ? '01' : '00'}`, traceId, parentId };
}

/** The span of that name, or a failure that lists the names there are. */
export function named<T extends { name: string }>(spans: T[], name: string): T {
  const span = spans.find((s) => s.name === name);
  assert.ok(span, `no span "${name}" among: ${spans.map((s) => s.name).join(', ')}`);
  return span;
}
