import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
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

test('the diagnostics preload reads heap used over the window, and releases V8\'s page pool when asked', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'users-api-diagnostics-')), 'diagnostics.jsonl');
  const child = spawn(process.execPath, ['--expose-gc', '--require', DIAGNOSTICS_PRELOAD, '-e', PROGRAM], {
    env: { ...process.env, ...ServiceDiagnostics.env(file) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    await once(child.stdout, 'data');
    const diagnostics = new ServiceDiagnostics(file, child.pid!);
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
