import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import { ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import { COLLECTOR_CONFIG, LOADBALANCER_CONFIG, staticResolver, validateConfig, type Collector } from '../harness/collector.mts';
import { freePort } from '../harness/loopback.mts';
import { startPipeline, type Pipeline } from '../harness/pipeline.mts';
import { otlpJsonToProtobuf } from '../harness/otlp.mts';
import { RELAY_MAX_BODY_BYTES, RELAY_PROJECT_LOOKUP_MS, SentryIngest, type SentrySpan } from '../harness/sentry-ingest.mts';
import { ROOT, type Service } from '../harness/service.mts';
import { waitFor } from '../harness/wait.mts';
import { exportSpans, exportTraceOf16MiB, named, newTraceparent } from '../harness/traces.mts';

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

  it('loadbalancer.yaml (the load-balancing tier), with its DNS resolver and with a fixed list of sampling collectors instead', () => {
    for (const configs of [[LOADBALANCER_CONFIG], [LOADBALANCER_CONFIG, staticResolver(['127.0.0.1:4317', '127.0.0.1:4327'])]]) {
      const { status, output } = validateConfig(configs);
      assert.equal(status, 0, `${configs.join(' ')}: ${output}`);
    }
    // Why the fixed list says `dns: null`: the files are merged, and two resolvers are refused.
    const both = validateConfig([LOADBALANCER_CONFIG, 'yaml:exporters::load_balancing::resolver: {static: {hostnames: [127.0.0.1:4317]}}']);
    assert.notEqual(both.status, 0);
    assert.match(both.output, /only one resolver should be specified/);
  });

  it('refuses a pipeline that names an exporter that does not exist', () => {
    const { status, output } = validateConfig([COLLECTOR_CONFIG], { COLLECTOR_EXPORTERS: '[debug, no_such_exporter]' });
    assert.notEqual(status, 0);
    assert.match(output, /no_such_exporter/);
  });
});

describe('the Sentry ingest stand-in answers as Relay does (each rule cites its Relay source)', () => {
  let sentry: SentryIngest;
  const [traceId, spanId] = [randomBytes(16).toString('hex'), randomBytes(8).toString('hex')];
  const logs = (records: object[], resource: object[] = [{ key: 'service.name', value: { stringValue: 'probe' } }]) =>
    JSON.stringify({ resourceLogs: [{ resource: { attributes: resource }, scopeLogs: [{ scope: { name: 'probe', version: '1' }, logRecords: records }] }] });
  const now = String(BigInt(Date.now()) * 1_000_000n);
  const oneLog = logs([{ timeUnixNano: now, severityNumber: 9, body: { stringValue: 'hello' }, traceId, spanId }]);
  const post = (path: string, body: string | Buffer, headers: Record<string, string>) =>
    fetch(`${sentry.url}${path}`, { method: 'POST', body: typeof body === 'string' ? body : new Uint8Array(body), headers });
  const valid = (extra: Record<string, string> = {}) => ({ 'content-type': 'application/json', 'x-sentry-auth': `sentry sentry_key=${sentry.publicKey}`, ...extra });
  const logsPath = () => new URL(sentry.endpoint('logs')).pathname;

  before(async () => (sentry = await SentryIngest.start()));
  after(() => sentry?.close());

  it('accepts both routes with and without a trailing slash, either auth header, any case of "sentry", gzip, protobuf or JSON (with charset=utf-8)', async () => {
    const protobuf = Buffer.from(otlpJsonToProtobuf('logs', oneLog));
    const cases: Array<[string, string | Buffer, Record<string, string>]> = [
      [logsPath(), oneLog, valid()],
      [`${logsPath()}/`, oneLog, valid()],
      [logsPath(), oneLog, valid({ 'x-sentry-auth': `Sentry sentry_key=${sentry.publicKey}, sentry_version=7` })],
      [logsPath(), oneLog, { 'content-type': 'application/json', authorization: `SENTRY sentry_key=${sentry.publicKey}` }],
      [logsPath(), gzipSync(oneLog), valid({ 'content-encoding': 'gzip' })],
      [logsPath(), protobuf, valid({ 'content-type': 'application/x-protobuf' })],
      [logsPath(), oneLog, valid({ 'content-type': 'application/json; charset=utf-8' })],
    ];
    for (const [path, body, headers] of cases) assert.equal((await post(path, body, headers)).status, 200, `${path} ${JSON.stringify(headers)}`);
    assert.equal(sentry.logs.filter((log) => log.traceId === traceId && log.body === 'hello').length, cases.length);
  });

  it('refuses: 401 without a usable key, 400 for a malformed key, 403 for an unknown key, 415, 413 past 12 MiB uncompressed, 404', async () => {
    const cases: Array<[number, string, string | Buffer, Record<string, string>]> = [
      [401, 'no auth', oneLog, { 'content-type': 'application/json' }],
      [401, 'not a sentry header', oneLog, valid({ 'x-sentry-auth': `Bearer ${sentry.publicKey}` })],
      [401, 'an empty key', oneLog, valid({ 'x-sentry-auth': 'sentry sentry_key=' })],
      [401, 'two auth headers', oneLog, valid({ authorization: `sentry sentry_key=${sentry.publicKey}` })],
      [400, 'a key that is not 32 characters', oneLog, valid({ 'x-sentry-auth': 'sentry sentry_key=not-the-right-key' })],
      [415, 'a charset other than UTF-8', oneLog, valid({ 'content-type': 'application/json; charset=utf-16' })],
      [415, 'another parameter', oneLog, valid({ 'content-type': 'application/json; version=1' })],
      [415, 'another content type', oneLog, valid({ 'content-type': 'text/plain' })],
      [413, '13 MiB of zeros, gzipped', gzipSync(Buffer.alloc(RELAY_MAX_BODY_BYTES + 1024 * 1024)), valid({ 'content-encoding': 'gzip' })],
      [413, 'one byte over 12 MiB', Buffer.alloc(RELAY_MAX_BODY_BYTES + 1), valid()],
    ];
    for (const [status, what, body, headers] of cases) assert.equal((await post(logsPath(), body, headers)).status, status, what);
    assert.equal((await post(logsPath().replace('/logs', '/metrics'), oneLog, valid())).status, 404, 'no metrics endpoint');
    // A well-formed key Relay has not looked up yet: taken (200), dropped once the lookup finds no project; then 403.
    // The right key is seen first too: it is refused with another project only once looked up.
    const unknownKey = valid({ 'x-sentry-auth': `sentry sentry_key=${'f'.repeat(32)}` });
    assert.equal((await post(logsPath(), oneLog, valid())).status, 200, 'the right key');
    assert.equal((await post(logsPath(), oneLog, unknownKey)).status, 200, 'an unknown well-formed key, before its lookup');
    assert.deepEqual(sentry.discarded.at(-1), { signal: 'logs', reason: 'project_id' });
    await sleep(RELAY_PROJECT_LOOKUP_MS + 10);
    assert.equal((await post(logsPath(), oneLog, unknownKey)).status, 403, 'an unknown well-formed key');
    assert.equal((await post(logsPath().replace(sentry.projectId, '42'), oneLog, valid())).status, 403, 'the key of another project');
  });

  it('answers 429 with Retry-After when asked to, then accepts again', async () => {
    sentry.rateLimit('logs', 1, 7);
    const limited = await post(logsPath(), oneLog, valid());
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get('retry-after'), '7');
    assert.equal((await post(logsPath(), oneLog, valid())).status, 200);
  });

  it('stores what Sentry keeps: no span events, resource.* attributes, arrays of one type, maps as JSON, no record without a body', async () => {
    const spans = JSON.stringify({
      resourceSpans: [{
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'probe' } }] },
        scopeSpans: [{ scope: { name: 'probe' }, spans: [{
          traceId, spanId, name: 'work', kind: 2, startTimeUnixNano: now, endTimeUnixNano: now, status: { code: 2, message: 'failed' },
          attributes: [
            { key: 'tags', value: { arrayValue: { values: [{ stringValue: 'a' }, { stringValue: 'b' }] } } },
            { key: 'mixed', value: { arrayValue: { values: [{ stringValue: 'a' }, { intValue: '1' }] } } },
          ],
          events: [{ name: 'exception', timeUnixNano: now, attributes: [{ key: 'exception.type', value: { stringValue: 'Error' } }] }],
        }] }],
      }],
    });
    assert.equal((await post(new URL(sentry.endpoint('traces')).pathname, spans, valid())).status, 200);
    const span = sentry.trace(traceId).find((s) => s.name === 'work')!;
    assert.ok(!('events' in span), 'span events are dropped');
    assert.equal(span.status, 'error');
    assert.equal(span.kind, 'server');
    assert.deepEqual(span.attributes.tags, ['a', 'b']);
    assert.equal(span.attributes.mixed, undefined, 'an array of mixed types is dropped');
    assert.equal(span.attributes['resource.service.name'], 'probe');
    assert.equal(span.attributes['sentry.status.message'], 'failed');

    const discardedBefore = sentry.discarded.length;
    const records = logs([
      { timeUnixNano: now, severityNumber: 17, traceId, spanId, attributes: [{ key: 'exception.type', value: { stringValue: 'NoBody' } }] },
      { timeUnixNano: now, severityNumber: 17, traceId, spanId, body: { kvlistValue: { values: [] } } },
      { timeUnixNano: now, severityNumber: 21, body: { stringValue: 'no trace id' }, attributes: [{ key: 'map', value: { kvlistValue: { values: [{ key: 'k', value: { boolValue: true } }] } } }] },
    ]);
    assert.equal((await post(logsPath(), records, valid())).status, 200, 'Relay accepts the request and drops the records later');
    assert.deepEqual(sentry.discarded.slice(discardedBefore).map((d) => d.reason), ['no_data'], 'the record without a body (outcome invalid, no_data)');
    assert.ok(sentry.logs.some((log) => log.traceId === traceId && log.body === '{}'), 'a map body is kept as JSON');
    const kept = sentry.logs.find((log) => log.body === 'no trace id')!;
    assert.equal(kept.level, 'fatal');
    assert.equal(kept.attributes.map, '{"k":true}');
    assert.match(kept.traceId, /^[0-9a-f]{32}$/, 'a random trace id replaces the missing one');
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

  it('delivers the whole /users/123 tree, errorWork failed', async () => {
    const { traceparent: header, traceId } = newTraceparent();
    assert.equal((await service.get('/users/123', { traceparent: header })).status, 200);

    const spans = await sentry.waitFor(() => (sentry.trace(traceId).length >= 4 ? sentry.trace(traceId) : undefined), 'the four spans of /users/123');
    const server = named(spans, 'GET /users/:id');
    const getUser = named(spans, 'getUser');
    const middle = named(spans, 'middleWork');
    const error = named(spans, 'errorWork');
    assert.equal(server.kind, 'server');
    assert.equal(getUser.parentSpanId, server.spanId);
    assert.equal(middle.parentSpanId, getUser.spanId);
    assert.equal(error.parentSpanId, middle.spanId);

    assert.equal(error.status, 'error');
    assert.equal(error.attributes['error.type'], 'SomeworkError');
    assert.equal(middle.status, 'ok', 'middleWork recovered');
    assert.equal(server.attributes['resource.service.name'], 'users-api');
  });

  it('sends the events and the exception to Sentry Logs, as log records of their span: a body, a level, the stack trace', async () => {
    const { traceparent: header, traceId } = newTraceparent();
    assert.equal((await service.get('/users/123', { traceparent: header })).status, 200);

    const spans = await sentry.waitFor(() => (sentry.trace(traceId).length >= 4 ? sentry.trace(traceId) : undefined), 'the spans of /users/123');
    const [middle, error] = [named(spans, 'middleWork'), named(spans, 'errorWork')];
    const events = await sentry.waitFor(() => {
      const found = sentry.logs.filter((l) => l.traceId === traceId && l.attributes['event.name'] !== undefined);
      return found.length >= 4 ? found : undefined;
    }, 'the four events of /users/123');
    const of = (span: SentrySpan) => events.filter((l) => l.spanId === span.spanId).map((l) => l.attributes['event.name']);
    assert.deepEqual(of(middle), ['started sleep', 'completed sleep', 'recovered from error']);
    assert.deepEqual(of(error), ['exception']);

    const exception = events.find((l) => l.attributes['event.name'] === 'exception')!;
    assert.equal(exception.body, 'SomeworkError: errorWork failed on purpose');
    assert.equal(exception.level, 'warn', 'its caller recovers from it');
    assert.equal(exception.attributes['exception.type'], 'SomeworkError');
    assert.match(String(exception.attributes['exception.stacktrace']), /at errorWork/);
    assert.equal(exception.attributes['resource.service.name'], 'users-api');
  });

  it('gives every record a string body: exception records of the contrib connector, fields-only lines, events, numbers', async () => {
    // The contrib connector's records: no body, no resource, severity ERROR, the span's ids, exception.* attributes.
    const [traceId, spanId] = [randomBytes(16).toString('hex'), randomBytes(8).toString('hex')];
    const record = (attributes: Record<string, string>, body?: string | number, extra: object = {}) => ({
      timeUnixNano: String(Date.now() * 1e6),
      severityNumber: 17,
      severityText: 'ERROR',
      traceId,
      spanId,
      ...(body === undefined ? {} : { body: typeof body === 'number' ? { intValue: String(body) } : { stringValue: body } }),
      attributes: Object.entries(attributes).map(([key, value]) => ({ key, value: { stringValue: value } })),
      ...extra,
    });
    const request = {
      resourceLogs: [{ resource: {}, scopeLogs: [{ scope: {}, logRecords: [
        record({ 'exception.type': 'TypeError', 'exception.message': 'x is undefined', 'exception.stacktrace': 'TypeError: x is undefined\n    at f (a.js:1:1)' }),
        record({ 'exception.message': 'only a message' }),
        record({ 'exception.type': 'RangeError' }),
        record({ 'exception.type': 'Error', 'exception.message': 'ignored' }, 'a body written by the sender'),
        // What the pino instrumentation sends for logger.info({ port: 8080 }) and logger.warn(42).
        record({ port: '8080' }),
        record({}, 42),
        // A log-based event that carries no body of its own.
        record({ 'work.delay_ms': '5' }, undefined, { eventName: 'started sleep' }),
        record({}, undefined, { severityText: 'WARN' }),
      ] }] }],
    };
    const response = await fetch(`http://127.0.0.1:${collector.httpPort}/v1/logs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(request),
    });
    assert.equal(response.status, 200);
    const bodies = await sentry.waitFor(() => {
      const found = sentry.logs.filter((log) => log.traceId === traceId).map((log) => log.body);
      return found.length === 8 ? found.sort() : undefined;
    }, 'the eight records');
    assert.deepEqual(bodies, ['42', 'RangeError', 'TypeError: x is undefined', 'WARN', 'a body written by the sender', 'only a message', 'started sleep', '{"port":"8080"}']);
  });

  it('also delivers /error: the server span failed, its exception an error-level log record of it', async () => {
    const { traceparent: header, traceId } = newTraceparent();
    assert.equal((await service.get('/error', { traceparent: header })).status, 500);
    const server = await sentry.waitFor(() => sentry.trace(traceId).find((s) => s.kind === 'server'), 'the /error span');
    assert.equal(server.status, 'error');
    assert.equal(server.attributes['error.type'], '500');
    const exception = await sentry.waitFor(() => sentry.logs.find((l) => l.traceId === traceId && l.attributes['event.name'] === 'exception'), 'the exception of /error');
    assert.equal(exception.spanId, server.spanId);
    assert.equal(exception.level, 'error', 'nobody handled it');
    assert.equal(exception.body, 'Error: this endpoint fails on purpose');
  });

  it('prints the spans through the debug exporter in the collector output', async () => {
    assert.equal((await service.get('/users/123')).status, 200);
    await waitFor(() => (/Name\s*:\s*errorWork/.test(collector.output) ? true : undefined), 'errorWork in the debug output');
    assert.match(collector.output, /Name\s*:\s*GET \/users\/:id/);
  });

  it("takes the kit's largest batch in one export, past gRPC's default 4 MiB: 2,048 spans of long requests", async () => {
    // The kit sends up to 2,048 spans at once (src/telemetry/settings.ts). Requests with long paths or
    // query strings make them ~3 KB each, 6 MiB in all: a receiver at gRPC's default limit answers
    // RESOURCE_EXHAUSTED, which the OTLP specification says not to retry, and the whole batch is lost.
    const traceId = await exportSpans(collector.endpoint, (tracer) => {
      const root = tracer.startSpan('GET /search');
      const parent = trace.setSpan(ROOT_CONTEXT, root);
      for (let i = 1; i < 2048; i += 1) tracer.startSpan(`lookup ${i}`, { attributes: { 'url.path': `/search/${'x'.repeat(3000)}/${i}` } }, parent).end();
      root.end();
      return root.spanContext().traceId;
    });
    await sentry.waitFor(() => (sentry.trace(traceId).length === 2048 ? true : undefined), 'the 2,048 spans');
  });

  it("sends Sentry no request over its 12 MiB (counted uncompressed): a batch of 1,024 spans of 16 KB goes in pieces", async () => {
    // The batch processor's 1,024 spans of 16 KB, which Relay would refuse with a 413 that the
    // exporter does not retry. config.yaml bounds each request to Sentry in bytes.
    const traceId = await exportTraceOf16MiB(collector.endpoint);
    await sentry.waitFor(() => (sentry.trace(traceId).length === 1024 || sentry.rejected.length ? true : undefined), 'the 1,024 spans', 30_000);
    assert.deepEqual(sentry.rejected.map((r) => r.status), [], 'no request refused');
    assert.equal(sentry.trace(traceId).length, 1024);
  });

  it('the load-balancing tier takes messages as large (collector/loadbalancer/loadbalancer.yaml)', () => {
    const limits = (file: string) => [...readFileSync(file, 'utf8').matchAll(/^ +(max_recv_msg_size_mib|max_request_body_size): (\d+)$/gm)].map((m) => `${m[1]}: ${m[2]}`);
    assert.deepEqual(limits(COLLECTOR_CONFIG), ['max_recv_msg_size_mib: 64', 'max_request_body_size: 67108864']);
    assert.deepEqual(limits(LOADBALANCER_CONFIG), limits(COLLECTOR_CONFIG));
  });

  it('lost nothing on the way: Sentry refused no request and discarded no record', async () => {
    const { traceparent: header, traceId } = newTraceparent();
    assert.equal((await service.get('/users/123', { traceparent: header })).status, 200);
    await sentry.waitFor(() => (sentry.trace(traceId).length >= 4 && sentry.logs.some((log) => log.traceId === traceId) ? true : undefined), 'the spans and logs of /users/123');
    assert.deepEqual(sentry.rejected, []);
    assert.deepEqual(sentry.discarded, []);
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

describe('Sentry rate-limits (429, Retry-After): nothing is lost, nothing doubled', () => {
  it('the stand-in answers 429 twice per endpoint, then accepts: every span and log record arrives exactly once', async () => {
    const pipeline = await startPipeline();
    const { sentry, service, collector } = pipeline;
    sentry.rateLimit('traces', 2, 1);
    sentry.rateLimit('logs', 2, 1);
    try {
      const traceIds = await service.getInNewTraces('/users/123', 3);
      const inTraces = <T extends { traceId: string }>(items: T[]) => items.filter((item) => traceIds.includes(item.traceId));
      // Per request: 4 spans; 3 log lines of the service, 3 events and 1 exception.
      await sentry.waitFor(() => (inTraces(sentry.spans).length >= 12 && inTraces(sentry.logs).length >= 21 ? true : undefined), 'every span and log', 30_000);
      // A duplicate would be sent by now: the service and the collector have flushed and drained.
      assert.equal(await service.stop(), 0);
      assert.equal(await collector.stop(), 0, 'the collector drained its queue and exited');

      assert.deepEqual(sentry.rejected.map((r) => r.status), [429, 429, 429, 429], 'two refusals per endpoint');
      const spanIds = inTraces(sentry.spans).map((span) => span.spanId);
      assert.equal(spanIds.length, 12);
      assert.equal(new Set(spanIds).size, 12, 'no span twice');
      const logKeys = inTraces(sentry.logs).map((log) => `${log.spanId} ${log.body}`);
      assert.equal(logKeys.length, 21);
      assert.equal(new Set(logKeys).size, 21, 'no log record twice');
      assert.deepEqual(sentry.discarded, []);
    } finally {
      await pipeline.stop();
    }
  });
});

describe('a wrong Sentry key', () => {
  for (const [what, key, status] of [
    ['malformed (not 32 characters)', 'not-the-right-key', 400],
    ['well-formed but unknown', '0123456789abcdef0123456789abcdef', 403],
  ] as const) {
    it(`${what}: ${status} from Sentry, the collector reports it, the service keeps serving`, async () => {
      const pipeline = await startPipeline({ sentryKey: key });
      const { sentry, collector, service } = pipeline;
      try {
        for (let i = 0; i < 5; i += 1) assert.equal((await service.get('/users/123')).status, 200);
        // An unknown key's first requests are taken until Sentry has looked it up (harness/sentry-ingest.mts): more until it refuses.
        await waitFor(async () => (sentry.rejected.find((r) => r.status === status) ?? void (await service.get('/users/123'))), `a ${status} answer`);
        // One line that names the exporter and the status, and says the data was dropped.
        const report = await waitFor(
          () => collector.output.split('\n').find((line) => line.includes('otlp_http/sentry') && new RegExp(`\\b${status}\\b`).test(line)),
          `the collector to report the ${status}`,
        );
        assert.match(report, /[Pp]ermanent|[Dd]ropping/, `not retried: ${report}`);
        assert.equal(sentry.spans.length, 0);
        assert.ok(sentry.rejected.every((r) => r.status === status));
        assert.equal((await service.get('/users/42')).status, 200);
        assert.equal(service.logs.some((line) => / export is failing/.test(line.msg)), false, 'service → collector export is fine');
      } finally {
        await pipeline.stop();
      }
    });
  }
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

  it('the log records of a failed request carry none of it either', async () => {
    const { sentry, service } = pipeline;
    const { traceparent, traceId } = newTraceparent();
    assert.equal((await service.get('/error?session=secret', { traceparent, 'user-agent': 'Mozilla/5.0 (Jane\'s laptop)' })).status, 500);
    const logs = await sentry.waitFor(() => {
      const found = sentry.logs.filter((l) => l.traceId === traceId);
      return found.length >= 2 ? found : undefined;
    }, 'the exception and the "request failed" line of /error');
    for (const log of logs) {
      for (const key of ['client.address', 'network.peer.address', 'user_agent.original', 'url.query']) assert.equal(log.attributes[key], undefined, `${key} in "${log.body}"`);
      assert.doesNotMatch(JSON.stringify({ body: log.body, attributes: log.attributes }), /secret|Jane/, `"${log.body}"`);
    }
  });

  it('cuts the credentials, query and fragment from url.full on client spans, keeping host and path', async () => {
    const { sentry, collector } = pipeline;
    // A client span as any OpenTelemetry SDK sends it, straight to the collector.
    const traceId = await exportSpans(collector.endpoint, (tracer) => {
      const span = tracer.startSpan('GET', {
        kind: SpanKind.CLIENT,
        attributes: { 'http.request.method': 'GET', 'url.full': 'https://jane:hunter2@api.example.com:8443/v1/users/42?email=jane%40example.com#profile' },
      });
      span.end();
      return span.spanContext().traceId;
    });
    const [client] = await sentry.waitFor(() => (sentry.trace(traceId).length > 0 ? sentry.trace(traceId) : undefined), 'the client span');
    assert.equal(client!.attributes['url.full'], 'https://api.example.com:8443/v1/users/42');
  });
});

describe("a failed downstream call in Sentry: the collector's transform/exception_to_span", () => {
  let pipeline: Pipeline;
  before(async () => {
    pipeline = await startPipeline({ serviceEnv: { DOWNSTREAM_URL: `http://127.0.0.1:${await freePort()}` } });
  });
  after(() => pipeline?.stop());

  it('puts the exception the HTTP instrumentation recorded as a span event, which Sentry drops, on the client span', async () => {
    const { sentry, service } = pipeline;
    const { traceparent, traceId } = newTraceparent();
    assert.equal((await service.get('/chain/42', { traceparent })).status, 502);
    const spans = await sentry.waitFor(() => (sentry.trace(traceId).length >= 2 ? sentry.trace(traceId) : undefined), 'the /chain spans');
    const client = spans.find((span) => span.kind === 'client');
    assert.ok(client, `a client span among ${spans.map((span) => span.name).join(', ')}`);
    assert.equal(client.status, 'error');
    assert.match(String(client.attributes['exception.message']), /ECONNREFUSED/);
    assert.match(String(client.attributes['exception.stacktrace']), /ECONNREFUSED[\s\S]*\n\s+at /);
  });
});
