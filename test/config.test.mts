import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Collector } from '../harness/collector.mts';
import { closeHttpServer, listenOnLoopback } from '../harness/loopback.mts';
import { SPAN_KIND } from '../harness/otlp.mts';
import { OtlpReceiver } from '../harness/otlp-receiver.mts';
import { FAST_EXPORT } from '../harness/pipeline.mts';
import { SentryIngest } from '../harness/sentry-ingest.mts';
import { ROOT, Service, runService } from '../harness/service.mts';
import { newTraceparent } from '../harness/traces.mts';

const { ConfigError, parseConfig } = await import('../dist/config.js');

const GRPC = 'http://otel-collector.observability.svc.cluster.local:4317';
const HTTP = 'http://otel-collector.observability.svc.cluster.local:4318';

describe('parseConfig: the defaults', () => {
  it('exports over gRPC to the cluster collector on 4317, W3C propagation, no warning', () => {
    const config = parseConfig({});
    assert.deepEqual(config.warnings, []);
    assert.deepEqual(config.tracing.otlp, { protocol: 'grpc', endpoint: GRPC });
    assert.deepEqual(config.logExport.otlp, { protocol: 'grpc', endpoint: GRPC });
    assert.deepEqual(config.tracing.propagators, ['tracecontext', 'baggage']);
    assert.equal(config.tracing.enabled, true);
    assert.equal(config.logExport.enabled, true);
    assert.equal(config.tracing.trustIncomingContext, true);
    assert.equal(config.service.name, 'users-api');
    assert.match(config.service.version, /^\d+\.\d+\.\d+/);
  });
});

describe('parseConfig: OTEL_* values read as the specification says', () => {
  it('OTEL_SDK_DISABLED: only "true", in any case, is true', () => {
    assert.equal(parseConfig({ OTEL_SDK_DISABLED: 'TRUE' }).tracing.enabled, false);
    assert.equal(parseConfig({ OTEL_SDK_DISABLED: 'true' }).logExport.enabled, false);
    assert.equal(parseConfig({ OTEL_SDK_DISABLED: 'False' }).tracing.enabled, true);
    assert.equal(parseConfig({ OTEL_SDK_DISABLED: '  ' }).tracing.enabled, true, 'blank is unset');
  });

  it('OTEL_PROPAGATORS: b3 and b3multi (service meshes), lists in any case, none', () => {
    assert.deepEqual(parseConfig({ OTEL_PROPAGATORS: 'b3' }).tracing.propagators, ['b3']);
    assert.deepEqual(parseConfig({ OTEL_PROPAGATORS: 'tracecontext, B3Multi,baggage' }).tracing.propagators, ['tracecontext', 'b3multi', 'baggage']);
    assert.deepEqual(parseConfig({ OTEL_PROPAGATORS: 'none' }).tracing.propagators, []);
    assert.deepEqual(parseConfig({ OTEL_PROPAGATORS: 'b3' }).warnings, []);
  });

  it('OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf: OTLP/HTTP on 4318, with each signal\'s path', () => {
    const config = parseConfig({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' });
    assert.deepEqual(config.tracing.otlp, { protocol: 'http/protobuf', endpoint: `${HTTP}/v1/traces` });
    assert.deepEqual(config.logExport.otlp, { protocol: 'http/protobuf', endpoint: `${HTTP}/v1/logs` });
    assert.deepEqual(config.warnings, []);
  });

  it('over HTTP the shared endpoint is a base, the signal\'s own endpoint is used as it is', () => {
    const config = parseConfig({
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'https://collector.example:4318/',
      OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: 'https://logs.example/custom/path',
    });
    assert.deepEqual(config.tracing.otlp, { protocol: 'http/json', endpoint: 'https://collector.example:4318/v1/traces' });
    assert.deepEqual(config.logExport.otlp, { protocol: 'http/json', endpoint: 'https://logs.example/custom/path' });
  });

  it('the signal\'s own protocol and endpoint win over the shared ones', () => {
    const config = parseConfig({
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'grpc',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4317',
    });
    assert.deepEqual(config.tracing.otlp, { protocol: 'grpc', endpoint: 'http://collector:4317' });
    assert.deepEqual(config.logExport.otlp, { protocol: 'http/protobuf', endpoint: 'http://collector:4318/v1/logs' });
  });

  it('takes enumerated values in any case', () => {
    const config = parseConfig({ OTEL_TRACES_SAMPLER: 'ParentBased_TraceIdRatio', OTEL_TRACES_SAMPLER_ARG: '0.25', OTEL_LOG_LEVEL: 'ERROR', OTEL_TRACES_EXPORTER: 'Console' });
    assert.equal(config.tracing.sampler, 'parentbased_traceidratio');
    assert.equal(config.tracing.samplerRatio, 0.25);
    assert.equal(config.tracing.diagLogLevel, 'error');
    assert.equal(config.tracing.exporter, 'console');
    assert.deepEqual(config.warnings, []);
  });
});

describe('parseConfig: a bad OTEL_* value is one warning, and the default is used', () => {
  const cases: Array<[Record<string, string>, string, string, (config: ReturnType<typeof parseConfig>) => unknown, unknown]> = [
    [{ OTEL_SDK_DISABLED: '1' }, 'OTEL_SDK_DISABLED', 'false', (c) => c.tracing.enabled, true],
    [{ OTEL_TRACES_EXPORTER: 'zipkin' }, 'OTEL_TRACES_EXPORTER', 'otlp', (c) => c.tracing.exporter, 'otlp'],
    [{ OTEL_LOGS_EXPORTER: 'otlp,console' }, 'OTEL_LOGS_EXPORTER', 'otlp', (c) => c.logExport.exporter, 'otlp'],
    [{ OTEL_LOG_LEVEL: 'bogus' }, 'OTEL_LOG_LEVEL', 'warn', (c) => c.tracing.diagLogLevel, 'warn'],
    [{ OTEL_PROPAGATORS: 'jaeger' }, 'OTEL_PROPAGATORS', 'tracecontext,baggage', (c) => c.tracing.propagators, ['tracecontext', 'baggage']],
    [{ OTEL_TRACES_SAMPLER: 'sometimes' }, 'OTEL_TRACES_SAMPLER', 'parentbased_always_on', (c) => c.tracing.sampler, 'parentbased_always_on'],
    [{ OTEL_TRACES_SAMPLER_ARG: '1.5' }, 'OTEL_TRACES_SAMPLER_ARG', '1', (c) => c.tracing.samplerRatio, 1],
    [{ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/xml' }, 'OTEL_EXPORTER_OTLP_PROTOCOL', 'grpc', (c) => [c.tracing.otlp, c.logExport.otlp], [{ protocol: 'grpc', endpoint: GRPC }, { protocol: 'grpc', endpoint: GRPC }]],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4317' }, 'OTEL_EXPORTER_OTLP_ENDPOINT', GRPC, (c) => c.tracing.otlp.endpoint, GRPC],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4317', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://exa mple' }, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'http://c:4317', (c) => c.tracing.otlp.endpoint, 'http://c:4317'],
    [{ OTEL_BSP_MAX_QUEUE_SIZE: 'lots' }, 'OTEL_BSP_MAX_QUEUE_SIZE', '16384', (c) => c.tracing.batch.maxQueueSize, 16_384],
    [{ OTEL_BSP_MAX_QUEUE_SIZE: '100', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '500' }, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', '100', (c) => c.tracing.batch.maxExportBatchSize, 100],
    [{ OTEL_BLRP_SCHEDULE_DELAY: '-1' }, 'OTEL_BLRP_SCHEDULE_DELAY', '1000', (c) => c.logExport.batch.scheduledDelayMillis, 1000],
    [{ OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: '0' }, 'OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT', '4096', (c) => c.tracing.attributeValueLengthLimit, 4096],
  ];
  for (const [env, variable, used, read, expected] of cases) {
    const [name, value] = Object.entries(env).at(-1)!;
    it(`${name}=${value}`, () => {
      const config = parseConfig(env);
      assert.deepEqual(read(config), expected);
      assert.equal(config.warnings.length, 1, `one warning, got ${JSON.stringify(config.warnings)}`);
      const [warning] = config.warnings;
      assert.equal(warning!.variable, variable);
      assert.equal(warning!.value, value);
      assert.equal(warning!.used, used);
      assert.ok(warning!.message.includes(variable) && warning!.message.includes(`"${value}"`) && warning!.message.endsWith(`using ${used}`), warning!.message);
    });
  }
});

describe('parseConfig: the service\'s own settings fail fast', () => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ PORT: 'eighty' }, /^PORT must be a whole number from 1 to 65535, got "eighty"$/],
    [{ PORT: '0' }, /^PORT must be a whole number from 1 to 65535, got "0"$/],
    [{ DOWNSTREAM_URL: 'users:8080' }, /^DOWNSTREAM_URL must be a URL that starts with http:\/\/ \(plaintext\) or https:\/\/ \(TLS\), got "users:8080"$/],
    [{ SHUTDOWN_GRACE_MS: '10s' }, /^SHUTDOWN_GRACE_MS must be a whole number from 0 to 600000, got "10s"$/],
    [{ LOG_LEVEL: 'loud' }, /^LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "loud"$/],
    [{ TRUST_INCOMING_TRACE_CONTEXT: 'no' }, /^TRUST_INCOMING_TRACE_CONTEXT must be true or false, got "no"$/],
    [{ SENTRY_DSN: 'sentrykey123@sentry.io' }, /^SENTRY_DSN must look like https:\/\/<public key>@o<org>\.ingest\.sentry\.io\/<project id> \(Project Settings > Client Keys\)$/],
  ];
  for (const [env, message] of cases) {
    it(Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' '), () => {
      assert.throws(() => parseConfig(env), (error: Error) => error instanceof ConfigError && message.test(error.message));
    });
  }

  it('TRUST_INCOMING_TRACE_CONTEXT=false turns trust off', () => {
    assert.equal(parseConfig({ TRUST_INCOMING_TRACE_CONTEXT: 'false' }).tracing.trustIncomingContext, false);
  });
});

describe('the running service with bad configuration', () => {
  it('exits 1 with one line naming the variable, for the service\'s own settings', async () => {
    const { code, stderr, stdout } = await runService({ PORT: 'eighty' });
    assert.equal(code, 1);
    assert.equal(stdout, '', 'nothing started, nothing logged');
    assert.equal(stderr, 'configuration error: PORT must be a whole number from 1 to 65535, got "eighty"\n');
  });

  it('does not repeat the Sentry DSN it refuses', async () => {
    const { code, stderr } = await runService({ SENTRY_DSN: 'secretkey@example' });
    assert.equal(code, 1);
    assert.equal(stderr.includes('secretkey'), false, stderr);
  });

  it('serves with the issue\'s OTEL_* values: one warning line each, the defaults used, spans still exported', async () => {
    const receiver = await OtlpReceiver.start();
    const service = await Service.start({
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      ...FAST_EXPORT,
      OTEL_SDK_DISABLED: '1',
      OTEL_TRACES_EXPORTER: 'zipkin',
      OTEL_LOG_LEVEL: 'bogus',
      OTEL_PROPAGATORS: 'b3',
    });
    try {
      const warnings = service.logs.filter((line) => line.level === 'warn');
      assert.deepEqual(
        warnings.map((line) => [line.variable, line.value, line.used]),
        [
          ['OTEL_SDK_DISABLED', '1', 'false'],
          ['OTEL_TRACES_EXPORTER', 'zipkin', 'otlp'],
          ['OTEL_LOG_LEVEL', 'bogus', 'warn'],
        ],
      );
      for (const line of warnings) assert.match(line.msg, new RegExp(`^ignoring ${line.variable}="${line.value}": .*; using ${line.used}$`));

      // b3: the single-header form, as a mesh sidecar sends it.
      const { traceId, parentId } = newTraceparent();
      assert.equal((await service.get('/users/7', { b3: `${traceId}-${parentId}-1` })).status, 200);
      const spans = await receiver.waitForSpans(() => receiver.trace(traceId).length >= 2, 'the spans of the b3-propagated request');
      const server = spans.find((span) => span.traceId === traceId && span.kind === SPAN_KIND.SERVER)!;
      assert.equal(server.parentSpanId, parentId, 'the b3 parent was continued');
    } finally {
      assert.equal(await service.stop(), 0);
      await receiver.close();
    }
  });
});

describe('OTEL_PROPAGATORS=b3multi', () => {
  it('continues X-B3-* headers and sends them on to the next service', async () => {
    const seen: Array<Record<string, string | string[] | undefined>> = [];
    const downstream = createServer((request, response) => {
      seen.push(request.headers);
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"id":"1","name":"User 1"}');
    });
    const port = await listenOnLoopback(downstream);
    const service = await Service.start({ OTEL_PROPAGATORS: 'b3multi', OTEL_TRACES_EXPORTER: 'none', OTEL_LOGS_EXPORTER: 'none', DOWNSTREAM_URL: `http://127.0.0.1:${port}` });
    try {
      const { traceId, parentId } = newTraceparent();
      assert.equal((await service.get('/chain/1', { 'x-b3-traceid': traceId, 'x-b3-spanid': parentId, 'x-b3-sampled': '1' })).status, 200);
      const [headers] = seen;
      assert.equal(headers?.['x-b3-traceid'], traceId, 'the same trace');
      assert.match(String(headers?.['x-b3-spanid']), /^[0-9a-f]{16}$/);
      assert.notEqual(headers?.['x-b3-spanid'], parentId, 'with our client span as the parent');
      assert.equal(headers?.['x-b3-sampled'], '1');
      assert.equal(headers?.traceparent, undefined, 'and only b3');
    } finally {
      await service.stop();
      await closeHttpServer(downstream);
    }
  });
});

describe('the tests\' own environment', () => {
  it('does not leak into the service they start: a developer\'s OTEL_* stays in their shell', async () => {
    const receiver = await OtlpReceiver.start();
    process.env.OTEL_TRACES_EXPORTER = 'none';
    process.env.OTEL_SDK_DISABLED = 'true';
    const service = await Service.start({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, ...FAST_EXPORT }).finally(() => {
      delete process.env.OTEL_TRACES_EXPORTER;
      delete process.env.OTEL_SDK_DISABLED;
    });
    try {
      const { traceparent, traceId } = newTraceparent();
      assert.equal((await service.get('/users/1', { traceparent })).status, 200);
      await receiver.waitForSpans(() => receiver.trace(traceId).length >= 2, 'the spans, exported as by default');
    } finally {
      await service.stop();
      await receiver.close();
    }
  });
});

for (const protocol of ['http/protobuf', 'http/json']) {
  describe(`OTEL_EXPORTER_OTLP_PROTOCOL=${protocol}: spans and log records over OTLP/HTTP, through the real collector`, () => {
    let sentry: SentryIngest;
    let collector: Collector;
    let service: Service;
    const modulesFile = join(tmpdir(), `loaded-modules-${process.pid}-${protocol.replace('/', '-')}.json`);

    before(async () => {
      sentry = await SentryIngest.start();
      collector = await Collector.start(sentry.collectorEnv());
      // Only the base URL, as the OpenTelemetry Operator sets it: the exporters add /v1/traces and /v1/logs.
      service = await Service.start({
        OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.httpEndpoint,
        ...FAST_EXPORT,
        NODE_OPTIONS: `--require ${join(ROOT, 'harness/loaded-modules.cjs')}`,
        LOADED_MODULES_FILE: modulesFile,
      });
    });
    after(async () => {
      await service?.stop();
      await collector?.stop();
      await sentry?.close();
    });

    it('delivers the /users/123 trace and its log records', async () => {
      const { traceparent, traceId } = newTraceparent();
      assert.equal((await service.get('/users/123', { traceparent })).status, 200);
      const spans = await sentry.waitFor(() => (sentry.trace(traceId).length >= 4 ? sentry.trace(traceId) : undefined), 'the four spans');
      assert.deepEqual(spans.map((span) => span.name).sort(), ['GET /users/:id', 'errorWork', 'getUser', 'middleWork']);
      const records = await sentry.waitFor(() => {
        const found = sentry.logs.filter((log) => log.traceId === traceId && log.body === 'middle work started');
        return found.length > 0 ? found : undefined;
      }, 'the log record "middle work started"');
      assert.equal(records[0]!.attributes['resource.service.name'], 'users-api');
      assert.deepEqual(service.logs.filter((line) => line.level === 'warn' && line.trace_id === undefined), [], 'no warning, no export failure');
    });

    it('does not load the gRPC stack', async () => {
      assert.equal(await service.stop(), 0);
      const loaded = JSON.parse(readFileSync(modulesFile, 'utf8')) as string[];
      assert.deepEqual(loaded.filter((path) => path.includes('/@grpc/') || path.includes('otlp-grpc')), []);
      assert.ok(loaded.some((path) => path.includes(protocol === 'http/json' ? 'exporter-trace-otlp-http' : 'exporter-trace-otlp-proto')), 'the probe sees the HTTP exporter');
    });
  });
}
