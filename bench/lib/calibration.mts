import { status } from '../../harness/service.mts';
import type { ReceiverCounts, SpanCounter } from './collector-metrics.mts';
import { PATHS, settings } from './settings.mts';
import { OWN_SPANS_PER_REQUEST, type Variant } from './variants.mts';

export interface Calibration {
  spansPerRequest: Record<string, number>;
  /** Log records per request, where the receiver counts them (the counting sink does). */
  logRecordsPerRequest: Record<string, number>;
  notes: string[];
}

/**
 * What each request makes, as the receiver counts it: a few requests of one
 * path at a time, then a full flush. Without a receiver, a traced variant
 * takes `fallback` (the traced variant's), else our own build's numbers.
 */
export async function calibrate(url: string, receiver: SpanCounter | undefined, variant: Variant, fallback?: Record<string, number>): Promise<Calibration> {
  const none = () => Object.fromEntries(PATHS.map((path) => [path, 0]));
  const spansPerRequest = none();
  const logRecordsPerRequest = none();
  const notes: string[] = [];
  if (!receiver) {
    if (!variant.traced) return { spansPerRequest, logRecordsPerRequest, notes };
    return { spansPerRequest: fallback ?? OWN_SPANS_PER_REQUEST, logRecordsPerRequest, notes: ['no collector: spans per request taken from the traced variant'] };
  }
  const flushed = () => receiver.settle({ quietMs: variant.flushQuietMs, maxMs: variant.flushQuietMs + 15_000 });
  // Spans of the readiness polls (the peer traces /readyz) must not count as the first request's.
  await flushed();
  for (const path of PATHS) {
    const before: ReceiverCounts = await receiver.read();
    for (let i = 0; i < settings.calibrationRequests; i += 1) {
      const answer = await status(`${url}${path}`, 10_000);
      if (answer !== 200) throw new Error(`${path} answered ${answer} during calibration`);
    }
    const after = await flushed();
    spansPerRequest[path] = (after.acceptedSpans - before.acceptedSpans) / settings.calibrationRequests;
    logRecordsPerRequest[path] = (after.acceptedLogRecords - before.acceptedLogRecords) / settings.calibrationRequests;
  }
  if (!Object.values(spansPerRequest).every(Number.isInteger)) notes.push(`calibration gave a fractional span count: ${JSON.stringify(spansPerRequest)}`);
  return { spansPerRequest, logRecordsPerRequest, notes };
}

/** Spans (or log records) that the answered requests should have made. */
export function expectedItems(perPath: Record<string, number>, perRequest: Record<string, number>): number {
  return Object.entries(perPath).reduce((sum, [path, count]) => sum + count * (perRequest[path] ?? 0), 0);
}
