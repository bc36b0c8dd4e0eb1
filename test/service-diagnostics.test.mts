import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { appendFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { v8PagesMiB } from '../bench/lib/resident-pages.mts';
import { DIAGNOSTICS_PRELOAD, ServiceDiagnostics } from '../bench/lib/service-diagnostics.mts';

// The soak's last reading (docs/performance.md, "The soak"): after a regular full GC, the pages of what was
// freed stay resident in V8's page pool; the memory-reducing GC the bench asks for releases them.
const PROGRAM = `
let kept = [];
for (let i = 0; i < 400000; i += 1) kept.push({ id: i, name: 'user-' + i });
kept = null;
gc(); // a regular full GC: what was freed goes to V8's page pool, still resident
process.stdout.write('ready\\n');
setInterval(() => {}, 1000);
`;

/**
 * Runs `program` with the diagnostics preload and --expose-gc, until it prints its first line; the caller kills it.
 * `preloads` come first, as a service's own preload does (the diagnostics find the modules it loaded).
 */
async function startWithDiagnostics(program: string, preloads: string[] = []): Promise<{ child: ChildProcess; diagnostics: ServiceDiagnostics }> {
  const file = join(mkdtempSync(join(tmpdir(), 'users-api-diagnostics-')), 'diagnostics.jsonl');
  const child = spawn(process.execPath, ['--expose-gc', ...preloads, '--require', DIAGNOSTICS_PRELOAD, '-e', program], {
    env: { ...process.env, ...ServiceDiagnostics.env(file) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await once(child.stdout!, 'data');
  return { child, diagnostics: new ServiceDiagnostics(file, child.pid!) };
}

test('the diagnostics preload reads heap used over the window, and releases V8\'s page pool when asked', async () => {
  const { child, diagnostics } = await startWithDiagnostics(PROGRAM);
  try {
    await new Promise((resolve) => setTimeout(resolve, 300)); // a few readings of heap used
    const regular = await diagnostics.take();
    const pooled = v8PagesMiB(child.pid!);
    const reduced = await diagnostics.take({ gcFirst: 'memory-reducing' });
    const released = v8PagesMiB(child.pid!);

    const mean = regular.memoryMiB.heapUsedMean;
    assert.ok(mean !== null && mean > 0 && mean < regular.memoryMiB.heapTotal + 1, `heap used averaged over the window: ${mean} MiB`);
    assert.equal(regular.memoryReducingGcMs, undefined, 'no memory-reducing GC unless asked');
    assert.ok(pooled > regular.memoryMiB.heapUsed + 20, `the freed pages stayed resident: ${pooled.toFixed(1)} MiB in V8's pages for a heap of ${regular.memoryMiB.heapUsed} MiB`);
    assert.ok(typeof reduced.memoryReducingGcMs === 'number' && reduced.memoryReducingGcMs > 0, 'the reading says how long the memory-reducing GC took');
    assert.ok(released < pooled - 10, `the memory-reducing GC released the pool: ${pooled.toFixed(1)} → ${released.toFixed(1)} MiB`);
  } finally {
    child.kill();
  }
});

test('a diagnostics line the service is still writing is not read until it is whole', () => {
  const file = join(mkdtempSync(join(tmpdir(), 'users-api-diagnostics-')), 'diagnostics.jsonl');
  writeFileSync(file, `${JSON.stringify({ diagnostics: 1 })}\n{"diagnostics":2,"memoryMiB":{"rss":12`);
  const diagnostics = new ServiceDiagnostics(file, process.pid);
  assert.deepEqual(diagnostics.lines().map((line) => line.diagnostics), [1]);
  appendFileSync(file, '3}}\n');
  assert.deepEqual(diagnostics.lines().map((line) => line.diagnostics), [1, 2]);
});

// issue 23: the loop-delay histogram samples once per late tick, so it hides how long the loop stood still;
// the stalls figure is time-weighted, as requests feel it, and says what each stall overlapped.
const STALLING_PROGRAM = `
const kept = [];
for (let i = 0; i < 600000; i += 1) kept.push({ id: i, name: 'user-' + i });
setTimeout(() => process.stdout.write('ready\\n'), 50); // once the event loop runs: building the heap stalled it too
setTimeout(() => {
  const end = performance.now() + 40;
  while (performance.now() < end); // 40 ms of the program's own work
}, 400); // well after the window below opens, even on a loaded machine
setTimeout(() => gc(), 600); // a full GC of a heap with 600,000 live objects
setInterval(() => {}, 1000);
`;

test('the diagnostics preload measures how long the event loop stalled, and what of it was garbage collection', async () => {
  const { child, diagnostics } = await startWithDiagnostics(STALLING_PROGRAM);
  try {
    await diagnostics.take(); // the window starts after the program built its heap
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const { stalls, gc } = await diagnostics.take();
    const { gc: inGc, spanExport, logExport, other } = stalls.byCauseMs;

    assert.ok(gc.maxPauseMs > 5, `the forced GC paused the program: ${gc.maxPauseMs} ms`);
    assert.ok(stalls.count >= 2, `the busy wait and the GC each stalled the loop: ${JSON.stringify(stalls)}`);
    assert.ok(inGc >= gc.maxPauseMs * 0.95 && inGc <= gc.ms + 0.01, `the GC's pause is counted as GC: ${inGc} ms of ${gc.ms} ms paused`);
    // No upper bound: on a busy machine the scheduler's preemptions are stalls of the program's own too.
    assert.ok(other >= 39, `the busy wait is counted as the program's own: ${other} ms`);
    assert.equal(spanExport + logExport, 0, 'no export ran');
    assert.ok(Math.abs(stalls.totalMs - (inGc + spanExport + logExport + other)) < 0.01, 'the causes add up to the stalls');
  } finally {
    child.kill();
  }
});

// The pod's span queue (docs/performance.md, "the pod's span queue under the one-core limit"): how full the
// batch span processor's queue got, and how long a batch was in flight, which a count of drops does not say.
// A queue of 8 sent in batches of 4 to an exporter that answers after 100 ms; 10 spans end at once: the
// first 4 are taken as they reach a batch, the other 6 wait for that export's answer.
const QUEUEING_PROGRAM = `
const { BatchSpanProcessor, TracerProvider } = require('@opentelemetry/sdk-trace');
const exporter = { export: (spans, done) => setTimeout(() => done({ code: 0 }), 100), shutdown: async () => {} };
const processor = new BatchSpanProcessor({ exporter, maxQueueSize: 8, maxExportBatchSize: 4, scheduledDelayMillis: 10 });
const tracer = new TracerProvider({ spanProcessors: [processor] }).getTracer('queueing');
for (let i = 0; i < 10; i += 1) tracer.startSpan('span-' + i).end();
setTimeout(() => process.stdout.write('ready\\n'), 400); // the three batches have been answered
setInterval(() => {}, 1000);
`;

test('the diagnostics preload reports the span queue\'s peak and the longest a batch was in flight', async () => {
  const { child, diagnostics } = await startWithDiagnostics(QUEUEING_PROGRAM, ['--require', '@opentelemetry/sdk-trace']);
  try {
    const { spanQueue } = await diagnostics.take();
    assert.ok(spanQueue, 'the preload found the batch span processor');
    assert.equal(spanQueue.capacity, 8);
    assert.equal(spanQueue.peak, 6, 'the six spans that ended while the first batch was in flight');
    assert.ok(spanQueue.maxInFlightMs >= 99 && spanQueue.maxInFlightMs < 350, `a batch in flight until its export answered: ${spanQueue.maxInFlightMs} ms`);
  } finally {
    child.kill();
  }
});
