/*
 * The counting sink's own process (started by counting-sink.mts with fork):
 * an OTLP/gRPC server for traces and logs, and an OTLP/HTTP (protobuf) one,
 * that answers every Export at once
 * and only keeps the request bytes. Nothing is decoded while load runs; the
 * spans and log records are counted when the parent asks ({ count: true }),
 * between load phases, and once more when it stops. Its ports are free ones,
 * or the two given as arguments (a sink that comes back where it was).
 */
import { createServer } from 'node:http';
import http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { countItems } from '../../harness/otlp.mts';
import { exportService } from '../../harness/otlp-receiver.mts';

const pending: { traces: Buffer[]; logs: Buffer[] } = { traces: [], logs: [] };
const counted = { acceptedSpans: 0, refusedSpans: 0, acceptedLogRecords: 0, refusedLogRecords: 0, exportBytes: 0, largestExportBytes: 0, exports: 0 };

/** Trace exports are measured (bytes per span, and the largest, against the receiver's 4 MiB default). */
function keepTraces(request: Buffer): void {
  pending.traces.push(request);
  counted.exportBytes += request.length;
  counted.largestExportBytes = Math.max(counted.largestExportBytes, request.length);
  counted.exports += 1;
}

function service(name: string, keep: (request: Buffer) => void): [grpc.ServiceDefinition, grpc.UntypedServiceImplementation] {
  const Export: grpc.handleUnaryCall<Buffer, object> = (call, callback) => {
    keep(call.request);
    callback(null, {});
  };
  return [exportService(name), { Export }];
}

/*
 * HTTP/2 flow control as the collector's receiver has it once warm. grpc-go
 * grows each connection's and stream's window from 64 KiB up to 16 MiB as it
 * measures the bandwidth-delay product (internal/transport/bdp_estimator.go,
 * bdpLimit); grpc-js keeps HTTP/2's 64 KiB, so a 0.6 MB export would wait for
 * ten WINDOW_UPDATEs, each behind a turn of the service's busy event loop.
 * grpc-js has no server option for it: its http2 server is given the window here.
 */
const GRPC_GO_MAX_WINDOW = 16 * 1024 * 1024;
const createHttp2Server = http2.createServer;
type RequestHandler = (request: http2.Http2ServerRequest, response: http2.Http2ServerResponse) => void;
http2.createServer = ((options: http2.ServerOptions = {}, ...handler: RequestHandler[]) => {
  const server = createHttp2Server({ ...options, settings: { ...options.settings, initialWindowSize: GRPC_GO_MAX_WINDOW } }, ...handler);
  server.on('session', (session) => session.setLocalWindowSize(GRPC_GO_MAX_WINDOW));
  return server;
}) as typeof http2.createServer;

const server = new grpc.Server();
server.addService(...service('opentelemetry.proto.collector.trace.v1.TraceService', keepTraces));
server.addService(...service('opentelemetry.proto.collector.logs.v1.LogsService', (request) => pending.logs.push(request)));
const [wantedPort = 0, wantedHttpPort = 0] = process.argv.slice(2).map(Number);
const port = await new Promise<number>((resolve, reject) =>
  server.bindAsync(`127.0.0.1:${wantedPort}`, grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
);

// OTLP/HTTP with protobuf bodies: an empty body is a valid, empty Export*ServiceResponse.
const httpRoutes: Record<string, (request: Buffer) => void> = { '/v1/traces': keepTraces, '/v1/logs': (request) => pending.logs.push(request) };
const httpServer = createServer((request, response) => {
  const keep = request.method === 'POST' ? httpRoutes[request.url ?? ''] : undefined;
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    if (!keep) return void response.writeHead(404).end();
    keep(Buffer.concat(chunks));
    response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
  });
});
await new Promise<void>((resolve) => httpServer.listen(wantedHttpPort, '127.0.0.1', resolve));
const httpPort = (httpServer.address() as { port: number }).port;

function count(): typeof counted {
  for (const payload of pending.traces.splice(0)) counted.acceptedSpans += countItems(payload);
  for (const payload of pending.logs.splice(0)) counted.acceptedLogRecords += countItems(payload);
  return counted;
}

process.on('message', (message: { count?: boolean; stop?: boolean }) => {
  if (message.count) process.send!({ counts: count() });
  if (message.stop) {
    httpServer.close();
    // Exports under way finish first; their spans are in the last count.
    server.tryShutdown(() => process.send!({ counts: count() }, () => process.exit(0)));
  }
});
process.send!({ port, httpPort });
