import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { afterEach, describe, it } from 'node:test';
import { ROOT, useServiceDefaultsInThisProcess } from '../harness/service.mts';

useServiceDefaultsInThisProcess();
const { serviceResource } = await import('../dist/telemetry/resource.js');

const DEFAULTS = { name: 'users-api', version: '1.0.0', environment: 'local' };
const saved = process.env.OTEL_RESOURCE_ATTRIBUTES;
afterEach(() => {
  if (saved === undefined) delete process.env.OTEL_RESOURCE_ATTRIBUTES;
  else process.env.OTEL_RESOURCE_ATTRIBUTES = saved;
});

describe('the resource: service.instance.id', () => {
  it('is a fresh random UUID for each process when nobody sets one', () => {
    const idOfANewProcess = () =>
      execFileSync(process.execPath, ['-p', `require('./dist/telemetry/resource.js').serviceResource(${JSON.stringify(DEFAULTS)}).attributes['service.instance.id']`], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '' },
        encoding: 'utf8',
      }).trim();
    const [id, next] = [idOfANewProcess(), idOfANewProcess()];
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.notEqual(id, next);
  });

  // What a platform sets (the OpenTelemetry Operator sets one per pod) wins over the
  // random one, as in NodeSDK, whose default detectors put envDetector last.
  it('is the one OTEL_RESOURCE_ATTRIBUTES gives, when it gives one', () => {
    process.env.OTEL_RESOURCE_ATTRIBUTES = 'service.instance.id=users-7d9c-x2k4q,k8s.pod.name=users-7d9c-x2k4q';
    const { attributes } = serviceResource(DEFAULTS);
    assert.equal(attributes['service.instance.id'], 'users-7d9c-x2k4q');
    assert.equal(attributes['k8s.pod.name'], 'users-7d9c-x2k4q');
  });
});
