// Preloaded in the benchmark's "yield" experiments (bench/candidates-yield.json):
// the OTLP/gRPC exporters of spans and log records serialize each batch in
// pieces of BENCH_SERIALIZE_CHUNK items (default 64) with the SDK's own
// serializers, yielding to the event loop (setImmediate) between pieces, and
// send the pieces' bytes, concatenated, as one request through the same
// exporter's transport. Protobuf concatenates repeated fields: the bytes of two
// ExportTraceServiceRequests, one after the other, are one request holding the
// ResourceSpans of both (protobuf.dev/programming-guides/encoding, "Last One
// Wins" / repeated fields). So the export stays one gRPC call per batch, with
// its fixed cost paid once, while no piece of the event loop's work is longer
// than one chunk. Measured against the shipped exporter, it says whether the
// p99 at a steady rate is the serializer's one long step (issue 23).
'use strict';
const { ProtobufTraceSerializer, ProtobufLogsSerializer } = require('@opentelemetry/otlp-transformer');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-grpc');
const { OTLPLogExporter } = require('@opentelemetry/exporter-logs-otlp-grpc');

const CHUNK = Number(process.env.BENCH_SERIALIZE_CHUNK || 64);
// BENCH_SERIALIZE_BUDGET_MS: serialize pieces for up to this long before each
// yield, rather than one piece per turn of the event loop.
const BUDGET_MS = Number(process.env.BENCH_SERIALIZE_BUDGET_MS || 0);

function serializeInPieces(serializer, items, done) {
  const pieces = [];
  let next = 0;
  const step = () => {
    const turnStarted = performance.now();
    do {
      pieces.push(serializer.serializeRequest(items.slice(next, next + CHUNK)));
      next += CHUNK;
    } while (next < items.length && performance.now() - turnStarted < BUDGET_MS);
    if (next < items.length) setImmediate(step);
    else done(Buffer.concat(pieces));
  };
  step();
}

function yieldingExport(Exporter, serializer) {
  const sendBytes = Exporter.prototype.export; // OTLPExporterBase: this._delegate.export(items, callback)
  Exporter.prototype.export = function exportInPieces(items, resultCallback) {
    const delegate = this._delegate;
    if (delegate._serializer === serializer) {
      delegate._serializer = { serializeRequest: (bytes) => bytes, deserializeResponse: serializer.deserializeResponse };
    }
    serializeInPieces(serializer, items, (bytes) => sendBytes.call(this, bytes, resultCallback));
  };
}

yieldingExport(OTLPTraceExporter, ProtobufTraceSerializer);
yieldingExport(OTLPLogExporter, ProtobufLogsSerializer);
