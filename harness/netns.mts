import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { isProcessAlive, stopProcess } from './process.mts';

/*
 * Test hosts on this machine: network namespaces joined by a bridge that lives
 * in a namespace of its own, with addresses that exist only inside them. No
 * interface is added to the machine's own namespace and nothing is routed out:
 * a host can reach the other test hosts and its own loopback, nothing else.
 * Names resolve from /etc/netns/<namespace>/hosts (`ip netns exec` mounts it
 * over /etc/hosts); resolv.conf points at the host's own loopback, so a name
 * that is not in the hosts file fails at once instead of leaving the machine.
 * Needs root and iproute2.
 */

const run = promisify(execFile);
const PREFIX = 'ud-test';

export class TestNetwork {
  readonly id: string;
  readonly subnet: string;
  readonly hosts = new Map<string, string>(); // host name → address
  private readonly processes: ChildProcess[] = [];

  private constructor(id: string, subnet: string) {
    this.id = id;
    this.subnet = subnet;
  }

  /** Why this machine cannot make test hosts, or undefined when it can. */
  static missing(): string | undefined {
    if (process.getuid?.() !== 0) return 'network namespaces need root';
    if (spawnSync('ip', ['-V']).status !== 0) return '`ip` is missing (apt-get install iproute2)';
    return undefined;
  }

  /** Fails with a plain message when this machine cannot make test hosts. */
  static check(): void {
    const missing = TestNetwork.missing();
    if (missing) throw new Error(`${missing}: run the tests as root with iproute2 (CI does)`);
  }

  /** `subnet` is the first three octets of a /24 used only inside the namespaces, e.g. "10.213.77". */
  static async create(subnet: string): Promise<TestNetwork> {
    TestNetwork.check();
    await removeStale();
    const network = new TestNetwork(`${PREFIX}-${process.pid}`, subnet);
    await ip('netns', 'add', network.ns('lan'));
    await ip('-n', network.ns('lan'), 'link', 'add', 'br0', 'type', 'bridge');
    await ip('-n', network.ns('lan'), 'link', 'set', 'br0', 'up');
    return network;
  }

  ns(host: string): string {
    return `${this.id}-${host}`;
  }

  /** Adds a host with its own namespace and address on the bridge. */
  async addHost(host: string): Promise<string> {
    const address = `${this.subnet}.${this.hosts.size + 1}`;
    const [ns, lan, port] = [this.ns(host), this.ns('lan'), `v-${host}`.slice(0, 15)];
    await ip('netns', 'add', ns);
    await ip('link', 'add', port, 'netns', lan, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    await ip('-n', lan, 'link', 'set', port, 'master', 'br0', 'up');
    await ip('-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0');
    await ip('-n', ns, 'link', 'set', 'eth0', 'up');
    await ip('-n', ns, 'link', 'set', 'lo', 'up');
    this.hosts.set(host, address);
    return address;
  }

  /**
   * The host drops off the network without a word: its port on the bridge goes
   * down, so whatever is sent to it is lost, with no reset and no ICMP answer,
   * as when a pod is deleted and its address vanishes.
   */
  async cutOff(host: string): Promise<void> {
    await ip('-n', this.ns('lan'), 'link', 'set', `v-${host}`.slice(0, 15), 'down');
  }

  /**
   * Writes every host's /etc/hosts: `names` maps a DNS name to the test host that
   * answers for it. Written in place, so processes already running see the change.
   */
  writeHostsFiles(names: Record<string, string>): void {
    const lines = ['127.0.0.1 localhost', ...Object.entries(names).map(([name, host]) => `${this.hosts.get(host)!} ${name}`)];
    for (const host of this.hosts.keys()) {
      const folder = `/etc/netns/${this.ns(host)}`;
      mkdirSync(folder, { recursive: true });
      writeFileSync(`${folder}/hosts`, `${lines.join('\n')}\n`);
      writeFileSync(`${folder}/resolv.conf`, 'nameserver 127.0.0.1\n');
    }
  }

  /** Starts a long-running program on a host; its output is collected in `output`. */
  start(host: string, command: string[], options: { env: Record<string, string>; cwd: string }): { process: ChildProcess; output: () => string } {
    const child = spawn('ip', ['netns', 'exec', this.ns(host), ...command], { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    this.processes.push(child);
    return { process: child, output: () => output };
  }

  /**
   * GET `url` from a host, retrying connection failures until `timeoutMs`
   * (a small Node program run inside the namespace).
   */
  async fetch(host: string, url: string, timeoutMs = 15_000): Promise<{ status: number; body: string }> {
    const program = `
      const [url, timeoutMs] = process.argv.slice(1);
      const deadline = Date.now() + Number(timeoutMs);
      for (;;) {
        try {
          const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
          console.log(JSON.stringify({ status: response.status, body: await response.text() }));
          break;
        } catch (error) {
          if (Date.now() > deadline) { console.error(String(error.cause ?? error)); process.exit(1); }
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }`;
    try {
      const { stdout } = await run('ip', ['netns', 'exec', this.ns(host), process.execPath, '--input-type=module', '-e', program, url, String(timeoutMs)], {
        timeout: timeoutMs + 10_000,
      });
      return JSON.parse(stdout) as { status: number; body: string };
    } catch (error) {
      throw new Error(`GET ${url} from ${host} failed: ${(error as { stderr?: string }).stderr || error}`);
    }
  }

  /** Stops what it started (SIGTERM, then SIGKILL after 10 s), then removes the namespaces and hosts files. */
  async destroy(): Promise<void> {
    await Promise.all(this.processes.map((child) => stopProcess(child, 'SIGTERM', 10_000)));
    for (const host of [...this.hosts.keys(), 'lan']) {
      spawnSync('ip', ['netns', 'del', this.ns(host)]);
      rmSync(`/etc/netns/${this.ns(host)}`, { recursive: true, force: true });
    }
  }
}

async function ip(...args: string[]): Promise<void> {
  try {
    await run('ip', args, { timeout: 10_000 });
  } catch (error) {
    throw new Error(`ip ${args.join(' ')}: ${(error as { stderr?: string }).stderr || error}`);
  }
}

/** Namespaces left by an earlier run that was killed before it could clean up (its process is gone). */
async function removeStale(): Promise<void> {
  const { stdout } = await run('ip', ['netns', 'list']);
  for (const [, name, pid] of stdout.matchAll(new RegExp(`^(${PREFIX}-(\\d+)-\\S+)`, 'gm'))) {
    if (isProcessAlive(Number(pid))) continue;
    spawnSync('ip', ['netns', 'del', name!]);
    rmSync(`/etc/netns/${name}`, { recursive: true, force: true });
  }
}
