import assert from 'node:assert/strict';
import { test } from 'node:test';
import { v8PagesMiB } from '../bench/lib/resident-pages.mts';
import { rssMiB } from '../harness/stats.mts';

const retained: unknown[] = [];

// The soak reads the page pool from this figure (docs/performance.md, "The soak"): it has to follow the
// JavaScript heap, and only the heap.
test('what is resident in V8 pages follows the JavaScript heap, not buffers outside it', () => {
  const before = v8PagesMiB(process.pid);
  const kept: Array<{ id: number; name: string }> = [];
  for (let i = 0; i < 400_000; i += 1) kept.push({ id: i, name: `user-${i}` });
  const withObjects = v8PagesMiB(process.pid);
  const outside = Buffer.alloc(64 * 2 ** 20, 1); // malloc'd, touched: resident, not in V8's pages
  const withBuffer = v8PagesMiB(process.pid);

  assert.ok(withObjects - before > 10, `400,000 objects should add over 10 MiB of V8 pages: ${before.toFixed(1)} → ${withObjects.toFixed(1)} MiB`);
  assert.ok(Math.abs(withBuffer - withObjects) < 8, `a 64 MiB buffer is not in V8's pages: ${withObjects.toFixed(1)} → ${withBuffer.toFixed(1)} MiB`);
  assert.ok(withBuffer < rssMiB(process.pid), 'a part of RSS');
  retained.push(kept, outside); // alive until every figure above was read
});
