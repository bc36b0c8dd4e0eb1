import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './loopback.mts';
import { ProcessWithOutput } from './process.mts';
import { ROOT, status } from './service.mts';

/*
 * Sentry's ingest service, Relay, built from source by scripts/relay.sh
 * (FSL-1.1: run for tests only, never copied into this repository), started
 * the way Relay's own integration tests start it (tests/integration/fixtures/relay.py):
 * a config folder, `relay credentials generate`, then `relay run`.
 */

let located: { binary: string } | { missing: string } | undefined;

/**
 * Relay's binary, from `bash scripts/relay.sh` (a no-op once built; the first
 * build takes 12–20 minutes and shows its progress), or why there is none.
 */
export function locateRelay(): { binary: string } | { missing: string } {
  if (located) return located;
  const build = spawnSync('bash', [join(ROOT, 'scripts/relay.sh')], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', timeout: 45 * 60_000 });
  const binary = build.stdout?.trim().split('\n').at(-1);
  located =
    build.status === 0 && binary
      ? { binary }
      : { missing: `Sentry's Relay could not be built or found (bash scripts/relay.sh ended with ${build.status ?? build.signal}: its output is above)` };
  return located;
}

/** Why Relay cannot run here, or undefined when it can. */
export function relayMissing(): string | undefined {
  const relay = locateRelay();
  return 'missing' in relay ? relay.missing : undefined;
}

export interface RelayCredentials {
  id: string;
  publicKey: string;
}

/** A running Relay in managed mode, on a free loopback port. */
export class RelayProcess extends ProcessWithOutput {
  readonly port: number;
  private readonly configDir: string;

  private constructor(child: ChildProcess, port: number, configDir: string) {
    super(child);
    this.port = port;
    this.configDir = configDir;
  }

  /**
   * Starts Relay against `upstream`; `register` is handed its credentials
   * before it runs, since the upstream must know them to let it register.
   */
  static async start(upstream: string, register: (credentials: RelayCredentials) => void): Promise<RelayProcess> {
    const relay = locateRelay();
    if ('missing' in relay) throw new Error(relay.missing);
    const configDir = mkdtempSync(join(tmpdir(), 'relay-'));
    try {
      const port = await freePort();
      writeFileSync(join(configDir, 'config.yml'), JSON.stringify(relayConfig(upstream, port), null, 2)); // JSON is YAML
      const generate = spawnSync(relay.binary, ['-c', configDir, 'credentials', 'generate'], { encoding: 'utf8', timeout: 30_000 });
      if (generate.status !== 0) throw new Error(`relay credentials generate failed:\n${generate.stdout}${generate.stderr}`);
      const credentials = JSON.parse(readFileSync(join(configDir, 'credentials.json'), 'utf8')) as { id: string; public_key: string };
      register({ id: credentials.id, publicKey: credentials.public_key });

      const child = spawn(relay.binary, ['-c', configDir, 'run'], { env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] });
      const started = new RelayProcess(child, port, configDir);
      // Ready: registered with the upstream (relay-server/src/services/health_check.rs, check_readiness).
      await started.waitUntilReady(async () => (await status(`http://127.0.0.1:${port}/api/relay/healthcheck/ready/`)) === 200, 'Relay to be ready', 30_000, 100);
      return started;
    } catch (error) {
      rmSync(configDir, { recursive: true, force: true });
      throw error;
    }
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** SIGTERM (Relay then waits `shutdown_timeout` for work in flight), and its config folder removed. */
  async close(): Promise<void> {
    await this.stop('SIGTERM', 10_000);
    rmSync(this.configDir, { recursive: true, force: true });
  }
}

/*
 * Relay's settings, as its integration tests set them (tests/integration/fixtures/relay.py),
 * and relay-config/src/config.rs for each name.
 */
function relayConfig(upstream: string, port: number): object {
  return {
    relay: { mode: 'managed', upstream, host: '127.0.0.1', port },
    logging: { level: 'info', format: 'simplified' },
    // Relay's own errors go nowhere: no DSN of Sentry's, no traffic off this machine.
    sentry: { enabled: false },
    http: { timeout: 5, encoding: 'identity' },
    processing: { enabled: false },
    outcomes: { emit_outcomes: true },
    // Outcomes travel as metrics: flushed each second instead of after 10 s plus a 30 s delay.
    aggregator: { bucket_interval: 1, initial_delay: 0 },
    // Project configs fetched at once instead of batched every 100 ms.
    cache: { batch_interval: 0 },
    // On SIGTERM, Relay waits this long for work in flight (default 10 s).
    limits: { shutdown_timeout: 1 },
  };
}
