import type { RatePhase, VariantResult } from './measure.mts';
import { PATHS, settings } from './settings.mts';

export interface Target {
  what: string;
  ratio: string;
  met: boolean | undefined;
}

/**
 * The targets: `candidateKey` (traced → counting sink) against untraced; the collector-down run
 * against traced → real collector; the pod-shaped runs against each other.
 */
export function targets(results: VariantResult[], candidateKey = 'traced'): Target[] {
  const base = results.find((r) => r.key === 'untraced');
  const traced = results.find((r) => r.key === candidateKey);
  const down = results.find((r) => r.key === 'down');
  const collectorUp = results.find((r) => r.key === 'traced-collector');
  const podBase = results.find((r) => r.key === 'untraced-pod');
  const podTraced = results.find((r) => r.key === 'traced-pod');
  const podDown = results.find((r) => r.key === 'down-pod');
  const list: Target[] = [];
  const add = (what: string, value: number | undefined, limit: number, atMost: boolean, format = (v: number) => `${v.toFixed(2)}×`) => {
    if (value === undefined || Number.isNaN(value)) return list.push({ what, ratio: 'n/a', met: undefined });
    list.push({ what, ratio: format(value), met: atMost ? value <= limit : value >= limit });
  };
  if (base && traced) {
    add('saturation req/s ≥ 0.75× untraced', traced.saturation.load.rps / base.saturation.load.rps, 0.75, false);
    for (const path of PATHS) {
      add(`saturation p99 of ${path} ≤ 1.5× untraced`, traced.saturation.load.latencyByPath[path]!.p99Ms / base.saturation.load.latencyByPath[path]!.p99Ms, 1.5, true);
    }
    add('0 spans lost at saturation', traced.saturation.spansLost, 0, true, (v) => `${v} lost (${traced.saturation.spansLostPercent.toFixed(2)}%)`);
    add('start to ready ≤ 2× untraced', traced.startToReadyMs / base.startToReadyMs, 2, true);
    add('RSS after saturation ≤ 1.5× untraced', traced.rssAfterSaturationMiB / base.rssAfterSaturationMiB, 1.5, true);
    fixedRateTargets('', base, traced, settings.fixedRate);
  }
  if (podBase && podTraced && candidateKey === 'traced') {
    add('pod: saturation req/s ≥ 0.75× untraced', podTraced.saturation.load.rps / podBase.saturation.load.rps, 0.75, false);
    for (const path of PATHS) {
      add(`pod: saturation p99 of ${path} ≤ 1.5× untraced`, podTraced.saturation.load.latencyByPath[path]!.p99Ms / podBase.saturation.load.latencyByPath[path]!.p99Ms, 1.5, true);
    }
    add('pod: 0 spans lost at saturation', podTraced.saturation.spansLost, 0, true, (v) => `${v} lost`);
    if (podTraced.pod && podBase.pod) {
      add('pod: cgroup peak memory ≤ 1.5× untraced', podTraced.pod.peakMiB / podBase.pod.peakMiB, 1.5, true);
      add('pod: cgroup peak memory < 60% of the limit', podTraced.pod.peakMiB / (podTraced.pod.memoryBytes / 2 ** 20), 0.6, true, (v) => `${(v * 100).toFixed(0)}% (${podTraced.pod!.peakMiB.toFixed(0)} MiB)`);
      add('pod: no OOM kill', podTraced.pod.oomKills + podBase.pod.oomKills, 0, true, (v) => `${v} OOM kills`);
    }
    if (podDown?.pod) {
      add('pod, collector down: cgroup peak memory < 60% of the limit', podDown.pod.peakMiB / (podDown.pod.memoryBytes / 2 ** 20), 0.6, true, (v) => `${(v * 100).toFixed(0)}% (${podDown.pod!.peakMiB.toFixed(0)} MiB)`);
      add('pod, collector down: no OOM kill', podDown.pod.oomKills, 0, true, (v) => `${v} OOM kills`);
    }
    // "At the rate the pod sustains": the fixed rate, or the highest below it that both sides kept up with.
    const sustained = (r: VariantResult, rate: number) => r.rates.some((p) => p.rate === rate && p.sustained);
    const podRate = [...settings.fixedRates].reverse().find((rate) => rate <= settings.fixedRate && sustained(podBase, rate) && sustained(podTraced, rate));
    if (podRate === undefined) list.push({ what: 'pod: fixed-rate targets', ratio: `no rate up to ${settings.fixedRate}/s sustained by both`, met: false });
    else fixedRateTargets('pod: ', podBase, podTraced, podRate);
  }
  if (down && collectorUp && candidateKey === 'traced') {
    const rpsChange = down.saturation.load.rps / collectorUp.saturation.load.rps;
    list.push({ what: 'collector down: req/s no worse than 0.9× collector up (real collector)', ratio: `${rpsChange.toFixed(2)}×`, met: rpsChange >= 0.9 });
    for (const path of PATHS) {
      const p99Change = down.saturation.load.latencyByPath[path]!.p99Ms / collectorUp.saturation.load.latencyByPath[path]!.p99Ms;
      list.push({ what: `collector down: saturation p99 of ${path} within 10% of collector up (real collector)`, ratio: `${p99Change.toFixed(2)}×`, met: p99Change <= 1.1 });
    }
    const growth = down.rssEndMiB - down.rssWarmMiB;
    const growthUp = collectorUp.rssEndMiB - collectorUp.rssWarmMiB;
    list.push({ what: 'collector down: RSS growth under load ≤ 50 MB', ratio: `${growth.toFixed(0)} MiB (after warm-up → end; collector up: ${growthUp.toFixed(0)} MiB)`, met: growth <= 50 * 1e6 / 2 ** 20 });
    const r = down.serviceReports;
    // Every loaded phase counts: the saturation run and each fixed rate.
    const seconds = Math.round(down.saturation.load.elapsedS + down.rates.reduce((sum, p) => sum + p.load.elapsedS, 0));
    const allowed = 1 + Math.ceil(seconds / 30) + 1; // the first failure, one per 30 s interval, one at shutdown
    const lost = down.saturation.spansLost + down.rates.reduce((sum, p) => sum + p.spansLost, 0);
    list.push({
      what: 'collector down: drops reported once per interval, never silently',
      ratio: `${r.exportFailingLines + r.dropReportLines} report lines over ~${seconds} s of load; ${r.spansReportedLost} of ${lost} lost spans reported`,
      met: r.exportFailingLines === 1 && r.exportFailingLines + r.dropReportLines <= allowed && r.spansReportedLost >= lost,
    });
  }
  return list;

  /** Issue 23's targets at one fixed rate: p99 per endpoint, event-loop delay and stalls, no span lost at any rate. */
  function fixedRateTargets(prefix: string, untraced: VariantResult, candidate: VariantResult, rate: number): void {
    const at = (r: VariantResult): RatePhase | undefined => r.rates.find((p) => p.rate === rate);
    const [b, c] = [at(untraced), at(candidate)];
    if (!b || !c) return;
    if (!b.sustained || !c.sustained) {
      list.push({ what: `${prefix}${rate}/s sustained by both`, ratio: [b, c].flatMap((p) => (p.note ? [p.note] : [])).join('; '), met: false });
    } else {
      for (const path of PATHS) add(`${prefix}${rate}/s p99 of ${path} ≤ 1.2× untraced`, c.load.latencyByPath[path]!.p99Ms / b.load.latencyByPath[path]!.p99Ms, 1.2, true);
    }
    if (b.inside && c.inside) {
      const [bd, cd] = [b.inside.eventLoopDelayMs, c.inside.eventLoopDelayMs];
      add(`${prefix}${rate}/s event-loop delay p99 ≤ untraced + 1 ms`, cd.p99 - bd.p99, 1, true, (v) => `${cd.p99.toFixed(2)} vs ${bd.p99.toFixed(2)} ms (+${v.toFixed(2)})`);
      add(`${prefix}${rate}/s no event-loop stall over 5 ms`, cd.max, 5, true, (v) => `longest ${v.toFixed(1)} ms`);
    }
    const lost = candidate.rates.reduce((sum, p) => sum + p.spansLost, 0);
    add(`${prefix}0 spans lost at fixed rates (${candidate.rates.map((p) => p.rate).join(', ')}/s)`, lost, 0, true, (v) => `${v} lost`);
  }
}
