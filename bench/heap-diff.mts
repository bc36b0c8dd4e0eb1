/**
 * What a late heap snapshot holds that an early one does not (issue 25, item 2):
 * objects counted and their own sizes summed per constructor (or per kind, for
 * strings, code and arrays), the largest growth first. The same view as Chrome
 * DevTools' Memory tab in "Comparison" mode, in a terminal.
 *
 *   node bench/heap-diff.mts EARLY.heapsnapshot LATE.heapsnapshot [rows]
 *
 * The snapshot format: V8's `HeapSnapshotJSONSerializer` (src/profiler/heap-snapshot-generator.cc);
 * each node is `snapshot.meta.node_fields.length` numbers in `nodes`, its type an index
 * into `node_types[0]` and its name an index into `strings`.
 */
import { readFileSync } from 'node:fs';

interface Group { count: number; bytes: number }

function groups(file: string): Map<string, Group> {
  const { snapshot, nodes, strings } = JSON.parse(readFileSync(file, 'utf8'));
  const fields: string[] = snapshot.meta.node_fields;
  const types: string[] = snapshot.meta.node_types[0];
  const [type, name, size] = ['type', 'name', 'self_size'].map((field) => fields.indexOf(field));
  const byKey = new Map<string, Group>();
  for (let i = 0; i < nodes.length; i += fields.length) {
    const kind = types[nodes[i + type]]!;
    const key = kind === 'object' || kind === 'closure' ? `${kind} ${strings[nodes[i + name]]}` : kind;
    const group = byKey.get(key) ?? { count: 0, bytes: 0 };
    group.count += 1;
    group.bytes += nodes[i + size];
    byKey.set(key, group);
  }
  return byKey;
}

const [earlyFile, lateFile, rowsArg] = process.argv.slice(2);
if (!earlyFile || !lateFile) {
  console.error('usage: node bench/heap-diff.mts EARLY.heapsnapshot LATE.heapsnapshot [rows]');
  process.exit(2);
}
const early = groups(earlyFile);
const late = groups(lateFile);
const total = (map: Map<string, Group>) => [...map.values()].reduce((sum, g) => sum + g.bytes, 0);
const MiB = (bytes: number) => (bytes / 2 ** 20).toFixed(2);
const rows = [...new Set([...early.keys(), ...late.keys()])]
  .map((key) => {
    const [a, b] = [early.get(key) ?? { count: 0, bytes: 0 }, late.get(key) ?? { count: 0, bytes: 0 }];
    return { key, count: b.count - a.count, bytes: b.bytes - a.bytes, lateBytes: b.bytes };
  })
  .sort((x, y) => y.bytes - x.bytes)
  .slice(0, Number(rowsArg ?? 15));

console.log(`heap: ${MiB(total(early))} → ${MiB(total(late))} MiB (${MiB(total(late) - total(early))} MiB)`);
console.log('| grew by MiB | objects | late MiB | what |\n| --- | --- | --- | --- |');
for (const row of rows) console.log(`| ${MiB(row.bytes)} | ${row.count >= 0 ? '+' : ''}${row.count} | ${MiB(row.lateBytes)} | ${row.key} |`);
