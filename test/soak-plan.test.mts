import assert from 'node:assert/strict';
import { test } from 'node:test';
import { phaseOf, soakPlan } from '../bench/lib/soak-plan.mts';
import type { SoakRun, SoakSample } from '../bench/lib/soak-subject.mts';
import { summarizeSoak } from '../bench/lib/soak-summary.mts';

const phases = (outages: number) => {
  const plan = soakPlan({ seconds: 720, rate: 800, sampleS: 12, outages, heapSnapshots: false });
  return { plan, phases: Array.from({ length: plan.samples }, (_, sample) => phaseOf(plan, sample)) };
};
const counts = (list: string[]) => Object.fromEntries([...new Set(list)].map((phase) => [phase, list.filter((p) => p === phase).length]));
/** The phases in order, each run of equal ones once: the soak's story. */
const story = (list: string[]) => list.filter((phase, i) => phase !== list[i - 1]);

test('a soak with one outage: warm-up, steady, away, back, in the proportions of the hour', () => {
  const { plan, phases: one } = phases(1);
  assert.equal(plan.samples, 60);
  assert.deepEqual(counts(one), { 'warm-up': 10, steady: 30, outage: 10, recovery: 10 });
  assert.deepEqual(story(one), ['warm-up', 'steady', 'outage', 'recovery']);
});

test('each further outage adds its time away and its time back', () => {
  const { plan, phases: two } = phases(2);
  assert.equal(plan.samples, 80);
  assert.deepEqual(counts(two), { 'warm-up': 10, steady: 30, outage: 20, recovery: 20 });
  assert.deepEqual(story(two), ['warm-up', 'steady', 'outage', 'recovery', 'outage', 'recovery']);
});

test('the summary reads the first outage against the steady part, and each later one on its own', () => {
  const { phases: two } = phases(2);
  // RSS 100 MiB while steady, 130 at the first outage's peak, 131 at the second's.
  const rss = (sample: number) => (sample === 45 ? 130 : sample === 65 ? 131 : sample >= 40 ? 125 : 100);
  const samples = two.map((phase, sample) => ({ sample, phase, minute: (sample + 1) / 5, rssMiB: rss(sample), v8PagesMiB: rss(sample) - 60, heapUsedMiB: 20, heapUsedMeanMiB: 20, heapUsedFloorMiB: 18, heapTotalMiB: 40 }) as SoakSample);
  const run = { key: 'traced', label: 'traced', shape: 'free core', samples, totals: {}, serviceReports: { spansReportedLost: 0 }, reportLines: [], quiet: { afterS: 60, rssMiB: 125, v8PagesMiB: 65, heapUsedMiB: 20, heapTotalMiB: 40 } } as unknown as SoakRun;
  const summary = summarizeSoak(run);

  assert.equal(summary.outage.before.rssMiB, 100);
  assert.equal(summary.outage.peak.rssMiB, 130, 'the first outage and its recovery only');
  assert.equal(summary.outage.toMinute, samples[49]!.minute);
  assert.equal(summary.outage.rssReturnedAfterMemoryReducingGc, null, 'not read in this run');
  assert.equal(summary.laterOutages.length, 1);
  assert.equal(summary.laterOutages[0]!.peak.rssMiB, 131);
  assert.equal(summary.laterOutages[0]!.fromMinute, samples[59]!.minute, 'from the end of the first recovery');
  assert.equal(summary.laterOutages[0]!.toMinute, samples[69]!.minute);
});
