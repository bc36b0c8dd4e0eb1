import { Collector } from '../../harness/collector.mts';
import { freePort } from '../../harness/loopback.mts';
import { CollectorMetrics, type SpanCounter } from './collector-metrics.mts';
import { CountingSink } from './counting-sink.mts';
import { deprioritize, pin, type Pinning } from './pinning.mts';
import type { Variant } from './variants.mts';

/** Where a variant's spans go, and how they are counted there. */
export interface Receiver {
  endpoint: string;
  metrics: SpanCounter;
  stop(): Promise<unknown>;
}

export async function startSink(pinning: Pinning, protocol: Variant['protocol']): Promise<Receiver & { sink: CountingSink }> {
  const sink = await CountingSink.start();
  pin(sink.process.pid!, pinning.collector);
  deprioritize(sink.process.pid!);
  return { endpoint: protocol === 'http/protobuf' ? sink.httpEndpoint : sink.endpoint, metrics: sink, stop: () => sink.stop(), sink };
}

export async function startCollector(pinning: Pinning, protocol: Variant['protocol']): Promise<Receiver> {
  const collector = await Collector.start({
    COLLECTOR_EXPORTERS: '[debug]',
    DEBUG_VERBOSITY: 'basic',
    TAIL_SAMPLING_PERCENTAGE: '100',
    TAIL_SAMPLING_DECISION_WAIT: '1s',
    GOMEMLIMIT: '1GiB',
    ...(pinning.enabled ? { GOMAXPROCS: '1' } : {}),
  });
  pin(collector.process.pid!, pinning.collector);
  deprioritize(collector.process.pid!);
  // Only the tail of its output is of interest (errors); the debug exporter prints a line per batch.
  const keep = () => {
    if (collector.output.length > 200_000) collector.output = collector.output.slice(-50_000);
  };
  collector.process.stdout?.on('data', keep);
  return { endpoint: protocol === 'http/protobuf' ? collector.httpEndpoint : collector.endpoint, metrics: new CollectorMetrics(collector), stop: () => collector.stop() };
}

/** The variant's receiver: the counting sink, the real collector, or none. */
export function startReceiver(variant: Variant, pinning: Pinning): Promise<Receiver> | undefined {
  if (variant.exportTo === 'collector') return startCollector(pinning, variant.protocol);
  if (variant.exportTo === 'sink') return startSink(pinning, variant.protocol);
  return undefined;
}

/** Where the service exports: to its receiver, or to a port where nothing listens (collector down, or untraced). */
export async function exportEndpoint(receiver: Receiver | undefined): Promise<string> {
  return receiver ? receiver.endpoint : `http://127.0.0.1:${await freePort()}`;
}
