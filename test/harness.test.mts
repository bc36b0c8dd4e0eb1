import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { openLoop } from '../harness/load.mts';
import { freePort, isDrawable } from '../harness/loopback.mts';
import { isProcessAlive, runCommand } from '../harness/process.mts';
import { ROOT } from '../harness/service.mts';
import { waitFor } from '../harness/wait.mts';

// The harness's own guarantees, which every other test leans on.

test('free ports come from below the ephemeral range, where no outgoing connection takes them, and never twice', async () => {
  const [ephemeralLow] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
  const ports = [];
  for (let i = 0; i < 200; i++) ports.push(await freePort());
  assert.equal(new Set(ports).size, ports.length, 'a port handed out twice');
  for (const port of ports) assert.ok(port >= 10_000 && port < ephemeralLow!, `port ${port} outside 10000-${ephemeralLow! - 1}`);
});

test('no free port is one that fetch() refuses: the Fetch standard\'s bad port 10080 is never drawn', async () => {
  const failure = async (port: number) => (await fetch(`http://127.0.0.1:${port}/`).then(() => undefined, (error: Error) => error.cause)) as Error | undefined;
  assert.match(String((await failure(10_080))?.message), /bad port/, 'fetch() connects to 10080 after all');
  assert.equal(isDrawable(10_080), false);
  const closedPort = await freePort();
  assert.doesNotMatch(String((await failure(closedPort))?.message), /bad port/, `fetch() refuses ${closedPort} too`);
  assert.equal(isDrawable(closedPort), false, 'a port handed out is drawable again');
});

test('a test file whose setup fails after starting a service ends, as npm test runs it, and leaves no process behind', async () => {
  const testScript = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.test!;
  const runnerFlags = /node (--test\b[^"]*?) "/.exec(testScript)![1]!.split(' ');
  const fixture = join(ROOT, 'test/fixtures/fails-in-setup.mts');
  const { code, output } = await runCommand([process.execPath, ...runnerFlags, fixture], { cwd: ROOT, env: { PATH: process.env.PATH ?? '' }, timeoutMs: 60_000 });
  assert.notEqual(code, null, `the test file did not end within 60 s:\n${output}`);
  assert.match(output, /the second part of the setup failed/);
  const pid = Number(/service pid (\d+)/.exec(output)?.[1]);
  assert.ok(pid > 0, `the fixture did not start its service:\n${output}`);
  await waitFor(() => !isProcessAlive(pid) || undefined, `the service (pid ${pid}) to be gone with its test file`, 5_000);
});

test('the load generator drops an idle connection before the server closes it, as its Keep-Alive hint asks', async () => {
  // Node's server says `Keep-Alive: timeout=2` and closes an idle connection after
  // 2 s + keepAliveTimeoutBuffer (1 s); a request sent on it then is reset.
  // The hint, less a second, leaves 1 s: requests 2 s apart each need a new connection.
  const server = createServer((_request, response) => response.end('ok'));
  server.keepAliveTimeout = 2_000;
  let connections = 0;
  server.on('connection', () => (connections += 1));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const run = await openLoop({ baseUrl: `http://127.0.0.1:${port}`, paths: ['/'], rate: 0.5, durationS: 6, deadlineS: 20 });
    assert.equal(run.answers.length, 3);
    assert.equal(run.failures, 0);
    assert.equal(connections, 3, 'an idle socket was reused past the hint');
  } finally {
    server.closeAllConnections();
    server.close();
  }
});
