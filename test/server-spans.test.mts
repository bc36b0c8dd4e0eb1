import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { SPAN_KIND, STATUS_CODE, type ReceivedSpan } from '../harness/otlp.mts';
import { OtlpReceiver } from '../harness/otlp-receiver.mts';
import { FAST_EXPORT } from '../harness/pipeline.mts';
import { ROOT, Service } from '../harness/service.mts';

/*
 * The kit's server-span middleware (src/telemetry/server-spans.ts) against
 * the official incoming instrumentation (@opentelemetry/instrumentation-http,
 * with @opentelemetry/instrumentation-express naming the span after the route:
 * test/fixtures/official-server-spans.cjs). The same raw requests go to both;
 * their SERVER spans are compared by name, kind, status and attributes. Every
 * difference is listed below with its reason (and in the README); a new one,
 * or a listed one that is gone, fails the test.
 */

interface Probe {
  name: string;
  /** The request as sent, byte for byte (CRLF line ends added). */
  lines: string[];
  /** Close the connection this long after sending, whatever has been answered. */
  leaveAfterMs?: number;
}

const request = (method: string, target: string, headers: string[] = []) => [`${method} ${target} HTTP/1.1`, 'Host: localhost:8080', ...headers, 'Connection: close'];
const withHost = (host: string) => [`GET /users/42 HTTP/1.1`, `Host: ${host}`, 'Connection: close'];

const CORPUS: Probe[] = [
  { name: 'a plain GET', lines: request('GET', '/users/42') },
  { name: 'an IPv6 Host', lines: withHost('[::1]:8080') },
  { name: 'a Host without a port', lines: withHost('example.com') },
  { name: 'a Host with a bad port', lines: withHost('example.com:abc') },
  { name: 'a Host with an empty port', lines: withHost('example.com:') },
  { name: 'a method the conventions do not know', lines: request('PROPFIND', '/users/42') },
  { name: 'HEAD', lines: request('HEAD', '/users/42') },
  { name: 'OPTIONS', lines: request('OPTIONS', '/users/42') },
  { name: 'a 400', lines: request('GET', '/users/bad%20id!') },
  { name: 'a 404', lines: request('GET', '/nowhere') },
  { name: 'a 500', lines: request('GET', '/error') },
  { name: 'X-Forwarded-For with a port', lines: request('GET', '/users/42', ['X-Forwarded-For: 203.0.113.7:4711, 10.0.0.1']) },
  { name: 'Forwarded with for, host and proto', lines: request('GET', '/users/42', ['Forwarded: for="[2001:db8::1]:4711";proto=https;host=api.example.com, for=10.0.0.1']) },
  { name: 'X-Forwarded-Host and X-Forwarded-Proto', lines: request('GET', '/users/42', ['X-Forwarded-Host: api.example.com', 'X-Forwarded-Proto: https']) },
  { name: 'a query with an encoded key', lines: request('GET', '/work?ms=1&%73ig=secret&b=%20x') },
  { name: 'a query with a signature', lines: request('GET', '/work?ms=1&X-Amz-Signature=abc&a') },
  // RFC 9112 §3.2.2: a target in absolute form, which Express routes as it would /users/42?ms=1.
  { name: 'an absolute-form target with user info', lines: request('GET', 'http://user:secret@localhost:8080/users/42?ms=1') },
  { name: 'a target with a fragment', lines: request('GET', '/users/42?ms=1#top') },
  { name: 'a client that leaves before the headers', lines: request('GET', '/work?ms=400'), leaveAfterMs: 100 },
  { name: 'a client that leaves during its body', lines: request('POST', '/users/42', ['Content-Length: 100000', '', 'only the start of the body']), leaveAfterMs: 100 },
];

/**
 * Where the two differ, and why (what the middleware saves: docs/performance.md,
 * "Server spans: the middleware and the official instrumentation"). Field names are attributes, or `name`,
 * `status.code` and `status.message`.
 */
const DIFFERENCES: Record<string, Record<string, string>> = {
  'an IPv6 Host': { 'server.address': 'an address without its URL brackets, as client.address is' },
  'a Host with a bad port': {
    'server.port': 'left out; the instrumentation writes NaN',
    'url.path': 'kept; the instrumentation loses it when the Host header is no valid URL authority',
  },
  'a Host with an empty port': { 'server.port': 'left out; the instrumentation writes 0' },
  'a method the conventions do not know': { name: 'HTTP, as the conventions name a span whose method is _OTHER' },
  'a 500': { 'status.message': 'the error recorded by the app keeps its description; the instrumentation overwrites it' },
  'Forwarded with for, host and proto': { 'url.scheme': "the original request's scheme, as the conventions ask for server spans" },
  'X-Forwarded-Host and X-Forwarded-Proto': { 'url.scheme': "the original request's scheme, as the conventions ask for server spans" },
  'a client that leaves before the headers': {
    'http.response.status_code': 'none was sent; the instrumentation reports a 200 that never went out',
    'error.type': 'aborted: the request did not complete',
    'status.code': 'ERROR: the request did not complete',
    'status.message': 'says the client left',
  },
};

/** Sends one probe on its own connection; resolves with the local port (the span's network.peer.port). */
async function send(port: number, probe: Probe): Promise<number> {
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const localPort = socket.localPort!;
  socket.on('error', () => {});
  socket.resume();
  const text = probe.lines.join('\r\n');
  socket.write(probe.lines.includes('') ? text : `${text}\r\n\r\n`);
  if (probe.leaveAfterMs !== undefined) {
    await sleep(probe.leaveAfterMs);
    socket.destroy();
  } else {
    await new Promise((resolve) => socket.once('close', resolve));
  }
  return localPort;
}

type Comparable = Record<string, unknown>;

function comparable(span: ReceivedSpan): Comparable {
  const { 'network.peer.port': _port, ...attributes } = span.attributes;
  return { name: span.name, kind: span.kind, 'status.code': span.status.code, 'status.message': span.status.message || undefined, ...attributes };
}

function differences(ours: Comparable, official: Comparable): string[] {
  const fields = new Set([...Object.keys(ours), ...Object.keys(official)]);
  return [...fields].filter((field) => !Object.is(ours[field], official[field]) && JSON.stringify(ours[field]) !== JSON.stringify(official[field])).sort();
}

async function serverSpansOf(service: Service, receiver: OtlpReceiver, trustCaller = true, probes = CORPUS): Promise<Map<string, ReceivedSpan>> {
  const ports = new Map<number, string>();
  for (const probe of probes) ports.set(await send(service.port, probe), probe.name);
  const byPort = (spans: ReceivedSpan[]) => spans.filter((s) => s.kind === SPAN_KIND.SERVER && ports.has(Number(s.attributes['network.peer.port'])));
  await receiver.waitForSpans((spans) => byPort(spans).length >= probes.length, `a server span for each of the ${probes.length} requests${trustCaller ? '' : ' (untrusted)'}`);
  return new Map(byPort(receiver.spans).map((span) => [ports.get(Number(span.attributes['network.peer.port']))!, span]));
}

describe('server spans: the kit\'s middleware against the official incoming instrumentation, on the same requests', () => {
  let receivers: { ours: OtlpReceiver; official: OtlpReceiver; untrusted: OtlpReceiver };
  let services: Service[] = [];
  let ours: Map<string, ReceivedSpan>;
  let official: Map<string, ReceivedSpan>;

  before(async () => {
    receivers = { ours: await OtlpReceiver.start(), official: await OtlpReceiver.start(), untrusted: await OtlpReceiver.start() };
    const common = { ...FAST_EXPORT, OTEL_LOGS_EXPORTER: 'none', LOG_LEVEL: 'silent' };
    services = [
      await Service.start({ ...common, OTEL_EXPORTER_OTLP_ENDPOINT: receivers.ours.endpoint }),
      await Service.start({ ...common, OTEL_EXPORTER_OTLP_ENDPOINT: receivers.official.endpoint }, { nodeArgs: [join(ROOT, 'test/fixtures/official-server-spans.cjs')] }),
    ];
    ours = await serverSpansOf(services[0]!, receivers.ours);
    official = await serverSpansOf(services[1]!, receivers.official);
  });
  after(async () => {
    await Promise.all(services.map((service) => service.stop()));
    await Promise.all(Object.values(receivers).map((receiver) => receiver.close()));
  });

  for (const probe of CORPUS) {
    it(probe.name, () => {
      const [mine, theirs] = [ours.get(probe.name), official.get(probe.name)];
      assert.ok(mine && theirs, `both made a server span (ours: ${Boolean(mine)}, official: ${Boolean(theirs)})`);
      const [a, b] = [comparable(mine), comparable(theirs)];
      assert.deepEqual(
        differences(a, b),
        Object.keys(DIFFERENCES[probe.name] ?? {}).sort(),
        `ours ${JSON.stringify(a)}\nofficial ${JSON.stringify(b)}`,
      );
    });
  }

  it('where they differ, ours says what the conventions ask', () => {
    const attribute = (name: string, key: string) => ours.get(name)!.attributes[key];
    assert.equal(attribute('an IPv6 Host', 'server.address'), '::1');
    assert.equal(attribute('an IPv6 Host', 'server.port'), 8080);
    assert.equal(attribute('a Host with a bad port', 'server.port'), undefined);
    assert.equal(ours.get('a method the conventions do not know')!.name, 'HTTP');
    assert.equal(attribute('a method the conventions do not know', 'http.request.method'), '_OTHER');
    assert.equal(attribute('a method the conventions do not know', 'http.request.method_original'), 'PROPFIND');
    assert.equal(ours.get('a 500')!.status.message, 'this endpoint fails on purpose');
    assert.equal(attribute('Forwarded with for, host and proto', 'url.scheme'), 'https');
    assert.equal(attribute('Forwarded with for, host and proto', 'client.address'), '2001:db8::1');
    assert.equal(attribute('X-Forwarded-For with a port', 'client.address'), '203.0.113.7');
    assert.equal(attribute('a query with an encoded key', 'url.query'), 'ms=1&sig=REDACTED&b=+x');
    const absolute = ours.get('an absolute-form target with user info')!;
    assert.equal(absolute.name, 'GET /users/:id');
    assert.deepEqual([absolute.attributes['url.path'], absolute.attributes['url.query']], ['/users/42', 'ms=1']);
    assert.doesNotMatch(JSON.stringify(absolute.attributes), /secret/, 'no user info on the span');
    const left = ours.get('a client that leaves before the headers')!;
    assert.equal(left.attributes['http.response.status_code'], undefined);
    assert.equal(left.attributes['error.type'], 'aborted');
    assert.equal(left.status.code, STATUS_CODE.ERROR);
  });

  it('with TRUST_INCOMING_TRACE_CONTEXT=false the forwarding headers are not believed: client, server and scheme come from the connection', async () => {
    const untrusted = await Service.start({ ...FAST_EXPORT, OTEL_LOGS_EXPORTER: 'none', LOG_LEVEL: 'silent', OTEL_EXPORTER_OTLP_ENDPOINT: receivers.untrusted.endpoint, TRUST_INCOMING_TRACE_CONTEXT: 'false' });
    services.push(untrusted);
    const forwarded = CORPUS.filter((probe) => /Forwarded/.test(probe.name));
    const spans = await serverSpansOf(untrusted, receivers.untrusted, false, forwarded);
    for (const probe of forwarded) {
      const { attributes } = spans.get(probe.name)!;
      assert.equal(attributes['client.address'], attributes['network.peer.address'], probe.name);
      assert.equal(attributes['server.address'], 'localhost', probe.name);
      assert.equal(attributes['server.port'], 8080, probe.name);
      assert.equal(attributes['url.scheme'], 'http', probe.name);
    }
  });
});
