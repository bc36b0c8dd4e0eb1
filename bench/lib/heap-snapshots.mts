import { readdirSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { status } from '../../harness/service.mts';
import { waitFor } from '../../harness/wait.mts';

/**
 * Heap snapshots of a running service, for issue 25's "what holds the
 * growth": node's own --heapsnapshot-signal, so the service needs no code for
 * it. SIGUSR1 would start the inspector and SIGUSR2 asks for the bench's
 * diagnostics; SIGPWR is unused by node and the service. A snapshot stops the
 * service's event loop while it is written (seconds) and needs memory of its
 * own: in the pod-shaped cgroup it can meet the limit (the cgroup's OOM
 * counter says so).
 */
const SIGNAL: NodeJS.Signals = 'SIGPWR';

/** The node flags that make the service write a snapshot into `dir` on the signal. */
export function heapSnapshotFlags(dir: string): string[] {
  return [`--heapsnapshot-signal=${SIGNAL}`, `--diagnostic-dir=${dir}`];
}

/**
 * Asks for a snapshot, waits until it is written (the file stops growing and
 * the service answers again, within `timeoutMs`), and names it `name` in the same folder.
 */
export async function takeHeapSnapshot(pid: number, url: string, dir: string, name: string, timeoutMs = 180_000): Promise<string> {
  const ours = (file: string) => file.endsWith('.heapsnapshot') && file.includes(`.${pid}.`);
  const before = new Set(readdirSync(dir).filter(ours));
  process.kill(pid, SIGNAL);
  const file = await waitFor(() => readdirSync(dir).find((f) => ours(f) && !before.has(f)), `a heap snapshot from pid ${pid} in ${dir}`, timeoutMs, 200);
  let size = -1;
  await waitFor(
    async () => {
      const now = statSync(join(dir, file)).size;
      const still = now === size && (await status(`${url}/readyz`, 5_000)) === 200;
      size = now;
      return still || undefined;
    },
    `heap snapshot ${file} to be written`,
    timeoutMs,
    1_000,
  );
  const target = join(dir, name);
  renameSync(join(dir, file), target);
  return target;
}
