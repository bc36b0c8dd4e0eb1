import { setTimeout as sleep } from 'node:timers/promises';

/** What the collector's OTLP receiver took in, from its own Prometheus metrics. */
export interface ReceiverCounts {
  acceptedSpans: number;
  refusedSpans: number;
  acceptedLogRecords: number;
  refusedLogRecords: number;
}

const METRICS: Record<keyof ReceiverCounts, string> = {
  acceptedSpans: 'otelcol_receiver_accepted_spans',
  refusedSpans: 'otelcol_receiver_refused_spans',
  acceptedLogRecords: 'otelcol_receiver_accepted_log_records',
  refusedLogRecords: 'otelcol_receiver_refused_log_records',
};

/** Sums each receiver counter over its label sets (transport grpc and http). */
export function parseReceiverCounts(text: string): ReceiverCounts {
  const counts: ReceiverCounts = { acceptedSpans: 0, refusedSpans: 0, acceptedLogRecords: 0, refusedLogRecords: 0 };
  for (const line of text.split('\n')) {
    for (const [key, name] of Object.entries(METRICS) as Array<[keyof ReceiverCounts, string]>) {
      const match = new RegExp(`^${name}(?:_total)?(?:\\{[^}]*\\})?\\s+(\\S+)`).exec(line);
      if (match) counts[key] += Number(match[1]);
    }
  }
  return counts;
}

export class CollectorMetrics {
  readonly port: number;

  constructor(port: number) {
    this.port = port;
  }

  async read(): Promise<ReceiverCounts> {
    const response = await fetch(`http://127.0.0.1:${this.port}/metrics`);
    if (!response.ok) throw new Error(`collector metrics answered ${response.status}`);
    return parseReceiverCounts(await response.text());
  }

  /**
   * Waits until the accepted-span count stops moving: it must stay the same
   * for `quietMs` (longer than the exporter's schedule delay, or a last
   * partial batch would be missed), or reach `atLeast` and then stay put for
   * a short while. Gives up after `maxMs` and returns what it has.
   */
  async settle(options: { quietMs: number; maxMs: number; atLeast?: number }): Promise<ReceiverCounts> {
    const deadline = Date.now() + options.maxMs;
    let last = await this.read();
    let stableSince = Date.now();
    for (;;) {
      await sleep(250);
      const now = await this.read();
      if (now.acceptedSpans + now.refusedSpans !== last.acceptedSpans + last.refusedSpans) stableSince = Date.now();
      last = now;
      const quietFor = Date.now() - stableSince;
      if (quietFor >= options.quietMs) return last;
      if (options.atLeast !== undefined && now.acceptedSpans >= options.atLeast && quietFor >= 750) return last;
      if (Date.now() > deadline) return last;
    }
  }
}
