import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { ROOT } from '../harness/service.mts';

describe('npm run demo -- --once', () => {
  it('draws the waterfall of each request from what the real collector received, then exits 0', () => {
    const demo = spawnSync(process.execPath, ['demo/run.mts', '--once'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '' },
      encoding: 'utf8',
      timeout: 120_000,
    });
    const output = `${demo.stdout}${demo.stderr}`;
    assert.equal(demo.status, 0, output);
    assert.doesNotMatch(output, /\x1b\[/, 'no colours when the output is not a terminal');

    const traces = output.split('\n\n').filter((block) => /^GET \S+ → \d{3}  trace [0-9a-f]{32}/.test(block));
    assert.deepEqual(
      traces.map((block) => block.split('  trace')[0]),
      ['GET /users/42 → 200', 'GET /users/123 → 200', 'GET /chain/123 → 200', 'GET /error → 500', 'GET /users/not%20valid! → 400'],
    );
    const [user42, user123, chain, error] = traces as [string, string, string, string];
    assert.match(user42, /gateway\s+GET \/users\/:id\s+█+\s+[\d.]+ ms server\n\s+gateway\s+getUser/);
    assert.match(user123, /✖ errorWork/);
    assert.match(user123, /· started sleep \+[\d.]+ ms\n\s+· completed sleep/);
    assert.match(user123, /exception log for Sentry Logs: ERROR SomeworkError/);
    assert.match(user123, /✎ log INFO middle work started/, 'the service\'s own log lines sit in the trace too');
    // One trace over two services: the gateway's client call, then the users service beneath it.
    assert.match(chain, /gateway\s+GET \/chain\/:id[^\n]*server\n\s+gateway\s+GET\s[^\n]*client\n\s+users\s+GET \/users\/:id[^\n]*server\n\s+users\s+getUser/);
    assert.match(error, /✖ GET \/error/);
    assert.match(error, /exception\.type=Error/);
  });
});
