import assert from 'node:assert/strict';
import { test } from 'node:test';
import { REST, stageOf, stageTimes } from '../bench/lib/cpu-stages.mts';
import type { CpuProfile } from '../bench/lib/profile.mts';
import { threadTimes } from '../bench/lib/thread-cpu.mts';

const NM = 'file:///app/node_modules';
const frame = (functionName: string, url: string) => ({ functionName, url });
// Stacks as a profile gives them, the sampled frame first.
const writeString = frame('writeString', `${NM}/@opentelemetry/otlp-transformer/dist/common/protobuf/protobuf-writer.cjs`);
const serializeSpan = frame('serializeSpan', `${NM}/@opentelemetry/otlp-transformer/dist/trace/protobuf/trace-serializer.cjs`);
const serializeLogRecord = frame('serializeLogRecord', `${NM}/@opentelemetry/otlp-transformer/dist/logs/protobuf/logs-serializer.cjs`);
const spanEnd = frame('end', `${NM}/@opentelemetry/sdk-trace/dist/Span.cjs`);
const endServerSpan = frame('endServerSpan', 'file:///app/dist/telemetry/server-spans.js');
const contextWith = frame('with', `${NM}/@opentelemetry/context-async-hooks/dist/AsyncLocalStorageContextManager.cjs`);
const traceRequest = frame('traceRequest', 'file:///app/dist/telemetry/server-spans.js');
const expressHandle = frame('handle', `${NM}/express/lib/application.js`);
const parser = frame('parserOnIncoming', 'node:_http_server');

test('a frame the serializers share goes to the signal whose serializer called it', () => {
  assert.equal(stageOf([writeString, serializeSpan]), 'span export: OTLP serializer');
  assert.equal(stageOf([writeString, serializeLogRecord]), 'log export: OTLP serializer');
});

test('the innermost stage wins: a batch serialized inside span.end() is the serializer, not the span', () => {
  assert.equal(stageOf([writeString, serializeSpan, spanEnd, endServerSpan]), 'span export: OTLP serializer');
  assert.equal(stageOf([frame('now', 'node:internal/perf/performance'), spanEnd, endServerSpan]), 'spans: start, attributes, end');
});

test('the application code a context runs is not tracing\'s: the search stops at the wrapper', () => {
  assert.equal(stageOf([expressHandle, contextWith, traceRequest, parser]), REST);
  assert.equal(stageOf([contextWith, traceRequest, parser]), 'context (AsyncLocalStorage)');
  assert.equal(stageOf([frame('requestAttributes', 'file:///app/dist/telemetry/server-spans.js'), traceRequest]), "server span (the kit's middleware)");
  // The work withSpan runs is the application's, in the callback withSpan hands startActiveSpan.
  const withSpanCallback = frame('', 'file:///app/dist/telemetry/spans.js');
  assert.equal(stageOf([frame('SomeworkError', 'file:///app/dist/somework.js'), withSpanCallback, frame('startActiveSpan', `${NM}/@opentelemetry/sdk-trace/dist/Tracer.cjs`)]), REST);
  assert.equal(stageOf([frame('recordError', 'file:///app/dist/telemetry/spans.js'), frame('', 'file:///app/dist/somework.js')]), 'the kit: events, errors, logger');
  assert.equal(stageOf([frame('(garbage collector)', '')]), 'garbage collection');
  assert.equal(stageOf([parser]), REST);
});

/** A profile of three frames (root → express → serializer) sampled every 100 µs from t = 1,000,000 µs. */
function profile(samples: number[]): CpuProfile {
  return {
    nodes: [
      { id: 1, callFrame: { functionName: '(root)', url: '', lineNumber: 0 }, children: [2, 4] },
      { id: 2, callFrame: { functionName: 'handle', url: `${NM}/express/lib/application.js`, lineNumber: 0 }, children: [3] },
      { id: 3, callFrame: { functionName: 'serializeSpan', url: serializeSpan.url, lineNumber: 0 } },
      { id: 4, callFrame: { functionName: '(idle)', url: '', lineNumber: 0 } },
    ],
    samples,
    timeDeltas: samples.map((_, i) => (i === 0 ? 0 : 100)),
    startTime: 1_000_000,
    endTime: 1_000_000 + samples.length * 100,
  };
}

test('stage times: per request answered, idle left out, only the samples inside the window', () => {
  // 4 samples of express, 2 of the serializer, 4 idle; the time of sample i is delta i+1.
  const whole = stageTimes(profile([2, 2, 3, 3, 4, 4, 2, 2, 4, 4, 4]), 10);
  assert.deepEqual(whole.usPerRequest, { [REST]: 40, 'span export: OTLP serializer': 20 });
  assert.equal(whole.busyUsPerRequest, 60);
  // The window holds samples 2 to 6 (t = 1,000,200 … 1,000,600): two serializer, two idle, one express.
  const windowed = stageTimes(profile([2, 2, 3, 3, 4, 4, 2, 2, 4, 4, 4]), 5, { fromUs: 1_000_200, toUs: 1_000_600 });
  assert.deepEqual(windowed.usPerRequest, { [REST]: 20, 'span export: OTLP serializer': 40 });
  assert.equal(windowed.windowMs, 0);
  assert.deepEqual(windowed.window, { fromUs: 1_000_200, toUs: 1_000_600 }, 'kept, so the stages can be counted again from the profile');
  assert.throws(() => stageTimes(profile([2, 3]), 1, { fromUs: 0, toUs: 10 }), /not inside the profile/);
});

test('thread times: the main thread\'s busy wait shows as its own time on a CPU', () => {
  const name = [...threadTimes(process.pid).keys()][0]!; // the first task is the main thread
  const before = threadTimes(process.pid).get(name)!;
  // 50 ms of this thread's own CPU time, however long a busy machine takes to give it.
  const start = process.threadCpuUsage();
  while (process.threadCpuUsage(start).user < 50_000);
  const after = threadTimes(process.pid).get(name)!;
  const ranMs = (after.ranNs - before.ranNs) / 1e6;
  assert.ok(ranMs >= 45 && ranMs < 500, `ran ${ranMs} ms`);
  assert.ok(after.waitedNs >= before.waitedNs);
});
