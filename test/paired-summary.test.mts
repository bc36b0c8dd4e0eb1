import assert from 'node:assert/strict';
import { test } from 'node:test';
import { roundOrder, summarizePaired, type Slice } from '../bench/lib/paired-summary.mts';

test('the rounds rotate the order: each variant is in each position equally often', () => {
  const keys = ['untraced', 'traced', 'candidate'];
  const orders = [0, 1, 2].map((round) => roundOrder(keys, round));
  assert.deepEqual(orders, [
    ['untraced', 'traced', 'candidate'],
    ['traced', 'candidate', 'untraced'],
    ['candidate', 'untraced', 'traced'],
  ]);
  assert.deepEqual(roundOrder(keys, 3), orders[0]);
});

/** A slice whose /users/42 answers all took `ms` (so its p99 is `ms`), with a loop-delay p99 of `delay`. */
const slice = (key: string, round: number, ms: number, delay: number): Slice => ({
  key,
  round,
  latencies: { '/users/42': Array.from({ length: 200 }, () => ms) },
  loopDelayMs: { p99: delay, max: delay * 10 },
  sustained: true,
});

test('a traced slice is compared with the base slice of its own round, not with the base of the whole run', () => {
  // The machine drifts: round 1 is three times slower for both. Pooled, the drift would show as tracing's cost.
  const slices = [slice('untraced', 0, 2, 1), slice('traced', 0, 3, 2), slice('untraced', 1, 6, 1), slice('traced', 1, 9, 4), slice('untraced', 2, 2, 1), slice('traced', 2, 3, 1.5)];
  const [base, traced] = summarizePaired(slices, ['untraced', 'traced'], ['/users/42'], () => 'untraced');
  assert.equal(base!.ratio, undefined);
  assert.equal(base!.loopDelayP99OverBaseMs, undefined);
  assert.deepEqual(traced!.ratio!['/users/42'], { median: 1.5, min: 1.5, max: 1.5 });
  assert.deepEqual(traced!.loopDelayP99OverBaseMs, { median: 1, min: 0.5, max: 3 });
  assert.deepEqual(traced!.sliceP99Ms['/users/42'], { median: 3, min: 3, max: 9 });
  assert.equal(traced!.pooled['/users/42']!.count, 600);
  assert.equal(traced!.pooled['/users/42']!.p99Ms, 9);
  assert.deepEqual(traced!.loopDelayMaxMs, { median: 20, min: 15, max: 40 });
});

test('a round whose base slice is missing gives no ratio, and a slice not sustained is flagged', () => {
  const slices = [slice('untraced', 0, 2, 1), slice('traced', 0, 4, 1), { ...slice('traced', 1, 100, 1), sustained: false }];
  const [, traced] = summarizePaired(slices, ['untraced', 'traced'], ['/users/42'], () => 'untraced');
  assert.deepEqual(traced!.ratio!['/users/42'], { median: 2, min: 2, max: 2 });
  assert.equal(traced!.slices, 2);
  assert.equal(traced!.allSustained, false);
});

test('only a variant that records every trace has a count of spans to expect (a head sampler records a random share)', async () => {
  const { VARIANTS, experimentVariants, samplesEveryTrace } = await import('../bench/lib/variants.mts');
  assert.equal(samplesEveryTrace(VARIANTS.find((v) => v.key === 'traced')!), true);
  const [sampled, sampledWithoutLogs] = experimentVariants(new URL('../bench/candidates-sampling.json', import.meta.url).pathname);
  assert.equal(samplesEveryTrace(sampled!), false);
  assert.equal(samplesEveryTrace(sampledWithoutLogs!), false);
});

test('an experiment with the collector down is measured as down-pod is: exporting nowhere, saturated as long, nothing to flush', async () => {
  const { VARIANTS, experimentVariants } = await import('../bench/lib/variants.mts');
  const downPod = VARIANTS.find((v) => v.key === 'down-pod')!;
  const experiments = experimentVariants(new URL('../bench/candidates-pod.json', import.meta.url).pathname);
  const down = experiments.find((v) => v.key === 'growing-4-down-pod')!;
  const up = experiments.find((v) => v.key === 'growing-4-pod')!;
  assert.deepEqual(
    [down.exportTo, down.table, down.traced, down.saturationS, down.flushQuietMs],
    [downPod.exportTo, downPod.table, downPod.traced, downPod.saturationS, downPod.flushQuietMs],
  );
  assert.deepEqual([up.exportTo, up.saturationS], ['sink', undefined]);
  assert.deepEqual(down.spec('http://127.0.0.1:4317').nodeArgs.slice(0, 1), ['--heap-growing-percent=300']);
});
