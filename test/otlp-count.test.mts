import assert from 'node:assert/strict';
import { it } from 'node:test';
import { countItems, decodeLogs, decodeSpans, otlpJsonToProtobuf } from '../harness/otlp.mts';

/*
 * The bench's counting sink counts spans and log records with countItems (a
 * walk over the tags); the tests decode them whole. Both must agree.
 */
const attributes = [{ key: 'http.route', value: { stringValue: '/users/:id' } }, { key: 'n', value: { intValue: 7 } }];

function spans(resources: number, scopes: number, perScope: number): string {
  let id = 0;
  const span = () => ({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: (++id).toString(16).padStart(16, '0'), name: 'GET', kind: 2, attributes, events: [{ name: 'e', attributes }] });
  return JSON.stringify({
    resourceSpans: Array.from({ length: resources }, () => ({
      resource: { attributes },
      scopeSpans: Array.from({ length: scopes }, (_, s) => ({ scope: { name: `scope-${s}` }, spans: Array.from({ length: perScope }, span) })),
    })),
  });
}

function logs(resources: number, scopes: number, perScope: number): string {
  const record = () => ({ severityNumber: 9, body: { stringValue: 'a line' }, attributes, eventName: 'x' });
  return JSON.stringify({
    resourceLogs: Array.from({ length: resources }, () => ({
      resource: { attributes },
      scopeLogs: Array.from({ length: scopes }, (_, s) => ({ scope: { name: `scope-${s}` }, logRecords: Array.from({ length: perScope }, record) })),
    })),
  });
}

it('countItems counts what decodeSpans and decodeLogs decode', () => {
  for (const [resources, scopes, perScope] of [[0, 0, 0], [1, 1, 1], [1, 3, 0], [2, 3, 5], [3, 1, 700]] as const) {
    const traces = otlpJsonToProtobuf('traces', spans(resources, scopes, perScope));
    assert.equal(countItems(traces), decodeSpans(traces).length);
    assert.equal(countItems(traces), resources * scopes * perScope);
    const records = otlpJsonToProtobuf('logs', logs(resources, scopes, perScope));
    assert.equal(countItems(records), decodeLogs(records).length);
    assert.equal(countItems(records), resources * scopes * perScope);
  }
});
