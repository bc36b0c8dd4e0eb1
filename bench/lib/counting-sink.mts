import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { stopProcess } from '../../harness/process.mts';
import { settle, type ReceiverCounts, type SettleOptions, type SpanCounter } from './collector-metrics.mts';

/**
 * A sink that costs the load generator's core almost nothing: an OTLP/gRPC
 * and OTLP/HTTP server in its own process that keeps the bytes of each export and counts
 * spans only when asked, after a load phase. The headline figures use it, so
 * that what they measure is the service, not a collector competing with the
 * load generator for a core.
 */
export class CountingSink implements SpanCounter {
  readonly process: ChildProcess;
  /** OTLP/gRPC. */
  readonly endpoint: string;
  /** OTLP/HTTP with protobuf bodies (the exporters append /v1/traces and /v1/logs). */
  readonly httpEndpoint: string;
  private constructor(child: ChildProcess, port: number, httpPort: number) {
    this.process = child;
    this.endpoint = `http://127.0.0.1:${port}`;
    this.httpEndpoint = `http://127.0.0.1:${httpPort}`;
  }

  /** On free ports, or on the ports of a sink that was stopped (`at`), so that an exporter finds it again. */
  static async start(at?: CountingSink): Promise<CountingSink> {
    const ports = at ? [new URL(at.endpoint).port, new URL(at.httpEndpoint).port] : [];
    const child = fork(join(import.meta.dirname, 'counting-sink-process.mts'), ports, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const [message] = (await Promise.race([
      once(child, 'message'),
      once(child, 'exit').then(() => {
        throw new Error('the counting sink exited before it listened');
      }),
    ])) as [{ port: number; httpPort: number }];
    return new CountingSink(child, message.port, message.httpPort);
  }

  /** Spans and log records received so far, and the bytes of every export. */
  async read(): Promise<ReceiverCounts & { exports: number }> {
    const answer = once(this.process, 'message') as Promise<[{ counts: ReceiverCounts & { exports: number } }]>;
    this.process.send({ count: true });
    const [message] = await answer;
    return message.counts;
  }

  settle(options: SettleOptions): Promise<ReceiverCounts> {
    return settle(() => this.read(), options);
  }

  /** Stops it once the exports under way are answered; resolves with its last count (undefined if it had gone already). */
  async stop(): Promise<(ReceiverCounts & { exports: number }) | undefined> {
    let last: (ReceiverCounts & { exports: number }) | undefined;
    if (this.process.connected) {
      this.process.on('message', (message: { counts?: ReceiverCounts & { exports: number } }) => (last = message.counts ?? last));
      this.process.send({ stop: true });
    }
    await stopProcess(this.process, null, 5_000);
    return last;
  }
}
