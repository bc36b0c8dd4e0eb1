import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { after, before, it } from 'node:test';
import { differences } from '../harness/ingest-compare.mts';
import { keyValues, logsRequest, nanos, postOtlpJson, tracesRequest } from '../harness/otlp-json.mts';
import { RelayIngest, relayMissing } from '../harness/relay.mts';
import { describeNeeding } from '../harness/requirements.mts';
import { SentryEnvelopes } from '../harness/sentry-envelopes.mts';
import { SentryIngest } from '../harness/sentry-ingest.mts';

/*
 * The same hand-built OTLP payloads to the stand-in (harness/sentry-ingest.mts)
 * and to Sentry's real Relay: each must keep the same spans and log records,
 * with the same fields and attributes, and drop the same ones. Where they
 * disagree, the stand-in is wrong.
 */

const traceId = randomBytes(16).toString('hex');
const id = () => randomBytes(8).toString('hex');
const [root, child, remoteChild, linked, dbSpan, ancient, startedLongAgo, backwards, nameless, twice, zeroParent, shortParent, badSegment] = Array.from({ length: 13 }, id);
const zeroSpanId = '0'.repeat(16);
const now = BigInt(nanos());
const at = (offsetNs: bigint) => String(now + offsetNs);
const longAgo = String(now - 100n * 24n * 3600n * 1_000_000_000n); // past Sentry's 90 days of retention
const MAX_LOG_SIZE = 2 * 1024 * 1024; // relay-config/src/config.rs, max_log_size

const resource = { 'service.name': 'differential', 'telemetry.sdk.language': 'nodejs', 'service.instance.id': 'i-1', 'host.cores': 2, 'deploy.tags': ['blue', 'canary'], 'deploy.info': { region: 'eu', zone: 1 } };
const scope = { name: 'differential-test', version: '1.2.3', attributes: keyValues({ 'library.kind': 'test', 'library.tags': ['a', 1] }) };

const spans = [
  {
    traceId, spanId: root, name: 'GET /users/:id', kind: 2, startTimeUnixNano: at(123_456n), endTimeUnixNano: at(5_123_456n),
    status: { code: 2, message: 'it failed' },
    attributes: keyValues({ 'http.request.method': 'GET', 'http.route': '/users/:id', 'http.response.status_code': 500, 'url.path': '/users/1', 'user.id': '1' }),
    events: [{ name: 'exception', timeUnixNano: at(2_000_000n), attributes: keyValues({ 'exception.type': 'Error', 'exception.message': 'boom' }) }],
  },
  {
    traceId, spanId: child, parentSpanId: root, name: 'GET', kind: 3, startTimeUnixNano: at(1_000_000n), endTimeUnixNano: at(4_000_000n), status: { code: 1 },
    attributes: keyValues({ 'http.request.method': 'GET', 'server.address': 'users', 'server.port': 8081, 'url.full': 'http://users:8081/users/1' }),
    links: [{ traceId: randomBytes(16).toString('hex'), spanId: linked, flags: 1, attributes: keyValues({ 'link.reason': 'caller' }) }, { traceId, spanId: root }],
  },
  {
    // A parent in another process (SpanFlags: HAS_IS_REMOTE | IS_REMOTE), as a server span of a downstream service.
    traceId, spanId: remoteChild, parentSpanId: child, name: 'work', kind: 1, flags: 0x301, startTimeUnixNano: at(2_000_000n), endTimeUnixNano: at(3_000_000n),
    attributes: keyValues({
      strings: ['a', 'b'], numbers: [1, 2.5], booleans: [true, false], mixed: ['a', 1], nested: [['a'], 'b'], map: { k: 'v', n: 1, deeper: { x: 1 } },
      empty: '', 'count.int': 3, 'ratio.double': 0.25, flag: false,
    }),
  },
  { traceId, spanId: dbSpan, parentSpanId: root, name: '', kind: 3, startTimeUnixNano: at(1_000_000n), endTimeUnixNano: at(1_500_000n), attributes: keyValues({ 'db.system.name': 'postgresql', 'db.query.text': 'SELECT 1' }) },
  { traceId, spanId: ancient, parentSpanId: root, name: 'from long ago', kind: 1, startTimeUnixNano: longAgo, endTimeUnixNano: longAgo },
  // Dated by its start: dropped though it ended now.
  { traceId, spanId: startedLongAgo, parentSpanId: root, name: 'started long ago', kind: 1, startTimeUnixNano: longAgo, endTimeUnixNano: at(0n) },
  { traceId, spanId: backwards, parentSpanId: root, name: 'ends before it starts', kind: 1, startTimeUnixNano: at(2_000_000n), endTimeUnixNano: at(1_000_000n) },
  { traceId, spanId: nameless, parentSpanId: root, kind: 1, startTimeUnixNano: at(0n), endTimeUnixNano: at(0n), attributes: keyValues({ 'no.name': true }) },
  { traceId, spanId: zeroSpanId, parentSpanId: root, name: 'span id all zeros', kind: 1, startTimeUnixNano: at(0n), endTimeUnixNano: at(0n) },
  { traceId, spanId: 'abcdef01', parentSpanId: root, name: 'span id of 4 bytes', kind: 1, startTimeUnixNano: at(0n), endTimeUnixNano: at(0n) },
  { traceId, spanId: twice, parentSpanId: root, name: 'the first of two with one id', kind: 1, startTimeUnixNano: at(0n), endTimeUnixNano: at(0n) },
  { traceId, spanId: twice, parentSpanId: root, name: 'the second of two with one id', kind: 1, startTimeUnixNano: at(0n), endTimeUnixNano: at(0n) },
  // A parent id that is no span id: a root, so a segment.
  { traceId, spanId: zeroParent, parentSpanId: zeroSpanId, name: 'parent id all zeros', kind: 1, startTimeUnixNano: at(0n), endTimeUnixNano: at(0n) },
  { traceId, spanId: shortParent, parentSpanId: 'abcdef01', name: 'parent id of 4 bytes', kind: 1, startTimeUnixNano: at(0n), endTimeUnixNano: at(0n) },
  {
    traceId: '0'.repeat(32), spanId: id(), name: 'trace id all zeros', kind: 1, startTimeUnixNano: at(0n), endTimeUnixNano: at(0n),
    links: [{ traceId, spanId: zeroSpanId }, { traceId, spanId: root, attributes: keyValues({ mixed: ['a', 1] }) }],
  },
  { traceId, spanId: badSegment, parentSpanId: root, name: 'a segment id that is no span id', kind: 1, startTimeUnixNano: at(0n), endTimeUnixNano: at(0n), attributes: keyValues({ 'sentry.segment.id': 'not a span id' }) },
];

const spanId = root;
const record = (severityNumber: number, body: object | undefined, extra: object = {}) => ({
  timeUnixNano: at(777_000n), traceId, spanId, severityNumber, ...(body ? { body } : {}), ...extra,
});
const logs = [
  ...[1, 5, 9, 13, 17, 21].map((severity) => record(severity, { stringValue: `severity ${severity}` })),
  record(0, { stringValue: 'severity from the text' }, { severityText: 'Warning' }),
  record(0, { stringValue: 'severity unknown' }, { severityText: 'loud' }),
  record(17, undefined, { attributes: keyValues({ 'exception.type': 'NoBody' }) }),
  record(9, { stringValue: '' }, { attributes: keyValues({ case: 'empty string body' }) }),
  record(9, { intValue: '42' }),
  record(9, { boolValue: true }),
  record(9, { kvlistValue: { values: keyValues({ user: 'jane', tries: 2 }) } }),
  record(9, { arrayValue: { values: [{ stringValue: 'a' }, { intValue: '1' }] } }),
  record(9, { stringValue: 'an event' }, { eventName: 'user.signed_in', attributes: keyValues({ strings: ['a'], mixed: [1, 'a'], map: { k: true } }) }),
  { timeUnixNano: at(888_000n), severityNumber: 13, body: { stringValue: 'no trace id, no span id' } },
  { timeUnixNano: at(999_000n), traceId, severityNumber: 9, body: { stringValue: 'no span id' } },
  { timeUnixNano: longAgo, traceId, spanId, severityNumber: 9, body: { stringValue: 'from long ago' } },
  // Relay checks the size (2 MiB), then the time, then the body.
  record(9, { stringValue: 'x'.repeat(MAX_LOG_SIZE + 1) }),
  record(9, undefined, { attributes: keyValues({ large: 'x'.repeat(MAX_LOG_SIZE) }), timeUnixNano: longAgo }),
  record(9, undefined, { timeUnixNano: longAgo }),
  record(9, { stringValue: 'just under the size limit' }, { attributes: keyValues({ large: 'x'.repeat(MAX_LOG_SIZE - 2_000) }) }),
  { timeUnixNano: at(999_000n), traceId: '0'.repeat(32), spanId: zeroSpanId, severityNumber: 9, body: { stringValue: 'trace and span ids all zeros' } },
];

describeNeeding(relayMissing(), 'the Sentry ingest stand-in keeps what Sentry\'s Relay keeps, on the same OTLP payloads', () => {
  let relay: RelayIngest;
  let standIn: SentryIngest;

  before(async () => {
    standIn = await SentryIngest.start();
    relay = await RelayIngest.start();
    for (const ingest of [relay, standIn]) {
      assert.equal((await postOtlpJson(ingest, 'traces', tracesRequest(spans, { resource, scope }))).status, 200);
      assert.equal((await postOtlpJson(ingest, 'logs', logsRequest(logs, { resource, scope }))).status, 200);
    }
    await relay.settle();
  });
  after(async () => {
    await relay?.close();
    await standIn?.close();
  });

  it('the same spans and log records, with the same fields and attributes', () => {
    const found = differences(standIn, relay, new Set([traceId]));
    assert.deepEqual(found, [], `the stand-in and Relay disagree:\n${found.join('\n')}`);
  });

  it('the same ones dropped, for the same reasons', () => {
    const standInDropped = standIn.discarded.map((d) => `${d.signal} ${d.reason}`).sort();
    const relayDropped = relay.discards
      .filter((outcome) => outcome.category === 'span' || outcome.category === 'log_item')
      .flatMap((outcome) => Array.from({ length: outcome.quantity }, () => `${outcome.category === 'span' ? 'traces' : 'logs'} ${outcome.reason}`))
      .sort();
    for (const expected of ['logs no_data', 'logs timestamp', 'logs too_large:log', 'traces timestamp', 'traces no_data', 'traces invalid_span', 'traces duplicate']) {
      assert.ok(relayDropped.includes(expected), `the payloads hold items to drop (${expected}); Relay dropped: ${relayDropped}`);
    }
    assert.deepEqual(standInDropped, relayDropped);
  });

  /* Each case's request, for an ingest's project key: [what, method, headers, body]. */
  type Case = [string, string, Record<string, string>, string | Buffer | undefined];
  const answers = async (url: string, cases: Case[]) => {
    const found: string[] = [];
    for (const [what, method, headers, body] of cases) {
      const response = await fetch(url, { method, headers, body: typeof body === 'string' || body === undefined ? body : new Uint8Array(body) });
      found.push(`${what}: ${response.status}${response.status === 415 && (await response.text()) === '' ? ' (no body)' : ''}`);
    }
    return found;
  };

  it('the same answers to the same headers: content encodings, Basic auth, sentry_version', async () => {
    const payload = JSON.stringify(logsRequest([{ timeUnixNano: nanos(), severityNumber: 9, body: { stringValue: 'a header case' } }]));
    const basic = (bytes: string | Buffer) => `Basic ${Buffer.from(bytes).toString('base64')}`;
    const cases = (key: string): Case[] => {
      const json = { 'content-type': 'application/json' };
      const auth = { ...json, 'x-sentry-auth': `sentry sentry_key=${key}` };
      const version = (value: string): Case => [`sentry_version=${value}`, 'POST', { ...json, 'x-sentry-auth': `sentry sentry_key=${key}, sentry_version=${value}` }, payload];
      return [
        ['content-encoding x-gzip', 'POST', { ...auth, 'content-encoding': 'x-gzip' }, gzipSync(payload)],
        ['content-encoding GZIP', 'POST', { ...auth, 'content-encoding': 'GZIP' }, gzipSync(payload)],
        ['content-encoding UTF-8', 'POST', { ...auth, 'content-encoding': 'UTF-8' }, payload],
        ['content-encoding identity', 'POST', { ...auth, 'content-encoding': 'identity' }, payload],
        ['an unknown content-encoding on a GET', 'GET', { ...auth, 'content-encoding': 'compress' }, undefined],
        ['Basic key:', 'POST', { ...json, authorization: basic(`${key}:`) }, payload],
        ['Basic key, no colon', 'POST', { ...json, authorization: basic(key) }, payload],
        ['Basic with an empty key', 'POST', { ...json, authorization: basic(':secret') }, payload],
        ['Basic without base64 padding', 'POST', { ...json, authorization: basic(`${key}:x`).replace(/=+$/, '') }, payload],
        ['Basic not UTF-8', 'POST', { ...json, authorization: basic(Buffer.concat([Buffer.from([0xff]), Buffer.from(`${key}:`)])) }, payload],
        ['Basic not base64, and x-sentry-auth', 'POST', { ...auth, authorization: 'Basic !!!' }, payload],
        ['Basic key:, and x-sentry-auth', 'POST', { ...auth, authorization: basic(`${key}:`) }, payload],
        ...['7', '+7', '07', '7.5', '', '0x7', '1e0', '-7', '8', '65535', '65536'].map(version),
      ];
    };
    const [relayAnswers, standInAnswers] = [await answers(relay.endpoint('logs'), cases(relay.publicKey)), await answers(standIn.endpoint('logs'), cases(standIn.publicKey))];
    assert.deepEqual(standInAnswers, relayAnswers);
  });

  it('the envelope endpoint stand-in (harness/sentry-envelopes.mts) answers as Relay does', async () => {
    const envelopes = await SentryEnvelopes.start();
    try {
      const event = (dsn?: string) => `${JSON.stringify({ event_id: randomBytes(16).toString('hex'), ...(dsn ? { dsn } : {}) })}\n{"type":"event"}\n{"message":"an envelope case"}\n`;
      const cases = (dsn: string, key: string): Case[] => [
        ['no auth', 'POST', {}, event()],
        ['no auth, the DSN in the envelope header', 'POST', {}, event(dsn)],
        ['x-sentry-auth', 'POST', { 'x-sentry-auth': `sentry sentry_key=${key}` }, event()],
        ['an empty body', 'POST', { 'x-sentry-auth': `sentry sentry_key=${key}` }, ''],
        ['not an envelope', 'POST', { 'x-sentry-auth': `sentry sentry_key=${key}` }, 'not an envelope'],
        ['gzip', 'POST', { 'x-sentry-auth': `sentry sentry_key=${key}`, 'content-encoding': 'gzip' }, gzipSync(event())],
        ['x-gzip', 'POST', { 'x-sentry-auth': `sentry sentry_key=${key}`, 'content-encoding': 'x-gzip' }, gzipSync(event())],
      ];
      const endpoint = (ingest: { url: string; projectId: string }) => `${ingest.url}/api/${ingest.projectId}/envelope/`;
      const relayAnswers = await answers(endpoint(relay), cases(relay.dsn, relay.publicKey));
      const standInAnswers = await answers(endpoint(envelopes), cases(envelopes.dsn, envelopes.publicKey));
      assert.deepEqual(standInAnswers, relayAnswers);
    } finally {
      await envelopes.close();
    }
  });
});
