import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SpanKind } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { COLLECTOR_CONFIG, validateConfig, type Collector } from './support/collector.mts';
import { startPipeline, type Pipeline } from './support/pipeline.mts';
import { SPAN_KIND, STATUS_CODE } from './support/otlp-proto.mts';
import type { SentryIngest } from './support/sentry-ingest.mts';
import { ROOT, type Service } from './support/service.mts';
import { waitFor } from './support/wait.mts';
import { named, newTraceparent } from './support/traces.mts';

const SENTRY_EXPORTER_OVERLAY = `${ROOT}/collector/sentry-exporter.yaml`;

describe('the shipped collector configurations validate with the real binary', () => {
  it('config.yaml, with Sentry off (the default)', () => {
    const { status, output } = validateConfig([COLLECTOR_CONFIG]);
    assert.equal(status, 0, output);
  });

  it('config.yaml, with the Sentry OTLP exporter on', () => {
    const { status, output } = validateConfig([COLLECTOR_CONFIG], {
      COLLECTOR_EXPORTERS: '[debug, otlp_http/sentry]',
      SENTRY_OTLP_TRACES_URL: 'https://o1.ingest.sentry.io/api/2/integration/otlp/v1/traces',
      SENTRY_OTLP_LOGS_URL: 'https://o1.ingest.sentry.io/api/2/integration/otlp/v1/logs',
      SENTRY_PUBLIC_KEY: 'examplepublickey',
    });
    assert.equal(status, 0, output);
  });

  it('the contrib sentry exporter variant (several projects, routed by service.name)', () => {
    const { status, output } = validateConfig([COLLECTOR_CONFIG, SENTRY_EXPORTER_OVERLAY], {
      SENTRY_ORG_SLUG: 'example-org',
      SENTRY_AUTH_TOKEN: 'sntrys_example',
    });
    assert.equal(status, 0, output);
  });

  it('refuses a pipeline that names an exporter that does not exist', () => {
    const { status, output } = validateConfig([COLLECTOR_CONFIG], { COLLECTOR_EXPORTERS: '[debug, no_such_exporter]' });
    assert.notEqual(status, 0);
    assert.match(output, /no_such_exporter/);
  });
});

describe('service → real collector → Sentry OTLP ingest stand-in', () => {
  let pipeline: Pipeline;
  let sentry: SentryIngest;
  let collector: Collector;
  let service: Service;

  before(async () => {
    pipeline = await startPipeline({ collectorEnv: { DEBUG_VERBOSITY: 'detailed' } });
    ({ sentry, collector, service } = pipeline);
  });
  after(() => pipeline?.stop());

  it('delivers the whole /users/123 tree, the error span carrying its exception as attributes', async () => {
    const { traceparent: header, traceId } = newTraceparent();
    assert.equal((await service.get('/users/123', { traceparent: header })).status, 200);

    const spans = await sentry.waitFor(() => (sentry.trace(traceId).length >= 4 ? sentry.trace(traceId) : undefined), 'the four spans of /users/123');
    const server = named(spans, 'GET /users/:id');
    const getUser = named(spans, 'getUser');
    const middle = named(spans, 'middleWork');
    const error = named(spans, 'errorWork');
    assert.equal(server.kind, SPAN_KIND.SERVER);
    assert.equal(getUser.parentSpanId, server.spanId);
    assert.equal(middle.parentSpanId, getUser.spanId);
    assert.equal(error.parentSpanId, middle.spanId);

    assert.equal(error.status.code, STATUS_CODE.ERROR);
    assert.ok(error.events.some((e) => e.name === 'exception'), 'the exception event is still sent (Sentry drops it itself)');
    assert.equal(error.attributes['exception.type'], 'SomeworkError');
    assert.equal(error.attributes['exception.message'], 'errorWork failed on purpose');
    assert.match(String(error.attributes['exception.stacktrace']), /SomeworkError: errorWork failed on purpose\n\s+at /);
    assert.equal(middle.attributes['exception.type'], undefined, 'only the span that recorded the exception gets it');
  });

  it('sends the exception to Sentry Logs: stack trace, trace id and span id of the failing span', async () => {
    const { traceparent: header, traceId } = newTraceparent();
    assert.equal((await service.get('/users/123', { traceparent: header })).status, 200);

    const errorSpan = await sentry.waitFor(() => sentry.trace(traceId).find((s) => s.name === 'errorWork'), 'the errorWork span');
    const log = await sentry.waitFor(
      () => sentry.logs.find((l) => l.traceId === traceId && l.spanId === errorSpan.spanId),
      'the exception log record',
    );
    assert.equal(log.attributes['exception.type'], 'SomeworkError');
    assert.equal(log.attributes['exception.message'], 'errorWork failed on purpose');
    assert.match(String(log.attributes['exception.stacktrace']), /at errorWork/);
    assert.ok(log.severityNumber >= 17, `an ERROR severity, got ${log.severityNumber} ${log.severityText}`);
    assert.equal(log.resource['service.name'], 'users-api');
  });

  it('also delivers /error: the server span with its exception attributes', async () => {
    const { traceparent: header, traceId } = newTraceparent();
    assert.equal((await service.get('/error', { traceparent: header })).status, 500);
    const server = await sentry.waitFor(() => sentry.trace(traceId).find((s) => s.kind === SPAN_KIND.SERVER), 'the /error span');
    assert.equal(server.status.code, STATUS_CODE.ERROR);
    assert.equal(server.attributes['exception.message'], 'this endpoint fails on purpose');
  });

  it('prints the spans through the debug exporter in the collector output', async () => {
    await waitFor(() => (/Name\s*:\s*errorWork/.test(collector.output) ? true : undefined), 'errorWork in the debug output');
    assert.match(collector.output, /Name\s*:\s*GET \/users\/:id/);
  });
});

describe('tail sampling', () => {
  it('with the share of ordinary traces at 0, keeps the error traces and drops the rest', async () => {
    const pipeline = await startPipeline({ collectorEnv: { TAIL_SAMPLING_PERCENTAGE: '0' } });
    const { sentry, collector, service } = pipeline;
    try {
      const ordinary = newTraceparent();
      const failing = newTraceparent();
      assert.equal((await service.get('/users/42', { traceparent: ordinary.traceparent })).status, 200);
      assert.equal((await service.get('/users/123', { traceparent: failing.traceparent })).status, 200);

      await sentry.waitFor(() => (sentry.trace(failing.traceId).length >= 4 ? true : undefined), 'the error trace');
      // The collector counts its decisions: once it has dropped one trace, that trace never leaves.
      const dropped = { decision: 'not_sampled' };
      await waitFor(async () => ((await collector.metric('otelcol_processor_tail_sampling_global_count_traces_sampled', dropped)) === 1 || undefined), 'the decision to drop one trace');
      assert.deepEqual(sentry.trace(ordinary.traceId), [], 'the ordinary trace was sampled out');
    } finally {
      await pipeline.stop();
    }
  });
});

describe('a wrong Sentry key', () => {
  it('gets 401 from the stand-in, the collector reports it, the service keeps serving', async () => {
    const pipeline = await startPipeline({ sentryKey: 'not-the-right-key' });
    const { sentry, collector, service } = pipeline;
    try {
      for (let i = 0; i < 5; i += 1) assert.equal((await service.get('/users/123')).status, 200);
      await sentry.waitFor(() => sentry.rejected.find((r) => r.status === 401), 'a rejected export');
      await waitFor(() => (/401/.test(collector.output) ? true : undefined), 'the collector to report the 401');
      assert.match(collector.output, /otlp_http\/sentry/);
      assert.equal(sentry.spans.length, 0);
      assert.equal((await service.get('/users/42')).status, 200);
      assert.equal(service.logs.some((line) => / export is failing/.test(line.msg)), false, 'service → collector export is fine');
    } finally {
      await pipeline.stop();
    }
  });
});

describe('no personal data to Sentry by default: the collector\'s transform/drop_personal_data', () => {
  let pipeline: Pipeline;
  before(async () => {
    pipeline = await startPipeline();
  });
  after(() => pipeline?.stop());

  it('removes the caller\'s address, user agent and query string from server spans, keeps the path, the route and user.id', async () => {
    const { sentry, service } = pipeline;
    const { traceparent, traceId } = newTraceparent();
    const response = await service.get('/users/42?email=jane%40example.com', { traceparent, 'user-agent': 'Mozilla/5.0 (Jane\'s laptop)' });
    assert.equal(response.status, 200);
    const spans = await sentry.waitFor(() => (sentry.trace(traceId).length >= 2 ? sentry.trace(traceId) : undefined), 'the spans of /users/42');
    const server = named(spans, 'GET /users/:id');
    for (const key of ['client.address', 'network.peer.address', 'user_agent.original', 'url.query']) {
      assert.equal(server.attributes[key], undefined, `${key} removed`);
    }
    assert.equal(server.attributes['url.path'], '/users/42');
    assert.equal(server.attributes['http.route'], '/users/:id');
    assert.equal(server.attributes['http.request.method'], 'GET');
    assert.equal(named(spans, 'getUser').attributes['user.id'], '42', 'user.id stays: a value to think about');
  });

  it('leaves none of it in the exception log records the connector makes from spans', async () => {
    const { sentry, service } = pipeline;
    const { traceparent, traceId } = newTraceparent();
    assert.equal((await service.get('/error?session=secret', { traceparent, 'user-agent': 'Mozilla/5.0 (Jane\'s laptop)' })).status, 500);
    const log = await sentry.waitFor(() => sentry.logs.find((l) => l.traceId === traceId && l.attributes['span.name'] !== undefined), 'the exception log of /error');
    assert.equal(log.attributes['url.path'], '/error');
    for (const key of ['client.address', 'network.peer.address', 'user_agent.original', 'url.query']) assert.equal(log.attributes[key], undefined, `${key} removed`);
  });

  it('cuts the credentials, query and fragment from url.full on client spans, keeping host and path', async () => {
    const { sentry, collector } = pipeline;
    // A client span as any OpenTelemetry SDK sends it, straight to the collector.
    const exporter = new OTLPTraceExporter({ url: collector.endpoint });
    const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
    const span = provider.getTracer('test').startSpan('GET', {
      kind: SpanKind.CLIENT,
      attributes: { 'http.request.method': 'GET', 'url.full': 'https://jane:hunter2@api.example.com:8443/v1/users/42?email=jane%40example.com#profile' },
    });
    const { traceId } = span.spanContext();
    span.end();
    await provider.shutdown();
    const [client] = await sentry.waitFor(() => (sentry.trace(traceId).length > 0 ? sentry.trace(traceId) : undefined), 'the client span');
    assert.equal(client!.attributes['url.full'], 'https://api.example.com:8443/v1/users/42');
  });
});
