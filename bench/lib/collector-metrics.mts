import { setTimeout as sleep } from 'node:timers/promises';
import { sumSeries, type Collector } from '../../harness/collector.mts';

/** What the collector's OTLP receiver took in, from its own Prometheus metrics. */
export interface ReceiverCounts {
  acceptedSpans: number;
  refusedSpans: number;
  acceptedLogRecords: number;
  refusedLogRecords: number;
  /** Bytes of every trace export request, and the largest, where the receiver counts them (the counting sink). */
  exportBytes?: number;
  largestExportBytes?: number;
}

const METRICS: Record<Exclude<keyof ReceiverCounts, 'exportBytes' | 'largestExportBytes'>, string> = {
  acceptedSpans: 'otelcol_receiver_accepted_spans',
  refusedSpans: 'otelcol_receiver_refused_spans',
  acceptedLogRecords: 'otelcol_receiver_accepted_log_records',
  refusedLogRecords: 'otelcol_receiver_refused_log_records',
};

/** Sums each receiver counter over its label sets (transport grpc and http). */
export function parseReceiverCounts(text: string): ReceiverCounts {
  const counts = (Object.entries(METRICS) as Array<[keyof typeof METRICS, string]>).map(([key, name]) => [key, sumSeries(text, name) ?? 0]);
  return Object.fromEntries(counts) as ReceiverCounts;
}

export class CollectorMetrics implements SpanCounter {
  private readonly collector: Collector;

  constructor(collector: Collector) {
    this.collector = collector;
  }

  async read(): Promise<ReceiverCounts> {
    return parseReceiverCounts(await this.collector.metricsText());
  }

  settle(options: SettleOptions): Promise<ReceiverCounts> {
    return settle(() => this.read(), options);
  }
}

export interface SettleOptions {
  quietMs: number;
  maxMs: number;
  atLeast?: number;
}

/** Where spans are counted: the real collector's metrics, or the counting sink. */
export interface SpanCounter {
  read(): Promise<ReceiverCounts>;
  settle(options: SettleOptions): Promise<ReceiverCounts>;
}

/**
 * Waits until the accepted-span count stops moving: it must stay the same
 * for `quietMs` (longer than the exporter's schedule delay, or a last
 * partial batch would be missed), or reach `atLeast` and then stay put for
 * a short while. Gives up after `maxMs` and returns what it has.
 */
export async function settle(read: () => Promise<ReceiverCounts>, options: SettleOptions): Promise<ReceiverCounts> {
  const deadline = Date.now() + options.maxMs;
  let last = await read();
  let stableSince = Date.now();
  for (;;) {
    await sleep(250);
    const now = await read();
    if (now.acceptedSpans + now.refusedSpans !== last.acceptedSpans + last.refusedSpans) stableSince = Date.now();
    last = now;
    const quietFor = Date.now() - stableSince;
    if (quietFor >= options.quietMs) return last;
    if (options.atLeast !== undefined && now.acceptedSpans >= options.atLeast && quietFor >= 750) return last;
    if (Date.now() > deadline) return last;
  }
}
