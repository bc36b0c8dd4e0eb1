import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { SpanStatusCode, context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import express, { type ErrorRequestHandler } from 'express';
import { waitFor } from '../harness/wait.mts';

/*
 * The route a SERVER span is named after (http.route, the span's name) when
 * the route is in a Router mounted under a path: the whole template, on
 * success and when the handler fails, as the semantic conventions ask
 * ("the matched route, that is, the path template").
 */
const exporter = new InMemorySpanExporter();
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
trace.setGlobalTracerProvider(new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] }));
const { traceRequests } = await import('../dist/telemetry/server-spans.js');
const { recordError } = await import('../dist/telemetry/spans.js');

const users = express.Router();
users.get('/:id', (request, response) => {
  if (request.params.id === 'bad') throw new Error('fails in the router');
  response.json({ id: request.params.id });
});
users.get('/:id/later', async () => {
  await new Promise((resolve) => setTimeout(resolve, 5));
  throw new Error('fails in the router, after an await');
});
class HalfWayError extends Error {
  override name = 'HalfWayError';
}
users.get('/:id/half', (_request, response) => {
  response.write('[{"id":1},');
  throw new HalfWayError('fails after its headers went out');
});
const activeSpanId = () => trace.getActiveSpan()?.spanContext().spanId;
// A body read with the request's events; `?bind` binds the request first, as server-spans.ts advises.
users.post('/:id/notes', (request, response) => {
  if ('bind' in request.query) context.bind(context.active(), request);
  let bytes = 0;
  request.on('data', (chunk: Buffer) => (bytes += chunk.length));
  request.on('end', () => response.json({ bytes, atEnd: activeSpanId() }));
});
users.post('/:id/json', express.json({ limit: '1mb' }), (request, response) => {
  response.json({ keys: Object.keys(request.body as object).length, inHandler: activeSpanId() });
});
const api = express.Router();
api.use('/users', users);

const app = express();
app.use(traceRequests({ untracedPaths: [], trustCaller: true }));
app.use('/api', api);
// As app.ts handles errors: recorded on the request's span; once the headers went out,
// Express's own handler cuts the connection.
app.use(((error, _request, response, next) => {
  recordError(trace.getActiveSpan()!, error);
  if (response.headersSent) return next(error);
  response.status(500).json({ error: 'failed' });
}) as ErrorRequestHandler);

let base = '';
let server: ReturnType<typeof app.listen>;
before(async () => {
  server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise((resolve) => server.close(resolve)));

describe('SERVER spans of routes in nested routers', () => {
  for (const [path, status] of [['/api/users/1', 200], ['/api/users/bad', 500], ['/api/users/1/later', 500]] as const) {
    it(`${path} (${status}): named after the whole route`, async () => {
      exporter.reset();
      assert.equal((await fetch(`${base}${path}`)).status, status);
      // The span ends on the response's 'close', after the client has its answer.
      const [span, ...more] = await waitFor(() => (exporter.getFinishedSpans().length ? exporter.getFinishedSpans() : undefined), 'the server span');
      assert.deepEqual(more, []);
      const route = path.endsWith('/later') ? '/api/users/:id/later' : '/api/users/:id';
      assert.equal(span?.name, `GET ${route}`);
      assert.equal(span?.attributes['http.route'], route);
      assert.equal(span?.attributes['http.response.status_code'], status);
    });
  }
});

describe('a handler that fails after its headers went out', () => {
  it("keeps the error it recorded: the connection closing is not the client leaving", async () => {
    exporter.reset();
    const response = await fetch(`${base}/api/users/1/half`);
    assert.equal(response.status, 200);
    await assert.rejects(response.text(), 'the body is cut short');
    const [span] = await waitFor(() => (exporter.getFinishedSpans().length ? exporter.getFinishedSpans() : undefined), 'the server span');
    assert.equal(span?.name, 'GET /api/users/:id/half');
    assert.deepEqual(span?.status, { code: SpanStatusCode.ERROR, message: 'fails after its headers went out' });
    assert.equal(span?.attributes['error.type'], 'HalfWayError');
    assert.equal(span?.attributes['http.response.status_code'], 200);
  });
});

/** POSTs `body` to `path`; resolves with the answer and the request's server span. */
async function post(path: string, body: string, headers: Record<string, string> = {}) {
  exporter.reset();
  const answer = (await (await fetch(`${base}${path}`, { method: 'POST', body, headers })).json()) as Record<string, unknown>;
  const [span] = await waitFor(() => (exporter.getFinishedSpans().length ? exporter.getFinishedSpans() : undefined), 'the server span');
  return { answer, spanId: span!.spanContext().spanId };
}

// The middleware does not bind the request and response to the span's context, as the
// official instrumentation does: measured, it cost 30–75 µs a request (server-spans.ts).
describe('the context in listeners on the request', () => {
  it("request.on('data'/'end'): outside the span unless the handler binds the request, and then inside it", async () => {
    const unbound = await post('/api/users/1/notes', 'x'.repeat(200_000));
    assert.deepEqual(unbound.answer, { bytes: 200_000 }, 'no span active in the listener: the difference from the official instrumentation');
    const bound = await post('/api/users/1/notes?bind', 'x'.repeat(200_000));
    assert.deepEqual(bound.answer, { bytes: 200_000, atEnd: bound.spanId });
  });

  it('express.json(): the handler after it runs in the span, whatever the body took', async () => {
    const { answer, spanId } = await post('/api/users/1/json', JSON.stringify({ note: 'x'.repeat(200_000) }), { 'content-type': 'application/json' });
    assert.deepEqual(answer, { keys: 1, inHandler: spanId });
  });
});
