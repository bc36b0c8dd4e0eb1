import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { waitFor } from './wait.mts';

/** How a process ended: its exit code (null when a signal ended it), and whether it had to be killed. */
export interface Ending {
  code: number | null;
  killed: boolean;
}

/**
 * Stops a child gracefully and then for sure: sends `signal` (none when
 * `null`: the child is expected to end by itself), and SIGKILL if it has not
 * exited within `timeoutMs`.
 */
export async function stopProcess(child: ChildProcess, signal: NodeJS.Signals | null = 'SIGTERM', timeoutMs = 15_000): Promise<Ending> {
  if (child.exitCode !== null || child.signalCode !== null) return { code: child.exitCode, killed: false };
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  if (signal) child.kill(signal);
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  const [code] = await exited;
  clearTimeout(timer);
  return { code, killed };
}

/** Whether a process with this pid exists (signal 0 checks without sending anything). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Runs a command to its end (killed after `timeoutMs`); resolves with its exit code and everything it wrote. */
export async function runCommand(command: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs: number }): Promise<{ code: number | null; output: string }> {
  const child = spawn(command[0]!, command.slice(1), { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const { code } = await stopProcess(child, null, options.timeoutMs);
  return { code, output };
}

/**
 * The harness's processes still running. A test that fails before its `after`
 * can stop them must not leave them behind: they would hold the test file's
 * event loop open for good (CI once lost its 90 minutes so). npm test imports
 * harness/stop-leftovers.mts into every test file, which calls this at its end.
 */
const liveChildren = new Set<ChildProcess>();

/** Kills (SIGKILL) every process the harness started that is still running. */
export function killLeftovers(): void {
  for (const child of liveChildren) child.kill('SIGKILL');
}

/**
 * A process the harness started (the service, the collector): waited on
 * until it is ready, and stopped gracefully and then for sure.
 */
export class ManagedProcess {
  readonly process: ChildProcess;
  private readonly exited: Promise<number | null>;

  protected constructor(child: ChildProcess) {
    this.process = child;
    liveChildren.add(child);
    this.exited = once(child, 'exit').then(([code]) => {
      liveChildren.delete(child);
      return code as number | null;
    });
  }

  get running(): boolean {
    return this.process.exitCode === null && this.process.signalCode === null;
  }

  /** What it has written so far, to explain a failure. */
  describe(): string {
    return '';
  }

  /** Polls `isReady` until it is true; fails at once if the process exits first, with what it wrote. */
  protected async waitUntilReady(isReady: () => Promise<boolean>, what: string, timeoutMs: number, intervalMs?: number): Promise<void> {
    try {
      await waitFor(
        async () => {
          if (!this.running) throw new Error(`exited (${this.process.exitCode ?? this.process.signalCode}) before ${what}`);
          return (await isReady()) || undefined;
        },
        what,
        timeoutMs,
        intervalMs,
      );
    } catch (error) {
      this.process.kill('SIGKILL');
      throw new Error(`${(error as Error).message}:\n${this.describe()}`);
    }
  }

  /**
   * Sends `signal`, then SIGKILL after `timeoutMs`; resolves with the exit code (null when a signal ended it).
   * Stopping again is harmless, so a test asserts the exit code in its body and calls it bare in `finally`:
   * after a failure, the failure is what the test reports.
   */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<number | null> {
    await stopProcess(this.process, signal, timeoutMs);
    return this.exited;
  }

  waitForExit(): Promise<number | null> {
    return this.exited;
  }
}

/** A ManagedProcess that keeps everything it writes (stdout and stderr) in `output`, and shows it when it fails. */
export class ProcessWithOutput extends ManagedProcess {
  output = '';

  protected constructor(child: ChildProcess) {
    super(child);
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (this.output += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.output += chunk));
  }

  override describe(): string {
    return this.output;
  }
}
