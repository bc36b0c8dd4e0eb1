/*
 * The counting sink's own process (started by counting-sink.mts with fork):
 * an OTLP/gRPC server for traces and logs that answers every Export at once
 * and only keeps the request bytes. Nothing is decoded while load runs; the
 * spans and log records are counted when the parent asks ({ count: true }),
 * between load phases.
 */
import * as grpc from '@grpc/grpc-js';
import { decodeLogs, decodeSpans } from '../../harness/otlp.mts';
import { exportService } from '../../harness/otlp-receiver.mts';

const pending: { traces: Buffer[]; logs: Buffer[] } = { traces: [], logs: [] };
const counted = { acceptedSpans: 0, refusedSpans: 0, acceptedLogRecords: 0, refusedLogRecords: 0, exportBytes: 0, largestExportBytes: 0, exports: 0 };

/** `countBytes`: the trace service's requests are measured (bytes per span, and the largest, against the receiver's 4 MiB default). */
function service(name: string, keep: Buffer[], countBytes: boolean): [grpc.ServiceDefinition, grpc.UntypedServiceImplementation] {
  const Export: grpc.handleUnaryCall<Buffer, object> = (call, callback) => {
    keep.push(call.request);
    if (countBytes) {
      counted.exportBytes += call.request.length;
      counted.largestExportBytes = Math.max(counted.largestExportBytes, call.request.length);
      counted.exports += 1;
    }
    callback(null, {});
  };
  return [exportService(name), { Export }];
}

const server = new grpc.Server();
server.addService(...service('opentelemetry.proto.collector.trace.v1.TraceService', pending.traces, true));
server.addService(...service('opentelemetry.proto.collector.logs.v1.LogsService', pending.logs, false));
const port = await new Promise<number>((resolve, reject) =>
  server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
);

process.on('message', (message: { count?: boolean; stop?: boolean }) => {
  if (message.count) {
    for (const payload of pending.traces.splice(0)) counted.acceptedSpans += decodeSpans(payload).length;
    for (const payload of pending.logs.splice(0)) counted.acceptedLogRecords += decodeLogs(payload).length;
    process.send!({ counts: counted });
  }
  if (message.stop) server.tryShutdown(() => process.exit(0));
});
process.send!({ port });
