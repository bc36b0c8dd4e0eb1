import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { closeHttpServer, freePort, listenOnLoopback } from '../harness/loopback.mts';
import { SPAN_KIND, STATUS_CODE, type ReceivedSpan } from '../harness/otlp.mts';
import { OtlpReceiver } from '../harness/otlp-receiver.mts';
import { ROOT, Service, runProgram } from '../harness/service.mts';
import { waitFor } from '../harness/wait.mts';
import { named, newTraceparent } from '../harness/traces.mts';
import { FAST_EXPORT } from '../harness/pipeline.mts';

const VERSION = (JSON.parse(readFileSync(`${ROOT}/package.json`, 'utf8')) as { version: string }).version;


describe('the traced service, against a real OTLP/gRPC receiver', () => {
  let receiver: OtlpReceiver;
  let service: Service;

  before(async () => {
    receiver = await OtlpReceiver.start();
    service = await Service.start({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, ...FAST_EXPORT });
  });
  after(async () => {
    await service?.stop();
    await receiver?.close();
  });

  async function tracedGet(path: string): Promise<{ response: Response; body: unknown; spans: ReceivedSpan[]; traceId: string }> {
    const { traceparent, traceId } = newTraceparent();
    const response = await service.get(path, { traceparent });
    const body = await response.json();
    const spans = await receiver.waitForSpans(
      () => receiver.trace(traceId).some((span) => span.kind === SPAN_KIND.SERVER),
      `the server span of ${path}`,
    );
    return { response, body, traceId, spans: spans.filter((span) => span.traceId === traceId) };
  }

  it('makes a server span with stable semantic-convention attributes and the route as its name', async () => {
    const { response, body, spans } = await tracedGet('/users/42');
    assert.equal(response.status, 200);
    assert.deepEqual(body, { id: '42', name: 'User 42' });

    const server = named(spans, 'GET /users/:id');
    assert.equal(server.kind, SPAN_KIND.SERVER);
    assert.equal(server.attributes['http.request.method'], 'GET');
    assert.equal(server.attributes['http.route'], '/users/:id');
    assert.equal(server.attributes['http.response.status_code'], 200);
    assert.equal(server.attributes['url.path'], '/users/42');
    assert.equal(server.resource['service.name'], 'users-api');
    assert.equal(server.resource['service.version'], VERSION);
    assert.equal(server.resource['telemetry.sdk.language'], 'nodejs');

    const getUser = named(spans, 'getUser');
    assert.equal(getUser.parentSpanId, server.spanId);
    assert.equal(getUser.attributes['user.id'], '42');
    assert.equal(spans.length, 2, `Express layer spans carry nothing and are not made: ${spans.map((s) => s.name)}`);
  });

  it('traces /users/123 through somework: the tree, the events and the recorded exception', async () => {
    const { response, spans } = await tracedGet('/users/123');
    assert.equal(response.status, 200);
    await receiver.waitForSpans(() => receiver.trace(spans[0]!.traceId).length >= 4, 'four spans of /users/123');
    const tree = receiver.trace(spans[0]!.traceId);

    const server = named(tree, 'GET /users/:id');
    const getUser = named(tree, 'getUser');
    const middle = named(tree, 'middleWork');
    const error = named(tree, 'errorWork');
    assert.equal(getUser.parentSpanId, server.spanId);
    assert.equal(middle.parentSpanId, getUser.spanId);
    assert.equal(error.parentSpanId, middle.spanId);

    // The events are log records of their span (the Span Event API is deprecated, and Sentry drops span events).
    const events = await receiver.waitForLogs((logs) => logs.filter((log) => log.traceId === middle.traceId && log.eventName).length >= 4, 'the events of /users/123');
    const eventsOf = (spanId: string) => events.filter((log) => log.spanId === spanId && log.eventName).map((log) => log.eventName);
    assert.deepEqual(eventsOf(middle.spanId), ['started sleep', 'completed sleep', 'recovered from error']);
    assert.deepEqual(middle.events, []);
    assert.equal(error.status.code, STATUS_CODE.ERROR);
    assert.equal(error.status.message, 'errorWork failed on purpose');
    assert.equal(error.attributes['error.type'], 'SomeworkError');
    assert.deepEqual(eventsOf(error.spanId), ['exception']);
    const exception = events.find((log) => log.spanId === error.spanId)!;
    assert.equal(exception.severityText, 'WARN');
    assert.equal(exception.attributes['exception.type'], 'SomeworkError');
    assert.equal(exception.attributes['exception.message'], 'errorWork failed on purpose');
    assert.match(String(exception.attributes['exception.stacktrace']), /at errorWork/);
    assert.equal(server.status.code, STATUS_CODE.UNSET, 'the request itself succeeded');
  });

  it('continues an incoming traceparent', async () => {
    const { traceparent, traceId, parentId } = newTraceparent();
    await (await service.get('/users/7', { traceparent })).json();
    await receiver.waitForSpans(() => receiver.trace(traceId).length >= 2, 'the continued trace');
    const continued = named(receiver.trace(traceId), 'GET /users/:id');
    assert.equal(continued.parentSpanId, parentId);
  });

  it('starts a new trace for a malformed traceparent, and still answers', async () => {
    const response = await service.get('/users/malformed-parent', { traceparent: '00-xyz-not-a-trace-01' });
    assert.equal(response.status, 200);
    const spans = await receiver.waitForSpans(
      (all) => all.some((s) => s.attributes['url.path'] === '/users/malformed-parent'),
      'the span of the malformed-traceparent request',
    );
    const server = spans.find((s) => s.attributes['url.path'] === '/users/malformed-parent')!;
    assert.equal(server.parentSpanId, '');
    assert.match(server.traceId, /^[0-9a-f]{32}$/);
  });

  it('answers probes without making spans', async () => {
    assert.equal((await service.get('/healthz')).status, 200);
    assert.equal((await service.get('/readyz')).status, 200);
    assert.equal((await service.get('/healthz?probe=kubelet')).status, 200);
    await tracedGet('/users/after-probes');
    assert.deepEqual(
      receiver.spans.filter((s) => ['/healthz', '/readyz'].includes(String(s.attributes['url.path']))),
      [],
    );
  });

  it('answers a bad id with 400 and a JSON error, and the span says 400', async () => {
    const { response, body, spans } = await tracedGet('/users/bad%20id!');
    assert.equal(response.status, 400);
    assert.match((body as { error: string }).error, /id must be/);
    const server = named(spans, 'GET /users/:id');
    assert.equal(server.attributes['http.response.status_code'], 400);
    assert.equal(spans.some((s) => s.name === 'getUser'), false);
  });

  it('answers /work with bounds: 0..5000 ms, else 400', async () => {
    assert.equal((await service.get('/work?ms=5001')).status, 400);
    assert.equal((await service.get('/work?ms=-1')).status, 400);
    assert.equal((await service.get('/work?ms=abc')).status, 400);
    assert.equal((await service.get('/work?ms=5&ms=6')).status, 400, 'the value given twice');
    const { response, body, spans } = await tracedGet('/work?ms=5');
    assert.equal(response.status, 200);
    assert.deepEqual(body, { sleptMs: 5, recovered: 'errorWork failed on purpose' });
    await receiver.waitForSpans(() => receiver.trace(spans[0]!.traceId).length >= 3, 'the /work spans');
    assert.equal(named(receiver.trace(spans[0]!.traceId), 'middleWork').parentSpanId, named(spans, 'GET /work').spanId);
  });

  it('fails /error with 500 JSON and records the exception with its stack on the server span', async () => {
    const { response, body, spans } = await tracedGet('/error');
    assert.equal(response.status, 500);
    assert.deepEqual(body, { error: 'internal error' });
    const server = named(spans, 'GET /error');
    assert.equal(server.status.code, STATUS_CODE.ERROR);
    assert.equal(server.attributes['http.response.status_code'], 500);
    assert.equal(server.attributes['error.type'], '500', 'on a server span the conventions want the status code here');
    assert.equal(server.status.message, 'this endpoint fails on purpose');
    const exception = await receiver.waitForLogs((logs) => logs.some((log) => log.spanId === server.spanId && log.eventName === 'exception'), 'the exception of /error')
      .then((logs) => logs.find((log) => log.spanId === server.spanId && log.eventName === 'exception')!);
    assert.equal(exception.severityText, 'ERROR', 'nobody handled it');
    assert.equal(exception.attributes['exception.message'], 'this endpoint fails on purpose');
    assert.match(String(exception.attributes['exception.stacktrace']), /Error: this endpoint fails on purpose\n\s+at /);
  });

  it('answers unknown routes with 404 JSON', async () => {
    const response = await service.get('/no/such/route');
    assert.equal(response.status, 404);
    assert.deepEqual(await response.json(), { error: 'no route for GET /no/such/route' });
  });

  it('puts the trace id and span id on every log line written inside a request', async () => {
    const { traceId } = await tracedGet('/users/123');
    const lines = await waitFor(
      () => {
        const found = service.logs.filter((line) => line.trace_id === traceId);
        return found.length >= 3 ? found : undefined;
      },
      'the log lines of /users/123',
    );
    assert.deepEqual(
      lines.map((line) => line.msg),
      ['middle work started', 'middle work recovered from an error', 'middle work finished'],
    );
    const spans = receiver.trace(traceId);
    for (const line of lines) assert.ok(spans.some((s) => s.spanId === line.span_id), 'the span_id is a span of that trace');
  });
});

describe('one trace across two processes: /chain/:id', () => {
  let receiver: OtlpReceiver;
  let users: Service;
  let gateway: Service;

  before(async () => {
    receiver = await OtlpReceiver.start();
    const common = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, ...FAST_EXPORT };
    users = await Service.start({ ...common, OTEL_SERVICE_NAME: 'users' });
    gateway = await Service.start({ ...common, OTEL_SERVICE_NAME: 'gateway', DOWNSTREAM_URL: users.url });
  });
  after(async () => {
    await Promise.all([gateway?.stop(), users?.stop()]);
    await receiver?.close();
  });

  it('links gateway server → gateway client → users server → getUser in one trace', async () => {
    const { traceparent, traceId } = newTraceparent();
    const response = await gateway.get('/chain/123', { traceparent });
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { id: '123', name: 'User 123' });

    const spans = await receiver.waitForSpans(() => receiver.trace(traceId).length >= 6, 'six spans of /chain/123');
    const trace = spans.filter((s) => s.traceId === traceId);
    const gatewayServer = trace.find((s) => s.kind === SPAN_KIND.SERVER && s.resource['service.name'] === 'gateway')!;
    const client = trace.find((s) => s.kind === SPAN_KIND.CLIENT)!;
    const usersServer = trace.find((s) => s.kind === SPAN_KIND.SERVER && s.resource['service.name'] === 'users')!;
    assert.equal(gatewayServer.name, 'GET /chain/:id');
    assert.equal(client.resource['service.name'], 'gateway');
    assert.equal(client.parentSpanId, gatewayServer.spanId);
    assert.equal(client.attributes['http.request.method'], 'GET');
    assert.equal(client.attributes['server.port'], users.port);
    assert.equal(usersServer.parentSpanId, client.spanId, 'the client propagated its context');
    const getUser = named(trace, 'getUser');
    assert.equal(getUser.parentSpanId, usersServer.spanId);
    assert.equal(getUser.resource['service.name'], 'users');
  });
});

describe('/chain/:id with the downstream away', () => {
  it('answers 502, records the failure on the client span, and logs it once with its cause', async () => {
    const receiver = await OtlpReceiver.start();
    const gateway = await Service.start({
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      ...FAST_EXPORT,
      DOWNSTREAM_URL: `http://127.0.0.1:${await freePort()}`,
    });
    try {
      const { traceparent, traceId } = newTraceparent();
      const response = await gateway.get('/chain/42', { traceparent });
      assert.equal(response.status, 502);
      assert.deepEqual(await response.json(), { error: 'downstream call failed' }, 'no internal address in the answer');
      const spans = await receiver.waitForSpans(() => receiver.trace(traceId).length >= 2, 'the /chain spans');
      const client = spans.find((s) => s.traceId === traceId && s.kind === SPAN_KIND.CLIENT)!;
      assert.equal(client.status.code, STATUS_CODE.ERROR);
      assert.ok(client.events.some((e) => e.name === 'exception' && /ECONNREFUSED/.test(String(e.attributes['exception.message']))));
      const server = spans.find((s) => s.traceId === traceId && s.kind === SPAN_KIND.SERVER)!;
      assert.equal(server.attributes['http.response.status_code'], 502);
      // One log line for the failure, in its trace, with the cause that the answer leaves out.
      const said = () => gateway.logs.filter((line) => line.trace_id === traceId && (line.level === 'warn' || line.level === 'error'));
      await waitFor(() => (said().length > 0 ? true : undefined), 'the log line of the failure');
      assert.equal(await gateway.stop(), 0);
      assert.deepEqual(said().map((line) => [line.level, line.msg]), [['error', 'request failed']]);
      assert.match(String((said()[0]!.err as { message?: string }).message), /^downstream call failed: connect ECONNREFUSED 127\.0\.0\.1:\d+$/);
    } finally {
      await gateway.stop();
      await receiver.close();
    }
  });
});

describe('shutdown', () => {
  it('on SIGTERM finishes the request in flight, delivers every span, and exits 0', async () => {
    const receiver = await OtlpReceiver.start();
    // A schedule delay far beyond the test: only the shutdown flush can deliver these spans.
    const service = await Service.start({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_BSP_SCHEDULE_DELAY: '600000' });
    try {
      for (let i = 0; i < 20; i += 1) assert.equal((await service.get(`/users/${i}`)).status, 200);
      const inFlight = service.get('/work?ms=300');
      await waitFor(() => service.logs.find((line) => line.msg === 'middle work started'), 'the request to be in flight');
      assert.equal(receiver.spans.length, 0, 'nothing exported before shutdown');

      const exit = service.stop('SIGTERM');
      const response = await inFlight;
      assert.equal(response.status, 200, 'the request in flight got its answer');
      assert.equal(await exit, 0);

      const servers = receiver.spans.filter((s) => s.kind === SPAN_KIND.SERVER);
      assert.equal(servers.length, 21, 'a server span for each of the 21 requests');
      assert.equal(receiver.spans.filter((s) => s.name === 'getUser').length, 20);
      assert.equal(receiver.spans.filter((s) => s.name === 'middleWork').length, 1);
      assert.ok(service.logs.some((line) => line.msg === 'stopped'));
    } finally {
      await service.stop('SIGKILL');
      await receiver.close();
    }
  });

  it('a second signal exits at once; the same one again within a second (a Ctrl-C that npm passes on) does not', async () => {
    const service = await Service.start({ OTEL_TRACES_EXPORTER: 'none', SHUTDOWN_GRACE_MS: '60000' });
    const slow = service.get('/work?ms=5000').then((response) => response.status, () => 'cut');
    await waitFor(() => service.logs.find((line) => line.msg === 'middle work started'), 'the slow request to be in flight');
    service.process.kill('SIGINT');
    await waitFor(() => service.logs.some((l) => l.msg === 'shutting down') || undefined, 'the shutdown to begin');
    service.process.kill('SIGINT'); // handled after the first (two pending at once are one)
    await sleep(1_500);
    assert.equal(service.process.exitCode, null, 'still waiting for the request in flight');
    assert.ok(!service.logs.some((l) => l.msg === 'second signal: exiting now'));
    assert.equal(await service.stop('SIGINT'), 1);
    assert.equal(await slow, 'cut', 'it did not wait for the request in flight');
  });
});

describe('the collector away', () => {
  it('keeps serving and says once, per signal, that export is failing, however many batches fail', async () => {
    // Batches are given up after 1.5 s and their losses summed up every second, so by the
    // second summary of each signal, several batches of each have failed.
    const service = await Service.start({
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${await freePort()}`,
      ...FAST_EXPORT,
      OTEL_BSP_EXPORT_TIMEOUT: '1500',
      OTEL_BLRP_EXPORT_TIMEOUT: '1500',
      EXPORT_REPORT_INTERVAL_MS: '1000',
    });
    try {
      const summaries = (what: string) => service.logs.filter((line) => line.msg === `${what}s dropped since the last report`);
      await waitFor(
        async () => {
          for (let i = 0; i < 10; i += 1) assert.equal((await service.get(`/users/${i === 0 ? 123 : i}`)).status, 200);
          return summaries('span').length >= 2 && summaries('log record').length >= 2 ? true : undefined;
        },
        'two loss summaries for each signal',
        30_000,
      );
      const reports = service.logs.filter((line) => / export is failing/.test(line.msg));
      assert.deepEqual(reports.map((line) => line.msg.split(';')[0]).sort(), ['log record export is failing', 'span export is failing'], 'once each, not once per batch');
      for (const report of reports) {
        assert.match(String(report.error), /UNAVAILABLE|ECONNREFUSED/);
        assert.equal(report.trace_id, undefined, 'the report belongs to no request');
      }
      assert.equal(await service.stop(), 0);
    } finally {
      await service.stop();
    }
  });
});

describe('a client that leaves before the answer', () => {
  it('cancels the work quietly: no error logged, no SDK warning, the service keeps serving', async () => {
    const receiver = await OtlpReceiver.start();
    const service = await Service.start({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, ...FAST_EXPORT });
    try {
      const controller = new AbortController();
      const leaving = fetch(`${service.url}/work?ms=2000`, { signal: controller.signal }).catch(() => undefined);
      await waitFor(() => service.logs.find((line) => line.msg === 'middle work started'), 'the work to start');
      controller.abort();
      await leaving;
      const middle = await receiver.waitForSpans((spans) => spans.some((s) => s.name === 'middleWork'), 'the cancelled middleWork span');
      assert.equal(middle.find((s) => s.name === 'middleWork')!.attributes['error.type'], 'AbortError');
      assert.equal((await service.get('/users/42')).status, 200);
      assert.deepEqual(service.logs.filter((line) => line.level === 'error' || line.component === 'opentelemetry-sdk').map((line) => line.msg), []);
    } finally {
      await service.stop();
      await receiver.close();
    }
  });
});

describe('a failure after the client has gone', () => {
  it('is still logged, in its trace, and reported: only the cancellation of its work is quiet', () => {
    // The service's app, traced as it is (the kit's middleware), its client gone (and so
    // the server span ended) before /error's handler throws, still in the span's context.
    const program = `
      const { once } = require('node:events');
      const { createApp } = require('./dist/app.js');
      const { traceRequests } = require('./dist/telemetry/index.js');
      const { shutdownTelemetry } = require('./dist/instrumentation.js');
      const traced = traceRequests({ untracedPaths: [], trustCaller: true });
      const goneBeforeTheHandler = (req, res, next) => traced(req, res, async () => { res.destroy(); await once(res, 'close'); next(); });
      const app = createApp({ downstreamUrl: 'http://127.0.0.1:9', isReady: () => true, traceRequests: goneBeforeTheHandler });
      const server = app.listen(0, '127.0.0.1', async () => {
        await fetch('http://127.0.0.1:' + server.address().port + '/error').catch(() => {});
        await new Promise((resolve) => setTimeout(resolve, 200));
        server.close();
        await shutdownTelemetry(200);
      });`;
    const run = runProgram(program, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', OTEL_LOGS_EXPORTER: 'none' }, ['--require', './dist/instrumentation.js']);
    assert.equal(run.status, 0, run.stdout + run.stderr);
    const { lines } = run;
    const failed = lines.filter((line) => line.level === 'error');
    assert.deepEqual(failed.map((line) => [line.msg, (line.err as { message?: string })?.message]), [['request failed', 'this endpoint fails on purpose']], run.stdout + run.stderr);
    assert.match(String(failed[0]!.trace_id), /^[0-9a-f]{32}$/, 'in the trace of the request');
    assert.deepEqual(lines.filter((line) => /ended Span/.test(String(line.msg))), [], 'nothing recorded on the span that had ended');
  });
});

describe('OTEL_SDK_DISABLED=true', () => {
  it('serves without tracing: no spans, no export attempts, no trace ids in logs', async () => {
    const receiver = await OtlpReceiver.start();
    const service = await Service.start({ OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, ...FAST_EXPORT });
    try {
      assert.equal((await service.get('/users/123')).status, 200);
      assert.equal((await service.get('/chain/42')).status, 200);
      // Stopping flushes whatever would have been exported.
      assert.equal(await service.stop(), 0);
      assert.equal(receiver.spans.length, 0);
      assert.equal(receiver.logs.length, 0);
      assert.ok(service.logs.some((line) => line.msg === 'middle work started'));
      assert.equal(service.logs.some((line) => line.trace_id !== undefined), false);
    } finally {
      await service.stop();
      await receiver.close();
    }
  });
});

describe('a gateway facing the internet: TRUST_INCOMING_TRACE_CONTEXT=false', () => {
  let receiver: OtlpReceiver;
  let users: Service;
  let gateway: Service;
  // An outside caller that asks for no tracing (…-00) and sends baggage.
  const outside = newTraceparent();
  const outsideHeaders = { traceparent: outside.traceparent.replace(/-01$/, '-00'), baggage: 'tenant=outsider' };

  before(async () => {
    receiver = await OtlpReceiver.start();
    const common = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, ...FAST_EXPORT };
    users = await Service.start({ ...common, OTEL_SERVICE_NAME: 'users' });
    gateway = await Service.start({ ...common, OTEL_SERVICE_NAME: 'gateway', DOWNSTREAM_URL: users.url, TRUST_INCOMING_TRACE_CONTEXT: 'false' });
  });
  after(async () => {
    await Promise.all([gateway?.stop(), users?.stop()]);
    await receiver?.close();
  });

  it('traces the request anyway, in a new trace linked to the caller\'s, which continues into users', async () => {
    assert.equal((await gateway.get('/chain/123', outsideHeaders)).status, 200);
    const spans = await receiver.waitForSpans(
      (all) => all.some((s) => s.resource['service.name'] === 'gateway' && s.kind === SPAN_KIND.SERVER && s.links.some((l) => l.traceId === outside.traceId)),
      'the gateway server span, linked to the outside caller',
    );
    const gatewayServer = spans.find((s) => s.resource['service.name'] === 'gateway' && s.links.some((l) => l.traceId === outside.traceId))!;
    assert.notEqual(gatewayServer.traceId, outside.traceId, 'a trace of our own');
    assert.equal(gatewayServer.parentSpanId, '', 'a root span');
    assert.deepEqual(gatewayServer.links.map((l) => [l.traceId, l.spanId]), [[outside.traceId, outside.parentId]]);

    const trace = await receiver.waitForSpans(() => receiver.trace(gatewayServer.traceId).length >= 6, 'the six spans of /chain/123').then(() => receiver.trace(gatewayServer.traceId));
    const client = trace.find((s) => s.kind === SPAN_KIND.CLIENT)!;
    const usersServer = trace.find((s) => s.kind === SPAN_KIND.SERVER && s.resource['service.name'] === 'users')!;
    assert.equal(usersServer.parentSpanId, client.spanId, 'our own call continues our trace');
    assert.deepEqual(usersServer.links, [], 'users trusts the gateway');
    assert.deepEqual(receiver.trace(outside.traceId), [], 'nothing joined the caller\'s trace');
  });

  it('passes our trace context on, sampled, without the caller\'s baggage', async () => {
    const seen: Array<Record<string, string | string[] | undefined>> = [];
    const downstream = createServer((request, response) => {
      seen.push(request.headers);
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"id":"1","name":"User 1"}');
    });
    const port = await listenOnLoopback(downstream);
    const edge = await Service.start({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_LOGS_EXPORTER: 'none', DOWNSTREAM_URL: `http://127.0.0.1:${port}`, TRUST_INCOMING_TRACE_CONTEXT: 'false' });
    try {
      assert.equal((await edge.get('/chain/1', outsideHeaders)).status, 200);
      const [headers] = seen;
      assert.match(String(headers?.traceparent), /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/, 'sampled by us');
      assert.equal(String(headers?.traceparent).split('-')[1] === outside.traceId, false);
      assert.equal(headers?.baggage, undefined, 'the outside baggage stops here');
    } finally {
      await edge.stop();
      await closeHttpServer(downstream);
    }
  });

  it('by default (trust) the same request continues the caller\'s trace and obeys its -00', async () => {
    const trusting = await Service.start({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, ...FAST_EXPORT, DOWNSTREAM_URL: users.url, OTEL_SERVICE_NAME: 'trusting' });
    assert.equal((await trusting.get('/chain/123', outsideHeaders)).status, 200);
    // The control: a sampled caller's request, after it, is exported.
    const sampled = newTraceparent();
    assert.equal((await trusting.get('/chain/42', { traceparent: sampled.traceparent })).status, 200);
    // Stopping flushes: whatever was going to be exported has been.
    assert.equal(await trusting.stop(), 0);
    const exported = receiver.spans.filter((s) => s.resource['service.name'] === 'trusting');
    assert.ok(exported.length > 0 && exported.every((s) => s.traceId === sampled.traceId), `only the sampled caller's trace: ${exported.map((s) => s.traceId).join(', ')}`);
  });
});
