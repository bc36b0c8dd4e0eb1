import type { LoadSummary } from '../../harness/load.mts';
import { markdownTable } from './markdown.mts';
import type { Phase, VariantResult } from './measure.mts';
import { PATHS, settings } from './settings.mts';

const f2 = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : '–');
const ratio = (v: number, base: number | undefined) => (base && Number.isFinite(v) ? `${(v / base).toFixed(2)}×` : '–');

/** The results side by side, each figure with its ratio to `base` (the untraced run of the same table): a Markdown table. */
export function table(results: VariantResult[], base: VariantResult | undefined): string {
  const pod = results.some((r) => r.pod);
  const withRatio = (value: number, baseValue: number | undefined, digits: number) =>
    `${Number.isFinite(value) ? value.toFixed(digits) : '–'}${base && base !== undefined && baseValue ? ` (${ratio(value, baseValue)})` : ''}`;
  const p99 = (load: LoadSummary | undefined, baseLoad: LoadSummary | undefined, digits: number) =>
    load ? PATHS.map((path) => withRatio(load.latencyByPath[path]!.p99Ms, baseLoad?.latencyByPath[path]?.p99Ms, digits)).join(' / ') : '–';
  const p50 = (load: LoadSummary | undefined) => (load ? PATHS.map((path) => f2(load.latencyByPath[path]!.p50Ms)).join(' / ') : '–');
  // A rate the service did not keep up with has no latency worth a percentile: its note says what it did.
  const fixedLoad = (r: VariantResult | undefined) => (r?.fixed?.sustained ? r.fixed.load : undefined);
  const notSustained = (r: VariantResult, cell: string) => (r.fixed && !r.fixed.sustained ? `not sustained (${r.fixed.achievedRps.toFixed(0)}/s)` : cell);
  const queue = (p: Phase) => (p.inside?.spanQueue ? `; queue peak ${p.inside.spanQueue.peak} of ${p.inside.spanQueue.capacity}` : '');
  const lost = (p: Phase | undefined) => (p && p.spansExpected ? `${p.spansExpected}→${p.spansReceived} (${p.spansLostPercent.toFixed(1)}% lost${queue(p)})` : '–');
  const header = [
    'variant',
    'saturation req/s',
    'sat. p99 ms 42 / 123',
    'spans sent→received, sat.',
    `${settings.fixedRate}/s p50 ms 42 / 123`,
    `${settings.fixedRate}/s p99 ms 42 / 123`,
    `spans, ${settings.fixedRate}/s`,
    'start→ready ms',
    'RSS MiB',
    ...(pod ? ['cgroup peak MiB', 'limit hits / OOM kills', 'CPU throttled s'] : []),
  ];
  const rows = results.map((r) => [
    r.label,
    withRatio(r.saturation.load.rps, base?.saturation.load.rps, 0),
    p99(r.saturation.load, base?.saturation.load, 1),
    lost(r.saturation),
    notSustained(r, p50(fixedLoad(r))),
    notSustained(r, p99(fixedLoad(r), fixedLoad(base), 2)),
    lost(r.fixed),
    withRatio(r.startToReadyMs, base?.startToReadyMs, 0),
    withRatio(r.rssAfterSaturationMiB, base?.rssAfterSaturationMiB, 0),
    ...(pod ? [r.pod ? withRatio(r.pod.peakMiB, base?.pod?.peakMiB, 0) : '–', r.pod ? `${r.pod.limitHits} / ${r.pod.oomKills}` : '–', r.pod ? r.pod.throttledS.toFixed(1) : '–'] : []),
  ]);
  return markdownTable(header, rows);
}
