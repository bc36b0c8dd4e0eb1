import { setTimeout as sleep } from 'node:timers/promises';
import { SeverityNumber } from '@opentelemetry/api';
import { logger } from './logger';
import { emitEvent, recordError, withSpan } from './telemetry';

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
 * Its events are log records of its span (emitEvent), so Sentry keeps them.
 */
export function middleWork(delayMs: number, signal?: AbortSignal): Promise<WorkResult> {
  return withSpan('middleWork', { 'work.delay_ms': delayMs }, async () => {
    logger.info({ delay_ms: delayMs }, 'middle work started');
    emitEvent('started sleep', { 'work.delay_ms': delayMs });
    await sleep(delayMs, undefined, { signal });
    emitEvent('completed sleep', { 'work.delay_ms': delayMs });

    const error = await errorWork();
    // The message is on the exception record errorWork wrote (error.message is deprecated).
    emitEvent('recovered from error', { 'error.type': error.name });
    logger.warn({ 'error.type': error.name, delay_ms: delayMs }, 'middle work recovered from an error');
    logger.info({ delay_ms: delayMs }, 'middle work finished');
    return { sleptMs: delayMs, recovered: error.message };
  });
}

/** Fails on purpose and hands the error back instead of throwing it. */
export function errorWork(): Promise<SomeworkError> {
  return withSpan('errorWork', {}, async (span) => {
    const error = new SomeworkError('errorWork failed on purpose');
    // The caller recovers from it: WARN, not ERROR (OTEP 4333), and no Sentry issue.
    recordError(span, error, SeverityNumber.WARN);
    return error;
  });
}
