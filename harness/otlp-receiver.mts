import * as grpc from '@grpc/grpc-js';
import { decodeLogs, decodeSpans, type ReceivedLog, type ReceivedSpan } from './otlp.mts';
import { waitFor } from './wait.mts';

/**
 * A real OTLP/gRPC receiver for tests: it serves the trace and logs Export
 * RPCs on loopback, decodes the protobuf requests and keeps what arrived.
 */
export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  readonly logs: ReceivedLog[] = [];
  /**
   * When set, every Export is answered with this gRPC status (for example
   * RESOURCE_EXHAUSTED, as an overloaded collector answers) and its data is
   * not kept; `refused` counts those calls. Unset (the default), all is accepted.
   */
  failWith: grpc.status | undefined;
  refused = 0;
  /** The log records of the refused calls, as they were sent. */
  readonly refusedLogs: ReceivedLog[] = [];
  /** The metadata (gRPC's headers) of every Export call, in order. */
  readonly metadata: Array<Record<string, unknown>> = [];
  /** Holds every answer this long, as a slow collector does (0: answer at once). */
  answerDelayMs = 0;
  readonly port: number;
  private readonly server: grpc.Server;

  private constructor(server: grpc.Server, port: number) {
    this.server = server;
    this.port = port;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  static async start(port = 0): Promise<OtlpReceiver> {
    const server = new grpc.Server();
    let receiver: OtlpReceiver | undefined;
    const refusal = () => receiver?.refusal();
    const delay = () => receiver?.answerDelayMs ?? 0;
    const called = (metadata: grpc.Metadata) => receiver?.metadata.push(metadata.getMap());
    server.addService(exportService('opentelemetry.proto.collector.trace.v1.TraceService'), {
      Export: unary((payload) => receiver?.spans.push(...decodeSpans(payload)), refusal, delay, called),
    });
    server.addService(exportService('opentelemetry.proto.collector.logs.v1.LogsService'), {
      Export: unary((payload) => receiver?.logs.push(...decodeLogs(payload)), refusal, delay, called, (payload) => receiver?.refusedLogs.push(...decodeLogs(payload))),
    });
    const boundPort = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    receiver = new OtlpReceiver(server, boundPort);
    return receiver;
  }

  /** Waits until the spans received match `done`, then returns them. */
  waitForSpans(done: (spans: ReceivedSpan[]) => boolean, what: string, timeoutMs = 10_000): Promise<ReceivedSpan[]> {
    return waitFor(() => (done(this.spans) ? this.spans : undefined), `spans: ${what}`, timeoutMs);
  }

  /** Waits until the log records received match `done`, then returns them. */
  waitForLogs(done: (logs: ReceivedLog[]) => boolean, what: string, timeoutMs = 10_000): Promise<ReceivedLog[]> {
    return waitFor(() => (done(this.logs) ? this.logs : undefined), `log records: ${what}`, timeoutMs);
  }

  trace(traceId: string): ReceivedSpan[] {
    return this.spans.filter((span) => span.traceId === traceId);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.tryShutdown(() => resolve()));
  }

  private refusal(): Partial<grpc.StatusObject> | undefined {
    if (this.failWith === undefined) return undefined;
    this.refused += 1;
    return { code: this.failWith, details: 'data refused: the receiver is told to refuse (test stand-in for an overloaded collector)' };
  }
}

/** The service definition, by hand: requests stay raw bytes for our own decoder; an empty response is valid OTLP. */
export function exportService(name: string): grpc.ServiceDefinition {
  return {
    Export: {
      path: `/${name}/Export`,
      requestStream: false,
      responseStream: false,
      requestSerialize: (value: Buffer) => value,
      requestDeserialize: (bytes: Buffer) => bytes,
      responseSerialize: () => Buffer.alloc(0),
      responseDeserialize: () => ({}),
    },
  };
}

function unary(
  receive: (payload: Buffer) => void,
  refusal: () => Partial<grpc.StatusObject> | undefined,
  delay: () => number,
  called: (metadata: grpc.Metadata) => void,
  keepRefused: (payload: Buffer) => void = () => {},
): grpc.handleUnaryCall<Buffer, object> {
  return (call, callback) => {
    called(call.metadata);
    const answer = () => {
      const refused = refusal();
      if (refused) {
        keepRefused(call.request);
        return callback(refused, null);
      }
      receive(call.request);
      callback(null, {});
    };
    if (delay() > 0) setTimeout(answer, delay());
    else answer();
  };
}
