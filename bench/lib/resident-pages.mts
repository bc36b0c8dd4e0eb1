import { readFileSync } from 'node:fs';

const V8_PAGE_KIB = 256;

/**
 * What a process keeps resident in V8's heap pages, in MiB: the anonymous
 * mappings of exactly one V8 page (256 KiB, `kRegularPageSize`), from
 * /proc/<pid>/smaps (Linux).
 *
 * Set beside the heap's total, it shows the page pool: an old-space page the
 * GC frees goes to the pool (`OldSpace::ReleasePage` frees with
 * `FreeMode::kPool`, V8's src/heap/paged-spaces.cc) and stays resident, but
 * out of the heap's total, until the sweep of a memory-reducing GC releases it
 * (src/heap/sweeper.cc: "Discard all pooled pages on memory-reducing GCs"):
 * its memory reducer's, or one under memory pressure, or one a script asks for
 * (bench/service-diagnostics.cjs). The soaks saw none come by itself at a
 * steady rate; without requests, the memory reducer's watchdog starts one 100 s
 * after the last full GC (docs/performance.md, the soak's sixth run).
 */
export function v8PagesMiB(pid: number): number {
  let kib = 0;
  let onePage = false;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    // A mapping's header: "start-end perms offset dev inode [path]"; anonymous ones have no path.
    const mapping = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+(?: +(.*))?$/.exec(line);
    if (mapping) {
      onePage = !mapping[3] && (Number.parseInt(mapping[2]!, 16) - Number.parseInt(mapping[1]!, 16)) / 1024 === V8_PAGE_KIB;
    } else if (onePage && line.startsWith('Rss:')) {
      kib += Number(line.split(/\s+/)[1]);
    }
  }
  return kib / 1024;
}
