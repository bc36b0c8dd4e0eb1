import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { ROOT, runProgram } from '../harness/service.mts';

/*
 * The kit (src/telemetry/) is meant to be copied: importing any of its modules
 * must start nothing. No variable the kit or the service reads is read, and
 * no stream is opened, until a function is called. And what it says of the
 * SDK's warnings, once started.
 */
it('importing any kit module reads no setting and opens no stream', () => {
  const modules = readdirSync(join(ROOT, 'dist/telemetry')).filter((file) => file.endsWith('.js'));
  const program = `
    const reads = new Set();
    process.env = new Proxy(process.env, { get(target, key) { if (typeof key === 'string') reads.add(key); return Reflect.get(target, key); } });
    const SonicBoom = require('sonic-boom');
    let streams = 0;
    require.cache[require.resolve('sonic-boom')].exports = new Proxy(SonicBoom, { construct(target, args) { streams += 1; return Reflect.construct(target, args); } });
    for (const file of ${JSON.stringify(modules)}) require(${JSON.stringify(join(ROOT, 'dist/telemetry'))} + '/' + file);
    console.log(JSON.stringify({ reads: [...reads], streams }));
  `;
  const run = spawnSync(process.execPath, ['-e', program], { cwd: ROOT, encoding: 'utf8', env: { PATH: process.env.PATH ?? '', OTEL_SERVICE_NAME: 'x', PORT: '1' }, timeout: 30_000 });
  assert.equal(run.status, 0, run.stderr);
  const { reads, streams } = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { reads: string[]; streams: number };
  assert.ok(modules.length >= 10, `the kit's modules: ${modules.join(', ')}`);
  // Libraries read their own variables as they load (grpc-js its GRPC_*); none of ours is read.
  const ours = reads.filter((name) => /^OTEL_|^EXPORT_REPORT_INTERVAL_MS$|^(PORT|LOG_LEVEL|SENTRY_DSN|DEPLOYMENT_ENVIRONMENT|TRUST_INCOMING_TRACE_CONTEXT)$/.test(name));
  assert.deepEqual(ours, []);
  assert.equal(streams, 0, 'stdout is opened on first write, not on import');
});

it("the SDK's warnings as report lines: one about an OTEL_* variable is said once, others (a partial success, a drop) each time", () => {
  const program = `
    const { diag } = require('@opentelemetry/api');
    require('./dist/telemetry/diagnostics.js').routeDiagnostics();
    for (let i = 0; i < 2; i += 1) {
      diag.warn("Unknown value 'abc' for OTEL_EXPORTER_OTLP_TIMEOUT, expected a number, using defaults");
      diag.warn('Received Partial Success response:', '{"rejectedSpans":"1"}');
      diag.warn('Dropped 5 spans because maxQueueSize reached');
    }`;
  const run = runProgram(program);
  const said = run.lines.map((line) => line.msg);
  assert.deepEqual(said, [
    "Unknown value 'abc' for OTEL_EXPORTER_OTLP_TIMEOUT, expected a number, using defaults",
    'Received Partial Success response:',
    'Dropped 5 spans because maxQueueSize reached',
    'Received Partial Success response:',
    'Dropped 5 spans because maxQueueSize reached',
  ], run.stderr);
});
