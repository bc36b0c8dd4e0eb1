// Preloaded in the benchmark's "serialized" stage (bench/stages.json): the
// OTLP/gRPC span exporter serializes each batch to protobuf, as it would for
// the wire, then reports success without sending it. Measured against the
// shipped exporter, it splits the export's cost into serialization and transport.
// @opentelemetry/otlp-transformer comes with the exporters (a dependency of theirs).
const { ExportResultCode } = require('@opentelemetry/core');
const { ProtobufTraceSerializer } = require('@opentelemetry/otlp-transformer');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-grpc');

OTLPTraceExporter.prototype.export = function exportWithoutSending(spans, resultCallback) {
  ProtobufTraceSerializer.serializeRequest(spans);
  resultCallback({ code: ExportResultCode.SUCCESS });
};
