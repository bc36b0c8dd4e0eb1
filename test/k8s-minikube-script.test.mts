import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { withComponents } from '../harness/k8s.mts';
import { freePort } from '../harness/loopback.mts';
import { ROOT } from '../harness/service.mts';

/*
 * scripts/k8s-minikube.sh up to its first requests, with minikube and kubectl
 * replaced by stubs that succeed and write down how they were called (no
 * cluster here). What it must not do is tell a user "done" when the requests
 * went somewhere else, or stay quiet when SENTRY_DSN cannot work.
 */

// Made up, and put together here so that no DSN-shaped text is in the repository (test/k8s.test.mts looks).
const KEY = 'f'.repeat(32);
const FILLED_SENTRY_ENV = [
  'SENTRY_OTLP_TRACES_URL=https://o1.ingest.sentry.io/api/2/integration/otlp/v1/traces',
  'SENTRY_OTLP_LOGS_URL=https://o1.ingest.sentry.io/api/2/integration/otlp/v1/logs',
  `SENTRY_PUBLIC_KEY=${KEY}`,
].join('\n');
const DSN = `SENTRY_DSN=https://${KEY}@o1.ingest.sentry.io/2`;

const stub = (name: string) => `#!/bin/sh
echo "${name} $*" >> "$CALLS"
case "$*" in
  profile|"config current-context") echo minikube ;;
  "-n kube-system get daemonset "*) [ -z "$NO_POLICY_CNI" ] || exit 1 ;;
esac
exit 0
`;

const homes: string[] = [];
after(() => homes.forEach((home) => rmSync(home, { recursive: true, force: true })));

/** A copy of the script with the minikube overlay, a filled sentry.env and stub tools on PATH. */
function checkout({ sentryEnv, overlay = (text: string) => text }: { sentryEnv: string; overlay?: (text: string) => string }): string {
  const home = mkdtempSync(join(tmpdir(), 'k8s-minikube-script-'));
  homes.push(home);
  for (const dir of ['scripts', 'bin', 'k8s/sentry', 'k8s/overlays/minikube']) mkdirSync(join(home, dir), { recursive: true });
  copyFileSync(join(ROOT, 'scripts/k8s-minikube.sh'), join(home, 'scripts/k8s-minikube.sh'));
  writeFileSync(join(home, 'k8s/sentry/sentry.env'), sentryEnv);
  writeFileSync(join(home, 'k8s/overlays/minikube/kustomization.yaml'), overlay(readFileSync(join(ROOT, 'k8s/overlays/minikube/kustomization.yaml'), 'utf8')));
  for (const tool of ['minikube', 'kubectl']) {
    writeFileSync(join(home, 'bin', tool), stub(tool));
    chmodSync(join(home, 'bin', tool), 0o755);
  }
  return home;
}

/** Runs the script with stub tools; killed (code null) if it has not ended within `boundMs`. */
function run(home: string, port: number, boundMs = 60_000, env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string; calls: string[] }> {
  const calls = join(home, 'calls');
  writeFileSync(calls, '');
  const child = spawn('bash', [join(home, 'scripts/k8s-minikube.sh')], {
    env: { ...process.env, PATH: `${join(home, 'bin')}:${process.env.PATH}`, CALLS: calls, LOCAL_PORT: String(port), ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), boundMs);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, calls: readFileSync(calls, 'utf8').trim().split('\n') });
    }),
  );
}

async function listening(): Promise<Server> {
  const server = createServer((_req, res) => res.end('{"status":"ready"}'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

describe('scripts/k8s-minikube.sh (minikube and kubectl stubbed)', () => {
  it('stops before building when something already answers on its local port, as the local demo would', async () => {
    const demo = await listening();
    try {
      const { code, stderr, calls } = await run(checkout({ sentryEnv: FILLED_SENTRY_ENV }), (demo.address() as AddressInfo).port);
      assert.equal(code, 1);
      assert.match(stderr, /already answers/);
      assert.ok(!calls.some((call) => call.includes('image build')), calls.join('\n'));
    } finally {
      demo.close();
    }
  });

  it('fails, without the 30 s wait, when the port-forward ends before the gateway answers', async () => {
    // The kubectl stub's port-forward returns at once: the forward is gone.
    // Killed, code null, if it waits the 30 s.
    const { code, stderr, calls } = await run(checkout({ sentryEnv: FILLED_SENTRY_ENV }), await freePort(), 20_000);
    assert.equal(code, 1);
    assert.match(stderr, /did not answer through the port-forward/);
    assert.doesNotMatch(stderr, /done\./);
    assert.ok(calls.some((call) => call.startsWith('kubectl -n users-demo port-forward service/gateway')), calls.join('\n'));
  });

  it('says that SENTRY_DSN needs k8s/components/sentry-issues when the overlay leaves it out, and is quiet when it is in', async () => {
    // Each run goes on to deploy (and then stops at the stub's port-forward): quiet, not stopped early.
    const deployed = ({ calls }: { calls: string[] }) => assert.ok(calls.includes('kubectl apply -k k8s/overlays/minikube'), calls.join('\n'));
    const left = await run(checkout({ sentryEnv: `${FILLED_SENTRY_ENV}\n${DSN}\n` }), await freePort());
    assert.match(left.stderr, /SENTRY_DSN is set but k8s\/overlays\/minikube leaves out k8s\/components\/sentry-issues/);
    deployed(left);

    const included = await run(checkout({ sentryEnv: `${FILLED_SENTRY_ENV}\n${DSN}\n`, overlay: withComponents }), await freePort());
    assert.doesNotMatch(included.stderr, /SENTRY_DSN is set/);
    deployed(included);

    const noDsn = await run(checkout({ sentryEnv: `${FILLED_SENTRY_ENV}\n# ${DSN}\n` }), await freePort());
    assert.doesNotMatch(noDsn.stderr, /SENTRY_DSN is set/);
    deployed(noDsn);
  });

  it('stops before building on a quoted value, a trailing space or a comment after a value in sentry.env, which kustomize would keep in the Secret; not on what kustomize drops', async () => {
    const mistakes = [FILLED_SENTRY_ENV.replace(`=${KEY}`, `="${KEY}"`), FILLED_SENTRY_ENV.replace(`=${KEY}`, `='${KEY}'`), `${FILLED_SENTRY_ENV} \n`, `${FILLED_SENTRY_ENV} # the key\n`];
    for (const sentryEnv of mistakes) {
      const { code, stderr, calls } = await run(checkout({ sentryEnv }), await freePort());
      assert.equal(code, 1, stderr);
      assert.match(stderr, /has a quoted value, a trailing space or a comment after a value/);
      assert.ok(!calls.some((call) => call.includes('image build')), calls.join('\n'));
    }
    // Windows line ends and a line of spaces: kustomize drops both (checked with v5.8.2).
    for (const sentryEnv of [`${FILLED_SENTRY_ENV.split('\n').join('\r\n')}\r\n`, `${FILLED_SENTRY_ENV}\n   \n`]) {
      const { stderr, calls } = await run(checkout({ sentryEnv }), await freePort());
      assert.doesNotMatch(stderr, /quoted value/);
      assert.ok(calls.includes('kubectl apply -k k8s/overlays/minikube'), calls.join('\n'));
    }
  });

  it('says when the cluster runs neither Calico nor Cilium (its NetworkPolicies may go unenforced), and deploys all the same', async () => {
    const without = await run(checkout({ sentryEnv: FILLED_SENTRY_ENV }), await freePort(), 60_000, { NO_POLICY_CNI: '1' });
    assert.match(without.stderr, /may not enforce the NetworkPolicies/);
    assert.ok(without.calls.includes('kubectl apply -k k8s/overlays/minikube'), without.calls.join('\n'));
    const withCalico = await run(checkout({ sentryEnv: FILLED_SENTRY_ENV }), await freePort());
    assert.doesNotMatch(withCalico.stderr, /may not enforce/);
  });
});
