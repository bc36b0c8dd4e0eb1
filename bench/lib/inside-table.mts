import type { LoadSummary } from '../../harness/load.mts';
import { markdownTable } from './markdown.mts';
import type { Phase, RatePhase, VariantResult } from './measure.mts';
import { PATHS } from './settings.mts';

const fixed = (v: number, digits: number) => (Number.isFinite(v) ? v.toFixed(digits) : '–');

/**
 * Issue 23's figures, one row per variant and phase (saturation, then each
 * fixed rate): latency tails per endpoint beside what the service measured
 * inside itself over the same phase. The log-record export runs on the same
 * event loop, so its longest step is shown beside the spans'. A rate it did not sustain shows the rate
 * it managed instead of percentiles.
 */
export function insideTable(results: VariantResult[]): string {
  const header = [
    'variant',
    'phase',
    'req/s',
    'p99 ms 42 / 123',
    'p999 ms 42 / 123',
    'loop delay ms p50 / p99 / max',
    'GC ms/s (longest pause ms)',
    'longest span export step ms (spans; serializing ms; CPU ms)',
    'longest log export step ms (records)',
  ];
  const rows = results.flatMap((r) => [row(r, 'saturation', r.saturation), ...r.rates.map((p) => row(r, `${p.rate}/s`, p))]);
  return markdownTable(header, rows);
}

function row(result: VariantResult, name: string, phase: Phase | RatePhase): string[] {
  const rate = 'rate' in phase ? phase : undefined;
  const tail = (pick: (path: string, load: LoadSummary) => number) =>
    rate && !rate.sustained ? 'not sustained' : PATHS.map((path) => fixed(pick(path, phase.load), 2)).join(' / ');
  const inside = phase.inside;
  const step = inside?.spanExport;
  const logStep = inside?.logExport;
  return [
    result.label,
    name,
    rate ? `${fixed(rate.achievedRps, 0)}${rate.sustained ? '' : ` of ${rate.rate}`}` : fixed(phase.load.rps, 0),
    tail((path, load) => load.latencyByPath[path]?.p99Ms ?? NaN),
    tail((path, load) => load.latencyByPath[path]?.p999Ms ?? NaN),
    inside ? `${fixed(inside.eventLoopDelayMs.p50, 2)} / ${fixed(inside.eventLoopDelayMs.p99, 2)} / ${fixed(inside.eventLoopDelayMs.max, 1)}` : '–',
    inside ? `${fixed(inside.gcMsPerS, 1)} (${fixed(inside.gcMaxPauseMs, 1)})` : '–',
    step?.batches ? `${fixed(step.maxSyncMs, 2)} (${step.spansInMax}; ${fixed(step.serializeMsInMax, 2)}; ${fixed(step.cpuMsInMax, 2)})` : '–',
    logStep?.batches ? `${fixed(logStep.maxSyncMs, 2)} (${logStep.recordsInMax})` : '–',
  ];
}
