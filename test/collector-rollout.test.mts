import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { ensureCollectorBuilt, COLLECTOR_CONFIG } from '../harness/collector.mts';
import { TestNetwork } from '../harness/netns.mts';
import { readCollectorFile } from '../harness/otlp.mts';
import { FAST_EXPORT } from '../harness/pipeline.mts';
import { describeNeeding } from '../harness/requirements.mts';
import { ROOT, SERVICE_NODE_ARGS } from '../harness/service.mts';
import { waitFor } from '../harness/wait.mts';

/*
 * A collector rollout, as a cluster does it: the collector's pod is deleted
 * and its address vanishes without closing anything (no reset, no ICMP: its
 * port on the test network goes down), and a new collector answers for the
 * same name at a new address. The service, under load all the while, must
 * find the new one within seconds and lose nothing: its queue holds the spans
 * meanwhile, and the export that hangs on the old connection is retried on a
 * fresh one (src/telemetry/export-retry.ts). On a real single-node cluster the
 * old channel kept failing with "Waiting for LB pick" for 70–150 s.
 */

const SUBNET = '10.213.78'; // inside the test namespaces only
const COLLECTOR_NAME = 'otel-collector.observability.svc.cluster.local';
const RATE = 50; // requests per second
const LOAD_SECONDS = 24;
const CUT_AFTER_MS = 6_000;

/** Runs inside the client's namespace: GETs `url` at a fixed rate, each with a trace of its own; prints what was answered. */
const LOAD_PROGRAM = `
const [url, rate, seconds] = process.argv.slice(2).map((v, i) => (i === 0 ? v : Number(v)));
const hex = (bytes) => require('node:crypto').randomBytes(bytes).toString('hex');
const answered = [];
let failed = 0;
const pending = new Set();
const timer = setInterval(() => {
  const traceId = hex(16);
  const request = fetch(url, { headers: { traceparent: '00-' + traceId + '-' + hex(8) + '-01' }, signal: AbortSignal.timeout(5000) })
    .then(async (response) => { await response.arrayBuffer(); if (response.status === 200) answered.push({ traceId, at: Date.now() }); else failed += 1; })
    .catch(() => { failed += 1; });
  pending.add(request);
  request.finally(() => pending.delete(request));
}, 1000 / rate);
setTimeout(async () => {
  clearInterval(timer);
  await Promise.all(pending);
  console.log(JSON.stringify({ answered, failed }));
}, seconds * 1000);
`;

describeNeeding(TestNetwork.missing(), 'a collector whose host vanishes, replaced by a new one behind the same name', () => {
  let network: TestNetwork;
  let folder: string;
  const outputs: Record<string, () => string> = {};
  const received = (host: string) => join(folder, `${host}.jsonl`);

  function startCollector(host: string) {
    const env = {
      COLLECTOR_EXPORTERS: '[file]',
      COLLECTOR_FILE_PATH: received(host),
      COLLECTOR_METRICS_LEVEL: 'none',
      TAIL_SAMPLING_DECISION_WAIT: '1s',
      TAIL_SAMPLING_PERCENTAGE: '100',
    };
    outputs[host] = network.start(host, [ensureCollectorBuilt(), `--config=${COLLECTOR_CONFIG}`], { env, cwd: folder }).output;
    return network.fetch('client', `http://${network.hosts.get(host)}:13133/`, 30_000);
  }

  before(async () => {
    TestNetwork.check();
    folder = mkdtempSync(join(tmpdir(), 'rollout-'));
    writeFileSync(join(folder, 'load.cjs'), LOAD_PROGRAM);
    network = await TestNetwork.create(SUBNET);
    for (const host of ['old-collector', 'new-collector', 'service', 'client']) await network.addHost(host);
    network.writeHostsFiles({ [COLLECTOR_NAME]: 'old-collector', service: 'service' });
    await startCollector('old-collector');
    const env = {
      PATH: process.env.PATH ?? '',
      ...FAST_EXPORT,
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://${COLLECTOR_NAME}:4317`,
      OTEL_LOGS_EXPORTER: 'none',
      LOG_LEVEL: 'warn',
    };
    outputs.service = network.start('service', [process.execPath, ...SERVICE_NODE_ARGS], { env, cwd: ROOT }).output;
    assert.equal((await network.fetch('client', 'http://service:8080/readyz')).status, 200);
  });

  after(async () => {
    await network?.destroy();
    if (folder) rmSync(folder, { recursive: true, force: true });
  });

  it(`under ${RATE} requests/s, export moves to the new collector within seconds and no span is lost`, async () => {
    const explain = () => Object.entries(outputs).map(([name, output]) => `--- ${name}:\n${output().slice(-2000)}`).join('\n');
    const load = network.start('client', [process.execPath, join(folder, 'load.cjs'), 'http://service:8080/users/42', String(RATE), String(LOAD_SECONDS)], { env: {}, cwd: folder });
    const loadEnded = new Promise((resolve) => load.process.once('exit', resolve));

    await new Promise((resolve) => setTimeout(resolve, CUT_AFTER_MS));
    await startCollector('new-collector');
    network.writeHostsFiles({ [COLLECTOR_NAME]: 'new-collector', service: 'service' });
    await network.cutOff('old-collector');
    const cutAt = Date.now();

    const firstAtNew = await waitFor(() => (readCollectorFile(received('new-collector')).spans.length > 0 ? Date.now() : undefined), 'the first spans at the new collector', 30_000)
      .catch((error: Error) => assert.fail(`${error.message}\n${explain()}`));
    const recoveryMs = firstAtNew - cutAt;

    await loadEnded;
    const { answered, failed } = JSON.parse(load.output().trim().split('\n').at(-1)!) as { answered: Array<{ traceId: string }>; failed: number };
    assert.equal(failed, 0, 'every request answered while the collector moved');
    assert.ok(answered.length >= RATE * LOAD_SECONDS * 0.9, `the load ran: ${answered.length} requests`);

    const serverTraces = () => new Set([...readCollectorFile(received('old-collector')).spans, ...readCollectorFile(received('new-collector')).spans].filter((s) => s.name === 'GET /users/:id').map((s) => s.traceId));
    const missing = await waitFor(
      () => {
        const seen = serverTraces();
        const lost = answered.filter((request) => !seen.has(request.traceId));
        return lost.length === 0 ? lost : undefined;
      },
      'the server span of every answered request, at one collector or the other',
      45_000,
    ).catch(() => answered.filter((request) => !serverTraces().has(request.traceId)));
    assert.deepEqual(missing.length, 0, `${missing.length} of ${answered.length} requests have no server span (export moved after ${recoveryMs} ms)\n${explain()}`);
    // One attempt's deadline (OTEL_EXPORTER_OTLP_TIMEOUT, 10 s) on the dead connection, then a fresh one.
    assert.ok(recoveryMs < 15_000, `export reached the new collector ${recoveryMs} ms after the old one vanished`);
    console.log(`# export moved to the new collector ${recoveryMs} ms after the old one vanished; ${answered.length} requests, none lost`);
  });
});
