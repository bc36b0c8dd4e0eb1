import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { context, trace } from '@opentelemetry/api';
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

const users = express.Router();
users.get('/:id', (request, response) => {
  if (request.params.id === 'bad') throw new Error('fails in the router');
  response.json({ id: request.params.id });
});
users.get('/:id/later', async () => {
  await new Promise((resolve) => setTimeout(resolve, 5));
  throw new Error('fails in the router, after an await');
});
let atFinish: string | undefined;
users.post('/:id/notes', (request, response) => {
  const inHandler = trace.getActiveSpan()?.spanContext().spanId;
  response.once('finish', () => (atFinish = trace.getActiveSpan()?.spanContext().spanId));
  let bytes = 0;
  request.on('data', (chunk: Buffer) => (bytes += chunk.length));
  request.on('end', () => response.json({ bytes, inHandler, atEnd: trace.getActiveSpan()?.spanContext().spanId }));
});
const api = express.Router();
api.use('/users', users);

const app = express();
app.use(traceRequests({ untracedPaths: [], trustCaller: true }));
app.use('/api', api);
app.use(((_error, _request, response, _next) => void response.status(500).json({ error: 'failed' })) as ErrorRequestHandler);

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

describe('the context in listeners on the request and the response', () => {
  it("a body read with request.on('data'/'end'), and response.on('finish'): the server span is active in the listeners, as in the handler", async () => {
    exporter.reset();
    atFinish = undefined;
    const answer = await fetch(`${base}/api/users/1/notes`, { method: 'POST', body: 'x'.repeat(200_000) });
    const { bytes, inHandler, atEnd } = (await answer.json()) as { bytes: number; inHandler?: string; atEnd?: string };
    const [span] = await waitFor(() => (exporter.getFinishedSpans().length ? exporter.getFinishedSpans() : undefined), 'the server span');
    assert.equal(bytes, 200_000);
    assert.equal(span?.name, 'POST /api/users/:id/notes');
    assert.deepEqual({ inHandler, atEnd, atFinish }, { inHandler: span?.spanContext().spanId, atEnd: span?.spanContext().spanId, atFinish: span?.spanContext().spanId });
  });
});
