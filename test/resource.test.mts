import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { detectResources } from '@opentelemetry/resources';
import { afterEach, describe, it } from 'node:test';
import { ROOT, runProgram, useServiceDefaultsInThisProcess } from '../harness/service.mts';

useServiceDefaultsInThisProcess();
const { serviceIdentity, serviceResource } = await import('../dist/telemetry/resource.js');

const DEFAULTS = { name: 'users-api', version: '1.0.0', environment: 'local' };
const saved = { attributes: process.env.OTEL_RESOURCE_ATTRIBUTES, detectors: process.env.OTEL_NODE_RESOURCE_DETECTORS };
afterEach(() => {
  if (saved.attributes === undefined) delete process.env.OTEL_RESOURCE_ATTRIBUTES;
  else process.env.OTEL_RESOURCE_ATTRIBUTES = saved.attributes;
  if (saved.detectors === undefined) delete process.env.OTEL_NODE_RESOURCE_DETECTORS;
  else process.env.OTEL_NODE_RESOURCE_DETECTORS = saved.detectors;
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

describe('the resource: OTEL_RESOURCE_ATTRIBUTES', () => {
  const inANewProcess = (value: string) => {
    const program = `const r = require('./dist/telemetry/resource.js').serviceResource(${JSON.stringify(DEFAULTS)}); console.log(JSON.stringify({ attributes: r.attributes }))`;
    const { status, stderr, lines } = runProgram(program, { OTEL_RESOURCE_ATTRIBUTES: value });
    assert.equal(status, 0, stderr);
    return { warnings: lines.filter((line) => line.level === 'warn'), attributes: lines.find((line) => 'attributes' in line)!.attributes as Record<string, unknown> };
  };

  // The specification: on any error the whole value is discarded, and an error reported.
  it('malformed: discarded whole, as the specification says, and one warning that names it', () => {
    const value = 'deployment.environment.name=prod,k8s.pod.name=a=b';
    const { warnings, attributes } = inANewProcess(value);
    assert.equal(attributes['deployment.environment.name'], 'local', 'the default: nothing of it applies');
    assert.equal(attributes['k8s.pod.name'], undefined);
    assert.equal(warnings.length, 1, JSON.stringify(warnings));
    assert.equal(warnings[0].msg.startsWith(`ignoring OTEL_RESOURCE_ATTRIBUTES="${value}"`), true, warnings[0].msg);
  });

  it('well formed, or empty entries only: applied, no warning', () => {
    const applied = inANewProcess('deployment.environment.name=prod, ,k8s.pod.name=users%3D1');
    assert.deepEqual([applied.warnings, applied.attributes['deployment.environment.name'], applied.attributes['k8s.pod.name']], [[], 'prod', 'users=1']);
    assert.deepEqual(inANewProcess(' , ').warnings, []);
  });
});

describe('the resource: OTEL_NODE_RESOURCE_DETECTORS, as NodeSDK names them', () => {
  const keysWith = (detectors: string | undefined) => {
    if (detectors === undefined) delete process.env.OTEL_NODE_RESOURCE_DETECTORS;
    else process.env.OTEL_NODE_RESOURCE_DETECTORS = detectors;
    process.env.OTEL_RESOURCE_ATTRIBUTES = 'k8s.pod.name=users-0';
    const resource = serviceResource(DEFAULTS, 'staging');
    assert.deepEqual(serviceIdentity(resource), { ...DEFAULTS, environment: 'staging' }, 'the identity reads at once, host.id still being read');
    return resource.getRawAttributes().map(([key]: [string, unknown]) => key);
  };

  it('unset: serviceinstance and env, the kit\'s lean default (NodeSDK\'s would add host, os and process)', () => {
    const keys = keysWith(undefined);
    assert.ok(keys.includes('service.instance.id') && keys.includes('k8s.pod.name'));
    assert.ok(!keys.some((key) => /^(host|os|process)\./.test(key)), keys.join(','));
  });

  it('named: those detectors, and env whatever the list says (the specification\'s OTEL_RESOURCE_ATTRIBUTES)', () => {
    const keys = keysWith('host,process');
    assert.ok(keys.includes('host.name') && keys.includes('process.pid') && keys.includes('k8s.pod.name'), keys.join(','));
    assert.ok(!keys.includes('os.type') && !keys.includes('service.instance.id'), keys.join(','));
    assert.ok(keysWith('all').includes('os.type'));
    const none = keysWith('none');
    assert.ok(!none.includes('service.instance.id') && none.includes('k8s.pod.name'), none.join(','));
  });
});

describe('the resource detectors, differential: NodeSDK\'s own mapping of the same names', () => {
  // sdk-node 0.301's reader (utils.cjs), which the kit's replaces: not exported, so loaded by path.
  const nodeSdkDetectors = createRequire(import.meta.url)(join(ROOT, 'node_modules/@opentelemetry/sdk-node/dist/utils.cjs')).getResourceDetectorsFromEnv;

  for (const detectors of ['all', 'host,os,process,serviceinstance,env', 'process,env', 'host,env']) {
    it(`${detectors}: the same attributes (service.instance.id random on both sides)`, async () => {
      process.env.OTEL_NODE_RESOURCE_DETECTORS = detectors;
      process.env.OTEL_RESOURCE_ATTRIBUTES = 'k8s.pod.name=users-0';
      const kit = serviceResource(DEFAULTS);
      const theirs = detectResources({ detectors: nodeSdkDetectors() });
      await Promise.all([kit.waitForAsyncAttributes?.(), theirs.waitForAsyncAttributes?.()]);
      const detected = (attributes: Record<string, unknown>) => {
        const { 'service.name': _n, 'service.version': _v, 'deployment.environment.name': _e, 'service.instance.id': id, ...rest } = attributes;
        return { ...rest, 'service.instance.id': id === undefined ? 'absent' : 'present' };
      };
      const withoutSdk = (attributes: Record<string, unknown>) => Object.fromEntries(Object.entries(attributes).filter(([key]) => !key.startsWith('telemetry.sdk.')));
      assert.deepEqual(withoutSdk(detected(kit.attributes)), withoutSdk(detected(theirs.attributes)));
    });
  }
});
