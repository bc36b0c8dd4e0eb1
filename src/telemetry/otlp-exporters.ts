import { OTLPLogExporter as GrpcLogExporter } from '@opentelemetry/exporter-logs-otlp-grpc';
import { OTLPLogExporter as JsonLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as ProtobufLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPTraceExporter as GrpcTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as JsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtobufTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import type { LogRecordExporter } from '@opentelemetry/sdk-logs';
import type { SpanExporter } from '@opentelemetry/sdk-trace';
import { withVariables } from './environment';
import type { OtlpExportSettings, OtlpProtocol } from './settings';

/**
 * The official OTLP exporters, by OTEL_EXPORTER_OTLP_[SIGNAL_]PROTOCOL: gRPC
 * on 4317 (the kit's default), or OTLP/HTTP on 4318 with protobuf or JSON
 * bodies (what the OpenTelemetry Operator's Node.js injection sets). They read
 * the rest of their OTEL_EXPORTER_OTLP_* settings themselves, the headers
 * without the entries the kit refused (settings.ts, headerOverrides).
 */
type ExporterClass<T> = new (options: { url?: string; timeoutMillis: number }) => T;

const SPAN_EXPORTERS: Record<OtlpProtocol, ExporterClass<SpanExporter>> = {
  grpc: GrpcTraceExporter,
  'http/protobuf': ProtobufTraceExporter,
  'http/json': JsonTraceExporter,
};

const LOG_EXPORTERS: Record<OtlpProtocol, ExporterClass<LogRecordExporter>> = {
  grpc: GrpcLogExporter,
  'http/protobuf': ProtobufLogExporter,
  'http/json': JsonLogExporter,
};

export function otlpSpanExporter(settings: OtlpExportSettings): SpanExporter {
  return build(SPAN_EXPORTERS[settings.protocol], settings);
}

export function otlpLogExporter(settings: OtlpExportSettings): LogRecordExporter {
  return build(LOG_EXPORTERS[settings.protocol], settings);
}

function build<T>(Exporter: ExporterClass<T>, { url, attemptTimeoutMs, exporterEnvironment }: OtlpExportSettings): T {
  return withVariables(exporterEnvironment, () => new Exporter({ url, timeoutMillis: attemptTimeoutMs }));
}
