import { readFileSync } from 'node:fs';

/** The parts of a V8 .cpuprofile (the format `node --cpu-prof` writes) that self time and stages need. */
export interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number; children?: number[] }>;
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface SelfTime {
  name: string;
  where: string;
  ms: number;
  percent: number;
}

export interface ProfileSummary {
  variant: string;
  file: string;
  /** Requests the profiled process answered: busy time per request is what compares across variants. */
  requests: number;
  busyUsPerRequest: number;
  totalMs: number;
  idlePercent: number;
  gcPercent: number;
  topFunctions: SelfTime[];
  /** Self time summed per package (node_modules/<pkg>), Node internals, the service's own code, GC and idle. */
  byPackage: SelfTime[];
}

/** Where a frame comes from: an npm package, node's own modules, the service, or the VM. */
export function origin(url: string, functionName: string): string {
  if (functionName === '(garbage collector)') return '(garbage collector)';
  if (functionName === '(idle)') return '(idle)';
  if (functionName === '(program)') return '(program)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  if (url.startsWith('node:')) return 'node (internals)';
  if (url === '') return '(native / vm)';
  if (/\/dist\/[^/]+\.js$/.test(url)) return 'the service (dist/)';
  return url.replace(/^file:\/\//, '');
}

/** Self time per function and per package, from the samples (each sample's time delta goes to the node it hit). */
export function summarizeProfile(file: string, requests: number, variant: string, top = 25): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i += 1) {
    const id = profile.samples[i]!;
    // V8 attributes delta i+1 to sample i (the time until the next sample).
    const delta = profile.timeDeltas[i + 1] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, delta));
  }
  const totalUs = [...selfUs.values()].reduce((a, b) => a + b, 0) || 1;

  const perFunction = new Map<string, SelfTime>();
  const perPackage = new Map<string, SelfTime>();
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    const name = functionName || '(anonymous)';
    const pkg = origin(url, name);
    const where = url ? `${url.replace(/^.*node_modules\//, '').replace(/^file:\/\//, '')}:${lineNumber + 1}` : pkg;
    const key = `${name}@${where}`;
    const entry = perFunction.get(key) ?? { name, where, ms: 0, percent: 0 };
    entry.ms += us / 1000;
    perFunction.set(key, entry);
    const pkgEntry = perPackage.get(pkg) ?? { name: pkg, where: '', ms: 0, percent: 0 };
    pkgEntry.ms += us / 1000;
    perPackage.set(pkg, pkgEntry);
  }
  const finish = (entries: Iterable<SelfTime>) =>
    [...entries].map((e) => ({ ...e, ms: Math.round(e.ms * 10) / 10, percent: Math.round((e.ms / (totalUs / 1000)) * 1000) / 10 })).sort((a, b) => b.ms - a.ms);
  const packages = finish(perPackage.values());
  const share = (name: string) => packages.find((p) => p.name === name)?.percent ?? 0;
  const idleUs = (perPackage.get('(idle)')?.ms ?? 0) * 1000;
  return {
    variant,
    file,
    requests,
    busyUsPerRequest: Math.round(((totalUs - idleUs) / Math.max(1, requests)) * 10) / 10,
    totalMs: Math.round(totalUs / 1000),
    idlePercent: share('(idle)'),
    gcPercent: share('(garbage collector)'),
    topFunctions: finish(perFunction.values())
      .filter((f) => f.name !== '(idle)')
      .slice(0, top),
    byPackage: packages,
  };
}

/** Busy CPU per request, by package, side by side: where the traced variant's extra time goes. */
export function compareProfiles(summaries: ProfileSummary[]): string {
  const others = summaries.slice(1);
  const perRequest = (s: ProfileSummary, name: string) => ((s.byPackage.find((p) => p.name === name)?.ms ?? 0) * 1000) / Math.max(1, s.requests);
  const names = [...new Set(summaries.flatMap((s) => s.byPackage.map((p) => p.name)))].filter((n) => n !== '(idle)');
  const rows = names
    .map((name) => ({ name, values: summaries.map((s) => perRequest(s, name)) }))
    .sort((a, b) => b.values[b.values.length - 1]! - b.values[0]! - (a.values[a.values.length - 1]! - a.values[0]!))
    .filter((row) => row.values.some((v) => v >= 0.5))
    .slice(0, 18);
  const lines = [
    `CPU µs per request (busy time ÷ requests answered), by origin: ${summaries.map((s) => s.variant).join(' vs ')}`,
    `  ${'total busy'.padEnd(42)} ${summaries.map((s) => s.busyUsPerRequest.toFixed(1).padStart(9)).join(' ')}`,
  ];
  for (const row of rows) {
    const diff = others.length ? ` ${(row.values[0]! - row.values[row.values.length - 1]!).toFixed(1).padStart(8)} more` : '';
    lines.push(`  ${row.name.slice(0, 42).padEnd(42)} ${row.values.map((v) => v.toFixed(1).padStart(9)).join(' ')}${diff}`);
  }
  return lines.join('\n');
}

export function formatProfile(summary: ProfileSummary, top = 20): string {
  const busyMs = summary.totalMs * (1 - summary.idlePercent / 100);
  const lines = [
    `CPU profile of ${summary.variant}: ${summary.file} (${summary.requests} requests, ${summary.busyUsPerRequest} µs busy CPU per request)`,
    `  ${summary.totalMs} ms sampled, idle ${summary.idlePercent}%, garbage collection ${summary.gcPercent}% (of busy: ${((summary.gcPercent / Math.max(0.1, 100 - summary.idlePercent)) * 100).toFixed(1)}%)`,
    '  self time by package / origin (share of busy time):',
  ];
  for (const p of summary.byPackage.filter((p) => p.name !== '(idle)').slice(0, 14)) {
    lines.push(`    ${((p.ms / busyMs) * 100).toFixed(1).padStart(5)}%  ${p.ms.toFixed(0).padStart(7)} ms  ${p.name}`);
  }
  lines.push(`  top ${top} functions by self time (share of busy time):`);
  for (const f of summary.topFunctions.slice(0, top)) {
    lines.push(`    ${((f.ms / busyMs) * 100).toFixed(1).padStart(5)}%  ${f.ms.toFixed(0).padStart(7)} ms  ${f.name}  ${f.where}`);
  }
  return lines.join('\n');
}
