import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { withPreload } from '../bench/lib/launch.mts';
import { freePort } from '../harness/loopback.mts';
import { DIAGNOSTICS_PRELOAD, ServiceDiagnostics } from '../bench/lib/service-diagnostics.mts';
import { FAST_EXPORT, startPipeline, type Pipeline } from '../harness/pipeline.mts';
import { SentryEnvelopes } from '../harness/sentry-envelopes.mts';
import type { SentryIngest } from '../harness/sentry-ingest.mts';
import { OtlpReceiver } from '../harness/otlp-receiver.mts';
import { ROOT, SERVICE_NODE_ARGS, Service } from '../harness/service.mts';
import { waitFor } from '../harness/wait.mts';
import { newTraceparent } from '../harness/traces.mts';

const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

describe('logs next to traces: service → real collector → Sentry Logs stand-in', () => {
  let pipeline: Pipeline;
  let sentry: SentryIngest;
  let service: Service;

  before(async () => {
    pipeline = await startPipeline();
    ({ sentry, service } = pipeline);
  });
  after(() => pipeline?.stop());

  it('delivers the log records of /users/123 in its trace, with body, level and attributes as written', async () => {
    const { traceparent: header, traceId } = newTraceparent();
    assert.equal((await service.get('/users/123', { traceparent: header })).status, 200);

    const records = await sentry.waitFor(() => {
      // The service's own log lines; its events are tested in test/collector.test.mts.
      const found = sentry.logs.filter((log) => log.traceId === traceId && log.attributes['event.name'] === undefined);
      return found.length >= 3 ? found : undefined;
    }, 'the three log records of /users/123');
    const byBody = Object.fromEntries(records.map((record) => [record.body, record]));
    assert.deepEqual(Object.keys(byBody).sort(), ['middle work finished', 'middle work recovered from an error', 'middle work started']);

    const started = byBody['middle work started']!;
    assert.equal(started.level, 'info');
    assert.equal(started.attributes.delay_ms, 50);
    assert.equal(started.attributes['resource.service.name'], 'users-api');

    const recovered = byBody['middle work recovered from an error']!;
    assert.equal(recovered.level, 'warn');
    assert.equal(recovered.attributes['error.type'], 'SomeworkError');
    assert.equal(recovered.attributes.delay_ms, 50);

    // Each record sits on the span that was active when it was written: middleWork.
    const middleWork = await sentry.waitFor(() => sentry.trace(traceId).find((span) => span.name === 'middleWork'), 'the middleWork span');
    for (const record of records) assert.equal(record.spanId, middleWork.spanId);
    // The same lines on stdout, with the same ids.
    const stdout = service.logs.filter((line) => line.trace_id === traceId);
    assert.deepEqual(stdout.map((line) => line.msg).sort(), Object.keys(byBody).sort());
    assert.ok(stdout.every((line) => line.span_id === middleWork.spanId));
  });

  it('in a trace its caller left unsampled: no span and no event, the log lines all the same', async () => {
    const unsampled = newTraceparent(false);
    assert.equal((await service.get('/users/123', { traceparent: unsampled.traceparent })).status, 200);
    const sampled = newTraceparent();
    assert.equal((await service.get('/users/123', { traceparent: sampled.traceparent })).status, 200);

    const isEvent = (log: { attributes: Record<string, unknown> }) => log.attributes['event.name'] !== undefined;
    // The later, sampled request's four events came through the same pipeline after the earlier request's records.
    await sentry.waitFor(() => (sentry.logs.filter((log) => log.traceId === sampled.traceId && isEvent(log)).length >= 4 ? true : undefined), 'the sampled trace\'s four events');
    const lines = await sentry.waitFor(() => {
      const found = sentry.logs.filter((log) => log.traceId === unsampled.traceId);
      return found.length >= 3 ? found : undefined;
    }, 'the unsampled trace\'s three log lines');
    assert.deepEqual(lines.map((log) => log.body).sort(), ['middle work finished', 'middle work recovered from an error', 'middle work started']);
    assert.deepEqual(lines.filter(isEvent), [], 'its events went with its spans');
    assert.deepEqual(sentry.trace(unsampled.traceId), []);
  });

  it('every line the service wrote reaches Sentry Logs with its body, and Sentry discards none', async () => {
    assert.equal((await service.get('/error')).status, 500);
    assert.equal((await service.get('/nowhere')).status, 404);
    const written = service.logs.map((line) => line.msg);
    assert.ok(written.includes('listening') && written.includes('request failed'), `lines written: ${written.join(', ')}`);
    await sentry.waitFor(() => {
      const bodies = sentry.logs.map((log) => log.body);
      return written.every((msg) => bodies.includes(msg)) ? true : undefined;
    }, `a record for each of ${written.length} lines`);
    assert.deepEqual(sentry.discarded, []);
    assert.deepEqual(sentry.rejected, []);
  });
});

describe('environment and release: an Issue, its trace and its logs carry the same pair', () => {
  const cases: Array<[string, Record<string, string>, { environment: string; release: string }]> = [
    ['DEPLOYMENT_ENVIRONMENT and the package version', { DEPLOYMENT_ENVIRONMENT: 'production' }, { environment: 'production', release: `users-api@${VERSION}` }],
    // The release follows the resource as it finally is: its name and version can come from the environment.
    ['a name and version from OTEL_RESOURCE_ATTRIBUTES', { OTEL_RESOURCE_ATTRIBUTES: 'service.name=shop,service.version=9.9.9' }, { environment: 'local', release: 'shop@9.9.9' }],
    ['OTEL_SERVICE_NAME, which wins over service.name in OTEL_RESOURCE_ATTRIBUTES', { OTEL_SERVICE_NAME: 'checkout', OTEL_RESOURCE_ATTRIBUTES: 'service.name=shop' }, { environment: 'local', release: `checkout@${VERSION}` }],
    // What a platform (the OpenTelemetry Operator, say) puts on every pod's resource is kept, unless the service is told otherwise.
    ['deployment.environment.name from OTEL_RESOURCE_ATTRIBUTES', { OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=staging' }, { environment: 'staging', release: `users-api@${VERSION}` }],
    ['DEPLOYMENT_ENVIRONMENT, which wins over OTEL_RESOURCE_ATTRIBUTES', { DEPLOYMENT_ENVIRONMENT: 'production', OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=staging' }, { environment: 'production', release: `users-api@${VERSION}` }],
  ];
  for (const [what, serviceEnv, expected] of cases) {
    it(`${what}: the same pair on the Sentry SDK event, every span and every log record`, async () => {
      const envelopes = await SentryEnvelopes.start();
      const pipeline = await startPipeline({ serviceEnv: { SENTRY_DSN: envelopes.dsn, ...serviceEnv } });
      const { sentry, service } = pipeline;
      try {
        const { traceparent: header, traceId } = newTraceparent();
        assert.equal((await service.get('/error', { traceparent: header })).status, 500);

        const issue = await waitFor(() => envelopes.ofType('event').find((item) => item.payload.contexts?.trace?.trace_id === traceId), 'the Issue');
        assert.deepEqual({ environment: issue.payload.environment, release: issue.payload.release }, expected);

        const spans = await sentry.waitFor(() => (sentry.trace(traceId).length > 0 ? sentry.trace(traceId) : undefined), 'the trace');
        // The service's log line and the exception, a log record of the server span.
        const logs = await sentry.waitFor(() => {
          const found = sentry.logs.filter((log) => log.traceId === traceId);
          return found.length >= 2 ? found : undefined;
        }, 'the two logs of the trace');
        for (const item of [...spans, ...logs]) {
          assert.deepEqual(
            { environment: item.attributes['sentry.environment'], release: item.attributes['sentry.release'] },
            expected,
            `${'name' in item ? `span ${item.name}` : `log "${item.body}"`}`,
          );
        }
      } finally {
        await pipeline.stop();
        await envelopes.close();
      }
    });
  }

  it('refuses an environment name Sentry would not accept, naming the variable', async () => {
    const run = spawnSync(process.execPath, [join(ROOT, 'dist/server.js')], {
      env: { PATH: process.env.PATH ?? '', DEPLOYMENT_ENVIRONMENT: 'prod/eu', OTEL_SDK_DISABLED: 'true' },
      encoding: 'utf8',
      timeout: 10_000,
    });
    assert.equal(run.status, 1);
    assert.match(run.stderr, /^configuration error: DEPLOYMENT_ENVIRONMENT must be a name without slashes or spaces/m);
  });
});

describe('log export with the collector away', () => {
  it('keeps answering with memory bounded, drops with a count, and resumes when the collector is back', async () => {
    const grpcPort = await freePort();
    const diagnosticsFile = join(mkdtempSync(join(tmpdir(), 'users-api-logs-away-')), 'diagnostics.jsonl');
    // Spans off, so that only the log records can wait for the collector. The bench's diagnostics preload
    // reads the live heap after a full GC: RSS would measure how V8 sizes its heap, not what the service
    // keeps (docs/performance.md, the soak's third run).
    const service = await Service.start(
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${grpcPort}`,
        ...FAST_EXPORT,
        OTEL_BLRP_MAX_QUEUE_SIZE: '512',
        OTEL_TRACES_EXPORTER: 'none',
        ...ServiceDiagnostics.env(diagnosticsFile),
      },
      { nodeArgs: ['--expose-gc', ...withPreload(SERVICE_NODE_ARGS, DIAGNOSTICS_PRELOAD)] },
    );
    const diagnostics = new ServiceDiagnostics(diagnosticsFile, service.process.pid!);
    let receiver: OtlpReceiver | undefined;
    try {
      const request = async () => assert.equal((await service.get('/work?ms=0')).status, 200);
      const requests = async (count: number) => {
        for (let i = 0; i < count; i += 1) await request();
      };
      const liveHeapMiB = async () => (await diagnostics.take({ gcFirst: 'full' })).memoryMiB.heapUsed;
      await requests(300); // the queue fills: 3 records a request
      const before = await liveHeapMiB();
      await requests(3000); // 9,000 more records, all dropped
      const after = await liveHeapMiB();
      // The queue holds 512 records of well under 1 KB each; the 9,000 dropped, if kept, would be megabytes.
      assert.ok(after - before < 2, `the live heap grew by ${(after - before).toFixed(1)} MiB (${before.toFixed(1)} → ${after.toFixed(1)}) while 9,000 log records were dropped`);
      await waitFor(() => service.logs.find((line) => /log record export is failing/.test(line.msg)), 'the log export failure');

      receiver = await OtlpReceiver.start(grpcPort);
      const { traceparent: header, traceId } = newTraceparent();
      await waitFor(
        async () => {
          await service.get('/users/123', { traceparent: header });
          return receiver!.logs.some((log) => log.traceId === traceId) || undefined;
        },
        'log records to arrive after the collector came back',
        20_000,
      );
      await waitFor(() => service.logs.find((line) => /log record export recovered/.test(line.msg)), 'the recovery to be reported');
      const recovered = service.logs.find((line) => /log record export recovered/.test(line.msg))!;
      assert.ok(Number(recovered.lost) > 0, 'the recovery line counts what was lost');
      assert.equal(await service.stop(), 0);
    } finally {
      await service.stop();
      await receiver?.close();
    }
  });
});

describe('the logger never throws', () => {
  it('exports circular objects, BigInts, Symbols, throwing getters and huge values as the line on stdout says, bounded by the OTEL_* limits', async () => {
    const receiver = await OtlpReceiver.start();
    const service = await Service.start({
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      ...FAST_EXPORT,
      // As the Deployments set it (k8s/base/app): the specification's default is no limit.
      OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: '4096',
      NODE_OPTIONS: `--require ${join(ROOT, 'harness/misbehave.cjs')}`,
      MISBEHAVE: 'log-hostile',
    });
    try {
      service.process.kill('SIGUSR2');
      await waitFor(() => receiver.logs.find((log) => log.body === 'after the hostile calls'), 'the record written after the hostile calls');
      assert.equal(service.process.exitCode, null, 'still running');
      assert.equal((await service.get('/users/42')).status, 200);

      const span = await receiver.waitForSpans((spans) => spans.some((s) => s.name === 'misbehaving'), 'the span the calls were made in');
      const records = receiver.logs.filter((log) => log.traceId === span.find((s) => s.name === 'misbehaving')!.traceId);
      assert.equal(records.length, 12, `one record per call: ${records.map((r) => String(r.body).slice(0, 40)).join(' | ')}`);
      const attributesOf = (body: string) => records.find((record) => record.body === body)!.attributes;

      // pino serializes each value once; the record carries what the stdout line says.
      assert.deepEqual(attributesOf('a circular object').circular, { name: 'circular', self: '[Circular]' });
      assert.equal(typeof attributesOf('a BigInt').big, 'number');
      assert.deepEqual(attributesOf('a Symbol'), {});
      assert.match(String(attributesOf('a throwing getter').throwing), /unable to serialize/);
      assert.ok(records.some((record) => record.body === 'user ada has 3 items ({"a":1})'), 'printf-style arguments are formatted into the body');
      const error = attributesOf('an error as the only argument');
      assert.equal(error['exception.type'], 'Error');
      assert.match(String(error['exception.stacktrace']), /^Error: an error as the only argument\n\s+at /);
      // A call without a message: no body here; the collector gives it one (test/collector.test.mts).
      assert.ok(records.some((record) => record.body === null && record.attributes.only === 'fields'));

      // What one call can export is bounded by the limits.
      assert.equal(String(attributesOf('a 1 MB string').huge).length, 4096);
      assert.equal(Object.keys(attributesOf('ten thousand fields')).length, 128, 'the default OTEL_ATTRIBUTE_COUNT_LIMIT');

      // stdout has every line.
      await waitFor(() => service.logs.find((line) => line.msg === 'after the hostile calls'), 'the last line on stdout');
      for (const msg of ['a circular object', 'a BigInt', 'a throwing getter', 'after the hostile calls']) assert.ok(service.logs.some((line) => line.msg === msg), `${msg}: ${service.logs.map((line) => String(line.msg).slice(0, 30)).join(' | ')}`);
      assert.equal(await service.stop(), 0);
    } finally {
      await service.stop();
      await receiver.close();
    }
  });
});

describe('the log record limits', () => {
  it('are the OTEL_LOGRECORD_ATTRIBUTE_* (or OTEL_ATTRIBUTE_*) variables, read by NodeSDK', async () => {
    const receiver = await OtlpReceiver.start();
    const service = await Service.start({
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      ...FAST_EXPORT,
      OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT: '10',
      OTEL_ATTRIBUTE_COUNT_LIMIT: '1',
    });
    try {
      assert.equal((await service.get('/users/123')).status, 200);
      const recovered = await receiver.waitForLogs((logs) => logs.some((log) => log.body === 'middle work recovered from an error'), 'the warn line of somework')
        .then((logs) => logs.find((log) => log.body === 'middle work recovered from an error')!);
      // Written with error.type and delay_ms: one attribute kept, cut to 10 characters.
      assert.deepEqual(Object.values(recovered.attributes), ['SomeworkEr']);
      assert.equal(await service.stop(), 0);
    } finally {
      await service.stop();
      await receiver.close();
    }
  });
});

describe('OTEL_LOGS_EXPORTER=none', () => {
  it('turns log export off while stdout keeps every line', async () => {
    const receiver = await OtlpReceiver.start();
    const service = await Service.start({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_LOGS_EXPORTER: 'none', ...FAST_EXPORT });
    try {
      const { traceparent: header, traceId } = newTraceparent();
      assert.equal((await service.get('/users/123', { traceparent: header })).status, 200);
      await receiver.waitForSpans(() => receiver.trace(traceId).length >= 4, 'the spans, which still go out');
      assert.equal(service.logs.filter((line) => line.trace_id === traceId).length, 3);
      // Stopping flushes whatever would have been exported.
      assert.equal(await service.stop(), 0);
      assert.deepEqual(receiver.logs, []);
    } finally {
      await service.stop();
      await receiver.close();
    }
  });
});

describe('errors as Sentry issues with SENTRY_DSN (Sentry SDK, no Sentry tracing): only errors nobody handled', () => {
  let envelopes: SentryEnvelopes;
  let receiver: OtlpReceiver;
  let service: Service;
  const eventsOf = (traceId: string) => envelopes.ofType('event').filter((item) => item.payload.contexts?.trace?.trace_id === traceId);

  before(async () => {
    envelopes = await SentryEnvelopes.start();
    receiver = await OtlpReceiver.start();
    // /chain calls a port where nothing listens: a real failure.
    service = await Service.start({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, SENTRY_DSN: envelopes.dsn, DOWNSTREAM_URL: `http://127.0.0.1:${await freePort()}`, ...FAST_EXPORT });
  });
  after(async () => {
    await service?.stop();
    await receiver?.close();
    await envelopes?.close();
  });

  const failing = newTraceparent();

  it('/error becomes an error event, with its stack, in the trace of the OTLP spans, and no personal data', async () => {
    assert.equal((await service.get('/error?email=jane%40example.com', { traceparent: failing.traceparent, 'user-agent': 'Jane\'s laptop' })).status, 500);
    const event = await waitFor(() => eventsOf(failing.traceId)[0], 'the error event of /error');
    const server = await receiver.waitForSpans(() => receiver.trace(failing.traceId).length >= 1, 'the OTLP span of /error');
    assert.equal(server.find((s) => s.traceId === failing.traceId)!.name, 'GET /error');
    assert.equal(event.payload.contexts.trace.span_id, receiver.trace(failing.traceId)[0]!.spanId, 'linked to the server span');

    const [exception] = event.payload.exception.values;
    assert.equal(exception.type, 'Error');
    assert.equal(exception.value, 'this endpoint fails on purpose');
    assert.ok(exception.stacktrace.frames.length > 2, 'with a stack trace');
    assert.ok(exception.stacktrace.frames.some((frame: { filename?: string }) => /dist\/app\.js$/.test(frame.filename ?? '')));

    // As for the spans: no caller address, no headers, no query string.
    assert.deepEqual(event.payload.request, { method: 'GET', url: `${service.url}/error` });
    assert.equal(event.payload.user?.ip_address, undefined);
    assert.doesNotMatch(JSON.stringify(event.payload), /jane|laptop/i);
  });

  it("sends the envelope as Sentry's own SDKs do: the SDK's name and version, and the trace's dynamic sampling context", async () => {
    // Read with @sentry/core's own envelope parser and DSN helper, not by hand.
    const { SDK_VERSION, dsnFromString, parseEnvelope } = await import('@sentry/core');
    await waitFor(() => eventsOf(failing.traceId)[0], 'the error event of /error');
    const envelope = envelopes.raw.map((raw) => parseEnvelope(raw)).find(([, items]) => items.some(([header, payload]) => header.type === 'event' && (payload as { contexts?: { trace?: { trace_id?: string } } }).contexts?.trace?.trace_id === failing.traceId))!;
    const [headers, [[, event]]] = envelope as [Record<string, unknown>, Array<[unknown, { sdk?: { name?: string; version?: string } }]>];
    assert.deepEqual(headers.sdk, { name: 'sentry.javascript.core', version: SDK_VERSION });
    assert.equal(event.sdk?.name, 'sentry.javascript.core');
    assert.equal(event.sdk?.version, SDK_VERSION);
    assert.deepEqual(headers.trace, {
      trace_id: failing.traceId,
      public_key: dsnFromString(envelopes.dsn)!.publicKey,
      environment: 'local',
      release: `users-api@${VERSION}`,
      sampled: 'true',
    });
  });

  it('a failed downstream call (502) becomes an event, with its cause', async () => {
    const { traceparent, traceId } = newTraceparent();
    assert.equal((await service.get('/chain/42', { traceparent })).status, 502);
    const event = await waitFor(() => eventsOf(traceId)[0], 'the error event of the 502');
    const types = event.payload.exception.values.map((value: { type: string }) => value.type);
    assert.ok(types.includes('HttpError'), `the 502, got ${types}`);
    assert.ok(event.payload.exception.values.some((value: { value?: string }) => /ECONNREFUSED/.test(value.value ?? '')), 'and its cause');
  });

  it('the error somework recovers from stays on its span, and neither it nor a client error (400, 404) becomes an event', async () => {
    const recovered = newTraceparent();
    assert.equal((await service.get('/users/123', { traceparent: recovered.traceparent })).status, 200);
    const clientErrors = newTraceparent();
    assert.equal((await service.get('/users/bad%20id!', { traceparent: clientErrors.traceparent })).status, 400);
    assert.equal((await service.get('/nowhere', { traceparent: clientErrors.traceparent })).status, 404);

    // Stopping flushes the Sentry SDK and the spans: whatever was going to be sent has been.
    assert.equal(await service.stop(), 0);
    const errorWork = receiver.trace(recovered.traceId).find((span) => span.name === 'errorWork');
    assert.ok(errorWork, 'the errorWork span arrived');
    assert.ok(receiver.logs.some((log) => log.spanId === errorWork.spanId && log.eventName === 'exception'), 'with its exception');
    assert.deepEqual(eventsOf(recovered.traceId), [], 'no issue for an error handled on purpose');
    assert.deepEqual(eventsOf(clientErrors.traceId), []);
    assert.equal(eventsOf(failing.traceId).length, 1, '/error made exactly one event');
    assert.deepEqual(envelopes.items.filter((item) => ['transaction', 'span'].includes(item.type)), [], 'the SDK sends no transaction or span');
  });
});

describe('without SENTRY_DSN', () => {
  it('never loads the Sentry SDK', async () => {
    const modulesFile = join(tmpdir(), `loaded-modules-${process.pid}.json`);
    const probe = { NODE_OPTIONS: `--require ${join(ROOT, 'harness/loaded-modules.cjs')}`, LOADED_MODULES_FILE: modulesFile };
    const envelopes = await SentryEnvelopes.start();
    for (const env of [{}, { SENTRY_DSN: envelopes.dsn }] as Array<Record<string, string>>) {
      const service = await Service.start({ OTEL_TRACES_EXPORTER: 'none', OTEL_LOGS_EXPORTER: 'none', ...probe, ...env });
      assert.equal((await service.get('/error')).status, 500);
      assert.equal(await service.stop(), 0);
      const sentryModules = (JSON.parse(readFileSync(modulesFile, 'utf8')) as string[]).filter((path) => path.includes('/@sentry/'));
      if ('SENTRY_DSN' in env) assert.ok(sentryModules.length > 0, 'the probe sees the SDK when it is on');
      else assert.deepEqual(sentryModules, []);
    }
    await envelopes.close();
  });
});
