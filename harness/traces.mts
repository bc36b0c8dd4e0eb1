import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ROOT_CONTEXT, trace, type Tracer } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace';

/**
 * A W3C traceparent with a fresh trace id, sent the way a traced client
 * would: the test then knows which spans belong to its request. Unsampled
 * (flags 00), the caller decided the trace is not recorded.
 */
export function newTraceparent(sampled = true): { traceparent: string; traceId: string; parentId: string } {
  const traceId = randomBytes(16).toString('hex');
  const parentId = randomBytes(8).toString('hex');
  return { traceparent: `00-${traceId}-${parentId}-${sampled ? '01' : '00'}`, traceId, parentId };
}

/** The span of that name, or a failure that lists the names there are. */
export function named<T extends { name: string }>(spans: T[], name: string): T {
  const span = spans.find((s) => s.name === name);
  assert.ok(span, `no span "${name}" among: ${spans.map((s) => s.name).join(', ')}`);
  return span;
}

/**
 * Sends the spans `make` ends to an OTLP/gRPC `endpoint` in one export, as an
 * SDK's batch would arrive (one export per span would hit the exporter's limit
 * of 30 in flight), and fails unless it was accepted. Resolves with what
 * `make` returned (the trace ids it made, say).
 */
export async function exportSpans<T>(endpoint: string, make: (tracer: Tracer) => T): Promise<T> {
  const ended: ReadableSpan[] = [];
  const provider = new TracerProvider({ spanProcessors: [{ onStart() {}, onEnd: (span) => void ended.push(span), forceFlush: async () => {}, shutdown: async () => {} }] });
  const made = make(provider.getTracer('test'));
  const exporter = new OTLPTraceExporter({ url: endpoint });
  const result = await new Promise<ExportResult>((resolve) => exporter.export(ended, resolve));
  await exporter.shutdown();
  assert.equal(result.code, ExportResultCode.SUCCESS, String(result.error));
  return made;
}

/**
 * One trace of 1,024 spans of 16 KB, 16 MiB in one export: past Sentry's 12 MiB
 * (Relay's max_container_size). Each span carries four attributes at the length the
 * manifests allow (OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT=4096). Resolves with its trace id.
 */
export function exportTraceOf16MiB(endpoint: string): Promise<string> {
  const long = (i: number, key: string) => `${key}-${i}-`.padEnd(4096, 'x');
  return exportSpans(endpoint, (tracer) => {
    const root = tracer.startSpan('GET /reports');
    const parent = trace.setSpan(ROOT_CONTEXT, root);
    for (let i = 1; i < 1024; i += 1) {
      const attributes = Object.fromEntries(['report.a', 'report.b', 'report.c', 'report.d'].map((key) => [key, long(i, key)]));
      tracer.startSpan(`part ${i}`, { attributes }, parent).end();
    }
    root.end();
    return root.spanContext().traceId;
  });
}
