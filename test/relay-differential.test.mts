import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, it } from 'node:test';
import { differences } from '../harness/ingest-compare.mts';
import { keyValues, logsRequest, nanos, postOtlpJson, tracesRequest } from '../harness/otlp-json.mts';
import { RelayIngest, relayMissing } from '../harness/relay.mts';
import { describeNeeding } from '../harness/requirements.mts';
import { SentryIngest } from '../harness/sentry-ingest.mts';

/*
 * The same hand-built OTLP payloads to the stand-in (harness/sentry-ingest.mts)
 * and to Sentry's real Relay: each must keep the same spans and log records,
 * with the same fields and attributes, and drop the same ones. Where they
 * disagree, the stand-in is wrong.
 */

const traceId = randomBytes(16).toString('hex');
const id = () => randomBytes(8).toString('hex');
const [root, child, remoteChild, linked, dbSpan, ancient] = [id(), id(), id(), id(), id(), id()];
const now = BigInt(nanos());
const at = (offsetNs: bigint) => String(now + offsetNs);
const longAgo = String(now - 100n * 24n * 3600n * 1_000_000_000n); // past Sentry's 90 days of retention

const resource = { 'service.name': 'differential', 'telemetry.sdk.language': 'nodejs', 'service.instance.id': 'i-1', 'host.cores': 2, 'deploy.tags': ['blue', 'canary'], 'deploy.info': { region: 'eu', zone: 1 } };
const scope = { name: 'differential-test', version: '1.2.3' };

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
    assert.ok(relayDropped.includes('logs no_data') && relayDropped.includes('traces timestamp'), `the payloads hold items to drop; Relay dropped: ${relayDropped}`);
    assert.deepEqual(standInDropped, relayDropped);
  });
});
