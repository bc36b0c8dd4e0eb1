import { OTLPLogExporter as GrpcLogExporter } from '@opentelemetry/exporter-logs-otlp-grpc';
import { OTLPLogExporter as HttpJsonLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as HttpProtobufLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPTraceExporter as GrpcTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as HttpJsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as HttpProtobufTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import type { LogRecordExporter } from '@opentelemetry/sdk-logs';
import type { SpanExporter } from '@opentelemetry/sdk-trace';
import type { OtlpProtocol, OtlpTarget } from './config';

/**
 * The official OTLP exporters, one per protocol and signal
 * (OTEL_EXPORTER_OTLP_PROTOCOL): gRPC on 4317 by default, or OTLP/HTTP on
 * 4318 with protobuf or JSON bodies, which is what the OpenTelemetry
 * Operator's Node.js injection sets. Each gets the full URL from config.
 */
const SPAN_EXPORTERS: Record<OtlpProtocol, new (options: { url: string }) => SpanExporter> = {
  grpc: GrpcTraceExporter,
  'http/protobuf': HttpProtobufTraceExporter,
  'http/json': HttpJsonTraceExporter,
};

const LOG_EXPORTERS: Record<OtlpProtocol, new (options: { url: string }) => LogRecordExporter> = {
  grpc: GrpcLogExporter,
  'http/protobuf': HttpProtobufLogExporter,
  'http/json': HttpJsonLogExporter,
};

export function otlpSpanExporter({ protocol, endpoint }: OtlpTarget): SpanExporter {
  return new SPAN_EXPORTERS[protocol]({ url: endpoint });
}

export function otlpLogExporter({ protocol, endpoint }: OtlpTarget): LogRecordExporter {
  return new LOG_EXPORTERS[protocol]({ url: endpoint });
}
