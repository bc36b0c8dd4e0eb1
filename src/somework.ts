import { setTimeout as sleep } from 'node:timers/promises';
import { logger } from './logger';
import { recordError, withSpan } from './telemetry';

export class SomeworkError extends Error {
  override name = 'SomeworkError';
}

export interface WorkResult {
  sleptMs: number;
  recovered: string;
}

/**
 * The seed's middle work: sleep (cancellable through `signal`), then call
 * errorWork, which fails; note the failure and carry on. Inside a request
 * this nests under the request's span; outside one it starts its own trace.
 */
export function middleWork(delayMs: number, signal?: AbortSignal): Promise<WorkResult> {
  return withSpan('middleWork', { 'work.delay_ms': delayMs }, async (span) => {
    logger.info({ delay_ms: delayMs }, 'middle work started');
    span.addEvent('started sleep', { 'work.delay_ms': delayMs });
    await sleep(delayMs, undefined, { signal });
    span.addEvent('completed sleep', { 'work.delay_ms': delayMs });

    const error = await errorWork();
    span.addEvent('recovered from error', { 'error.type': error.name, 'error.message': error.message });
    logger.warn({ 'error.type': error.name, 'error.message': error.message }, 'middle work recovered from an error');
    logger.info({ delay_ms: delayMs }, 'middle work finished');
    return { sleptMs: delayMs, recovered: error.message };
  });
}

/** Fails on purpose and hands the error back instead of throwing it. */
export function errorWork(): Promise<SomeworkError> {
  return withSpan('errorWork', {}, async (span) => {
    const error = new SomeworkError('errorWork failed on purpose');
    recordError(span, error);
    return error;
  });
}
