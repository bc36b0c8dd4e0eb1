import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DiagLogLevel, diag } from '@opentelemetry/api';
import { parseKeyPairsIntoRecord } from '@opentelemetry/core';
import { Collector } from '../harness/collector.mts';
import { closeHttpServer, freePort, listenOnLoopback } from '../harness/loopback.mts';
import { SPAN_KIND } from '../harness/otlp.mts';
import { OtlpReceiver } from '../harness/otlp-receiver.mts';
import { FAST_EXPORT } from '../harness/pipeline.mts';
import { SentryIngest } from '../harness/sentry-ingest.mts';
import { ROOT, Service, runService } from '../harness/service.mts';
import { newTraceparent } from '../harness/traces.mts';
import { waitFor } from '../harness/wait.mts';

const { ConfigError, parseConfig } = await import('../dist/config.js');
const settings = await import('../dist/telemetry/settings.js');

const GRPC = 'http://otel-collector.observability.svc.cluster.local:4317';
const HTTP = 'http://otel-collector.observability.svc.cluster.local:4318';

describe('parseConfig: the service\'s own settings', () => {
  it('defaults: port 8080, calls itself, no environment of its own (the resource\'s, else local), trusts its callers, the package version', () => {
    const config = parseConfig({});
    assert.equal(config.port, 8080);
    assert.equal(config.downstreamUrl, 'http://127.0.0.1:8080');
    assert.equal(config.environment, undefined);
    assert.equal(config.trustCaller, true);
    assert.equal(config.sentryDsn, undefined);
    assert.match(config.version, /^\d+\.\d+\.\d+/);
  });

  it('TRUST_INCOMING_TRACE_CONTEXT=false turns trust off; blank counts as unset', () => {
    assert.equal(parseConfig({ TRUST_INCOMING_TRACE_CONTEXT: 'FALSE' }).trustCaller, false);
    assert.equal(parseConfig({ PORT: '  ' }).port, 8080);
  });

  it('SENTRY_DSN: a self-hosted Sentry under a path prefix is accepted, as the Sentry SDK reads it', () => {
    const dsn = 'https://0123456789abcdef0123456789abcdef@sentry.example.com/sentry/42';
    assert.equal(parseConfig({ SENTRY_DSN: dsn }).sentryDsn, dsn);
  });

  const failures: Array<[Record<string, string>, RegExp]> = [
    [{ PORT: 'eighty' }, /^PORT must be a whole number from 1 to 65535, got "eighty"$/],
    [{ PORT: '0' }, /^PORT must be a whole number from 1 to 65535, got "0"$/],
    [{ DOWNSTREAM_URL: 'users:8080' }, /^DOWNSTREAM_URL must be a URL that starts with http:\/\/ \(plaintext\) or https:\/\/ \(TLS\), got "users:8080"$/],
    [{ SHUTDOWN_GRACE_MS: '10s' }, /^SHUTDOWN_GRACE_MS must be a whole number from 0 to 600000, got "10s"$/],
    [{ LOG_LEVEL: 'loud' }, /^LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "loud"$/],
    [{ TRUST_INCOMING_TRACE_CONTEXT: 'no' }, /^TRUST_INCOMING_TRACE_CONTEXT must be true or false, got "no"$/],
    [{ DEPLOYMENT_ENVIRONMENT: 'prod/eu' }, /^DEPLOYMENT_ENVIRONMENT must be a name without slashes or spaces/],
    [{ DEPLOYMENT_ENVIRONMENT: 'None' }, /^DEPLOYMENT_ENVIRONMENT must be a name without slashes or spaces, at most 64 characters, not "None"/],
    [{ SENTRY_DSN: 'sentrykey123@sentry.io' }, /^SENTRY_DSN must look like https:\/\/<public key>@o<org>\.ingest\.sentry\.io\/<project id> \(Project Settings > Client Keys\)$/],
  ];
  for (const [env, message] of failures) {
    it(`fails fast on ${Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ')}`, () => {
      assert.throws(() => parseConfig(env), (error: Error) => error instanceof ConfigError && message.test(error.message));
    });
  }
});

/**
 * The few OTEL_* settings the kit reads itself (src/telemetry/settings.ts),
 * read from process.env as the SDK reads them, with warnings through `diag`.
 */
function withEnvironment<T>(env: Record<string, string>, read: () => T): { value: T; warnings: string[] } {
  const warnings: string[] = [];
  const saved = { ...process.env };
  for (const name of Object.keys(process.env)) if (name.startsWith('OTEL_')) delete process.env[name];
  Object.assign(process.env, env);
  diag.setLogger({ error: (m) => warnings.push(m), warn: (m) => warnings.push(m), info() {}, debug() {}, verbose() {} }, DiagLogLevel.WARN);
  try {
    return { value: read(), warnings };
  } finally {
    diag.disable();
    process.env = saved;
  }
}

describe('the kit\'s OTLP settings', () => {
  it('default: gRPC to the cluster\'s collector on 4317; the measured batch sizes; no warning', () => {
    const { value, warnings } = withEnvironment({}, () => settings.otlpExportSettings('traces'));
    assert.deepEqual(warnings, []);
    assert.equal(value.protocol, 'grpc');
    assert.equal(value.url, GRPC);
    assert.equal(value.attemptTimeoutMs, 10_000);
    assert.deepEqual(value.batch, { maxQueueSize: 16_384, maxExportBatchSize: 2048, scheduledDelayMillis: 200, exportTimeoutMillis: 60_000 });
  });

  it('OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf: the collector\'s 4318 with the signal\'s path', () => {
    const { value, warnings } = withEnvironment({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' }, () => [settings.otlpExportSettings('traces'), settings.otlpExportSettings('logs')]);
    assert.deepEqual(warnings, []);
    assert.deepEqual(value.map((s) => [s.protocol, s.url]), [['http/protobuf', `${HTTP}/v1/traces`], ['http/protobuf', `${HTTP}/v1/logs`]]);
  });

  it('over gRPC, a host:port with no scheme is left to the exporter, as the specification allows (OTEL_EXPORTER_OTLP_INSECURE then decides TLS, which is said)', () => {
    const { value, warnings } = withEnvironment({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector.monitoring:4317', OTEL_EXPORTER_OTLP_TRACES_INSECURE: 'true' }, () => settings.otlpExportSettings('traces'));
    assert.deepEqual(warnings, []);
    assert.equal(value.url, undefined);
    assert.equal(value.destination, 'collector.monitoring:4317 (OTEL_EXPORTER_OTLP_ENDPOINT)');
    const tls = withEnvironment({ OTEL_EXPORTER_OTLP_ENDPOINT: '127.0.0.1:4317' }, () => settings.otlpExportSettings('logs'));
    assert.equal(tls.value.url, undefined);
    assert.deepEqual(tls.warnings, ['OTEL_EXPORTER_OTLP_ENDPOINT="127.0.0.1:4317" has no scheme, so the export uses TLS (OTEL_EXPORTER_OTLP_INSECURE is not true, and no certificate is given); to a plaintext collector, write http://127.0.0.1:4317 or set OTEL_EXPORTER_OTLP_INSECURE=true']);
    const warned = (env: Record<string, string>) => withEnvironment(env, () => settings.otlpExportSettings('traces')).warnings.filter((w) => w.includes('has no scheme'));
    // The exporter reads the signal's INSECURE if set, else the shared one: false here, so TLS.
    assert.equal(warned({ OTEL_EXPORTER_OTLP_ENDPOINT: 'c:4317', OTEL_EXPORTER_OTLP_TRACES_INSECURE: 'false', OTEL_EXPORTER_OTLP_INSECURE: 'true' }).length, 1);
    assert.equal(warned({ OTEL_EXPORTER_OTLP_ENDPOINT: 'c:4317', OTEL_EXPORTER_OTLP_CERTIFICATE: '/etc/otel/ca.pem' }).length, 0, 'TLS asked for');
    assert.match(warned({ OTEL_EXPORTER_OTLP_ENDPOINT: 'unix:///run/otel.sock' })[0] ?? '', /to a plaintext collector, set OTEL_EXPORTER_OTLP_INSECURE=true$/);
  });

  it('an endpoint from the environment is left to the exporter (the specification\'s path rules), and named in reports', () => {
    const { value } = withEnvironment({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json' }, () => settings.otlpExportSettings('traces'));
    assert.equal(value.url, undefined);
    assert.equal(value.destination, 'http://c:4318 (OTEL_EXPORTER_OTLP_ENDPOINT)');
  });

  it('a bad gRPC endpoint for the signal counts as unset: the shared one applies, given to the exporter explicitly', () => {
    const { value, warnings } = withEnvironment(
      { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'ftp://collector:4317', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector.monitoring:4317' },
      () => settings.otlpExportSettings('traces'),
    );
    assert.equal(value.url, 'http://collector.monitoring:4317');
    assert.equal(value.destination, 'http://collector.monitoring:4317 (OTEL_EXPORTER_OTLP_ENDPOINT)');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /ignoring OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="ftp:\/\/collector:4317".*using OTEL_EXPORTER_OTLP_ENDPOINT$/);
  });

  it('over HTTP, a bad endpoint for the signal counts as unset: the shared one applies, with the signal\'s path', () => {
    const { value, warnings } = withEnvironment(
      { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: 'collector:4318', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector.monitoring:4318' },
      () => settings.otlpExportSettings('logs'),
    );
    assert.equal(value.url, 'http://collector.monitoring:4318/v1/logs');
    assert.equal(value.destination, 'http://collector.monitoring:4318 (OTEL_EXPORTER_OTLP_ENDPOINT)');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /ignoring OTEL_EXPORTER_OTLP_LOGS_ENDPOINT="collector:4318": over HTTP it must be a URL.*using OTEL_EXPORTER_OTLP_ENDPOINT$/);
  });

  it('the signal\'s own variables win over the shared ones', () => {
    const { value } = withEnvironment(
      { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_TIMEOUT: '3000', OTEL_EXPORTER_OTLP_LOGS_TIMEOUT: '2000' },
      () => settings.otlpExportSettings('logs'),
    );
    assert.equal(value.protocol, 'grpc');
    assert.equal(value.attemptTimeoutMs, 2000);
  });

  it('OTEL_TRACES_EXPORTER / OTEL_LOGS_EXPORTER: the kit exports OTLP whenever the list names otlp, the console beside it if named; NodeSDK sets up a list without otlp', () => {
    const plans = (env: Record<string, string>) => withEnvironment(env, () => [settings.exportPlan('traces'), settings.exportPlan('logs')]);
    const kit = (console: boolean) => ({ by: 'kit', console });
    assert.deepEqual(plans({}).value, [kit(false), kit(false)]);
    assert.deepEqual(plans({ OTEL_TRACES_EXPORTER: ',', OTEL_LOGS_EXPORTER: ' ' }).value, [kit(false), kit(false)], 'an empty list is unset: otlp, through the kit');
    assert.deepEqual(plans({ OTEL_TRACES_EXPORTER: 'OTLP', OTEL_LOGS_EXPORTER: 'none' }).value, [kit(false), { by: 'nobody' }]);
    assert.deepEqual(plans({ OTEL_TRACES_EXPORTER: 'otlp,console', OTEL_LOGS_EXPORTER: 'console' }).value, [kit(true), { by: 'NodeSDK' }]);
    const withZipkin = plans({ OTEL_TRACES_EXPORTER: 'console,otlp,zipkin,otlp', OTEL_LOGS_EXPORTER: 'otlp,none' });
    assert.deepEqual(withZipkin.value, [kit(true), { by: 'nobody' }], 'for logs, `none` anywhere means none, as NodeSDK reads it');
    assert.deepEqual(withZipkin.warnings, ['ignoring "zipkin" in OTEL_TRACES_EXPORTER: beside otlp the kit sets up console only']);
    const noneBeside = plans({ OTEL_TRACES_EXPORTER: 'console,none' });
    assert.deepEqual(noneBeside.value[0], kit(false), 'for traces, `none` beside others means otlp alone, as NodeSDK reads it');
    assert.match(noneBeside.warnings.join('\n'), /OTEL_TRACES_EXPORTER="console,none" names none beside other exporters: exporting otlp alone/);
    assert.deepEqual(plans({ OTEL_TRACES_EXPORTER: 'none,otlp' }).value[0], { by: 'nobody' }, 'and `none` first means none');
    assert.deepEqual(plans({ OTEL_TRACES_EXPORTER: 'zipkin' }).value[0], { by: 'NodeSDK' }, 'a list without otlp is NodeSDK\'s');
  });

  const bad: Array<[Record<string, string>, RegExp, (s: ReturnType<typeof settings.otlpExportSettings>) => unknown, unknown]> = [
    [{ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/xml' }, /OTEL_EXPORTER_OTLP_PROTOCOL="http\/xml"/, (s) => [s.protocol, s.url], ['grpc', GRPC]],
    // The gRPC exporter would throw on it (checked with 0.301), taking the service down.
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'not a url' }, /OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="not a url"/, (s) => s.url, GRPC],
    // A host with no port: TLS to port 443, and a bare word is likelier a slip (a newcomer's "garbage" and "localhost").
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'localhost' }, /OTEL_EXPORTER_OTLP_ENDPOINT="localhost": over gRPC.*a host:port/, (s) => s.url, GRPC],
    // The exporter would throw on a port past 65535: no telemetry at all.
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:70000' }, /OTEL_EXPORTER_OTLP_ENDPOINT="collector:70000": over gRPC/, (s) => s.url, GRPC],
    // It would send to collector:4317 in plaintext, whatever the user meant.
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://collector:4317' }, /OTEL_EXPORTER_OTLP_ENDPOINT="ftp:\/\/collector:4317".*using http:\/\/otel-collector/, (s) => s.url, GRPC],
    // The HTTP exporter would warn and send to localhost:4318 instead (checked with 0.301).
    [{ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_EXPORTER_OTLP_ENDPOINT: 'not a url' }, /OTEL_EXPORTER_OTLP_ENDPOINT="not a url": over HTTP.*using http:\/\/otel-collector/, (s) => s.url, `${HTTP}/v1/traces`],
    [{ OTEL_BSP_MAX_QUEUE_SIZE: 'lots' }, /'lots' for OTEL_BSP_MAX_QUEUE_SIZE/, (s) => s.batch.maxQueueSize, 16_384],
    [{ OTEL_BSP_MAX_QUEUE_SIZE: '100', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '500' }, /OTEL_BSP_MAX_EXPORT_BATCH_SIZE=500.*using 100/, (s) => s.batch.maxExportBatchSize, 100],
    [{ OTEL_BSP_SCHEDULE_DELAY: '-1' }, /OTEL_BSP_SCHEDULE_DELAY=-1/, (s) => s.batch.scheduledDelayMillis, 200],
    [{ OTEL_EXPORTER_OTLP_TIMEOUT: '2.5' }, /OTEL_EXPORTER_OTLP_TIMEOUT=2.5/, (s) => s.attemptTimeoutMs, 10_000],
    // Past 2^31 - 1 ms, Node fires a timer after 1 ms: every batch would time out at once.
    [{ OTEL_BSP_EXPORT_TIMEOUT: '2147483648' }, /OTEL_BSP_EXPORT_TIMEOUT=2147483648: a timer holds at most 2147483647 ms/, (s) => s.batch.exportTimeoutMillis, 60_000],
  ];
  for (const [env, warning, read, expected] of bad) {
    it(`a bad value is one warning, and the default is used: ${Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ')}`, () => {
      const { value, warnings } = withEnvironment(env, () => settings.otlpExportSettings('traces'));
      assert.deepEqual(read(value), expected);
      assert.equal(warnings.length, 1, JSON.stringify(warnings));
      assert.match(warnings[0]!, warning);
    });
  }

  it('OTEL_EXPORTER_OTLP_HEADERS: each entry gRPC refuses, or that is not key=value, is a warning naming the variable and key, never the value; the exporter reads the rest', () => {
    const env = { OTEL_EXPORTER_OTLP_HEADERS: 'bad key=1,x-ok=v1,broken,x-secret=%C3%A9t%C3%A9', OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'Authorization=Bearer%20t0ken,x-ok=v2,blob-bin=aGk' };
    const { value, warnings } = withEnvironment(env, () => settings.otlpExportSettings('traces'));
    assert.deepEqual(value.exporterEnvironment, { OTEL_EXPORTER_OTLP_HEADERS: 'x-ok=v2,Authorization=Bearer%20t0ken', OTEL_EXPORTER_OTLP_TRACES_HEADERS: undefined });
    assert.deepEqual(warnings, [
      'ignoring the header "bad key" in OTEL_EXPORTER_OTLP_HEADERS: gRPC metadata names are letters, digits, "_", "-", "." and ":", not ending in "-bin"',
      'ignoring entry 3 of OTEL_EXPORTER_OTLP_HEADERS: it must be key=value, both percent-encoded and neither empty',
      'ignoring the header "x-secret" in OTEL_EXPORTER_OTLP_HEADERS: its value has characters gRPC metadata does not take (printable ASCII only)',
      'ignoring the header "blob-bin" in OTEL_EXPORTER_OTLP_TRACES_HEADERS: gRPC metadata names are letters, digits, "_", "-", "." and ":", not ending in "-bin"',
    ]);
    const http = withEnvironment({ ...env, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' }, () => settings.otlpExportSettings('traces'));
    assert.equal(http.value.exporterEnvironment.OTEL_EXPORTER_OTLP_HEADERS, 'x-ok=v2,x-secret=%C3%A9t%C3%A9,Authorization=Bearer%20t0ken,blob-bin=aGk', 'HTTP takes what gRPC does not, and not a space in a name');
    assert.equal(http.warnings.length, 2);
    const good = withEnvironment({ OTEL_EXPORTER_OTLP_HEADERS: 'Authorization=Bearer%20t0ken' }, () => settings.otlpExportSettings('logs'));
    assert.deepEqual([good.value.exporterEnvironment, good.warnings], [{}, []], 'nothing refused: the exporter reads the variables as they are');
  });

  it('span limits: a value the SDK would misread is one warning, and the next variable or the default applies', () => {
    const limits = (env: Record<string, string>) => withEnvironment(env, () => settings.spanLimits());
    const unset = limits({});
    assert.deepEqual([Object.values(unset.value).filter((v) => v !== undefined), unset.warnings], [[], []]);
    const bad = limits({ OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: '-1', OTEL_ATTRIBUTE_COUNT_LIMIT: '64', OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: '0', OTEL_SPAN_EVENT_COUNT_LIMIT: '0' });
    assert.equal(bad.value.attributeCountLimit, 64, 'the general limit, as the specific one was refused');
    assert.equal(bad.value.attributeValueLengthLimit, undefined);
    assert.equal(bad.value.eventCountLimit, 0, 'no events is a limit the specification allows');
    assert.equal(bad.warnings.length, 2, JSON.stringify(bad.warnings));
    assert.match(bad.warnings.join('\n'), /OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT=-1.*\n.*OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT=0/);
  });

  // NodeSDK's own reading (sdk-node 0.301, create-from-env.cjs), which the kit's replaces: not exported, so loaded by path.
  const nodeSdkSpanLimits = createRequire(import.meta.url)(join(ROOT, 'node_modules/@opentelemetry/sdk-node/dist/create-from-env.cjs')).createSpanLimitsFromEnv;

  it('span limits, differential: every value NodeSDK takes and the SDK honours, the kit reads the same', () => {
    const valid: Array<Record<string, string>> = [
      {},
      { OTEL_ATTRIBUTE_COUNT_LIMIT: '64', OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: '4096' },
      { OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: '0', OTEL_ATTRIBUTE_COUNT_LIMIT: '64', OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT: '1', OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: '9' },
      { OTEL_SPAN_EVENT_COUNT_LIMIT: '0', OTEL_SPAN_LINK_COUNT_LIMIT: '3', OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT: '5', OTEL_SPAN_ATTRIBUTE_PER_EVENT_COUNT_LIMIT: '6', OTEL_SPAN_ATTRIBUTE_PER_LINK_COUNT_LIMIT: '7' },
      { OTEL_LINK_ATTRIBUTE_COUNT_LIMIT: '2', OTEL_SPAN_ATTRIBUTE_PER_LINK_COUNT_LIMIT: '7' },
    ];
    for (const env of valid) {
      const kit = withEnvironment(env, () => settings.spanLimits());
      assert.deepEqual(kit.value, withEnvironment(env, () => nodeSdkSpanLimits()).value, JSON.stringify(env));
      assert.deepEqual(kit.warnings, []);
    }
  });

  it('headers, differential: what the exporter reads through the kit\'s override is what core\'s parser reads from the variables, less the entries refused', () => {
    const shared = 'a=1,url=https%3A%2F%2Fh%2Fp%3Fq%3D1,semi=x%3By,Authorization=Bearer%20t0ken,bad key=1,x-cafe=caf%C3%A9';
    const own = 'a=2,eq=k%3Dv,x-trim=  trimmed  ,%20spaced%20=1';
    for (const protocol of ['grpc', 'http/protobuf']) {
      const { value } = withEnvironment({ OTEL_EXPORTER_OTLP_PROTOCOL: protocol, OTEL_EXPORTER_OTLP_HEADERS: shared, OTEL_EXPORTER_OTLP_TRACES_HEADERS: own }, () => settings.otlpExportSettings('traces'));
      const asExporterReads = { ...parseKeyPairsIntoRecord(shared), ...parseKeyPairsIntoRecord(own) };
      const refused = protocol === 'grpc' ? ['bad key', 'x-cafe', ' spaced '] : ['bad key', ' spaced '];
      for (const key of refused) delete asExporterReads[key];
      assert.deepEqual(parseKeyPairsIntoRecord(value.exporterEnvironment.OTEL_EXPORTER_OTLP_HEADERS), asExporterReads, protocol);
    }
  });

  it('OTEL_METRICS_EXPORTER: unset or none, no metrics; otlp is NodeSDK\'s, over http/protobuf unless a protocol is set, which is said', () => {
    const exported = (env: Record<string, string>) => withEnvironment(env, () => settings.metricsExported());
    assert.deepEqual(exported({}), { value: false, warnings: [] });
    assert.deepEqual(exported({ OTEL_METRICS_EXPORTER: 'None' }), { value: false, warnings: [] });
    const otlp = exported({ OTEL_METRICS_EXPORTER: 'otlp' });
    assert.equal(otlp.value, true);
    assert.match(otlp.warnings.join(), /OTEL_METRICS_EXPORTER names otlp: NodeSDK exports metrics over http\/protobuf/);
    assert.deepEqual(exported({ OTEL_METRICS_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'grpc' }), { value: true, warnings: [] });
  });

  it('over gRPC, a unix:/// socket is left to the exporter, as the gRPC client takes it', () => {
    const { value, warnings } = withEnvironment({ OTEL_EXPORTER_OTLP_ENDPOINT: 'unix:///var/run/otel.sock', OTEL_EXPORTER_OTLP_INSECURE: 'true' }, () => settings.otlpExportSettings('logs'));
    assert.deepEqual([value.url, warnings], [undefined, []]);
    const http = withEnvironment({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_ENDPOINT: 'unix:///var/run/otel.sock' }, () => settings.otlpExportSettings('logs'));
    assert.equal(http.value.url, `${HTTP}/v1/logs`, 'not over HTTP');
  });

  it('OTEL_EXPORTER_OTLP_INSECURE that is neither true nor false, and OTEL_CONFIG_FILE, are warnings (the exporter would take "yes" for false without a word)', () => {
    const insecure = withEnvironment({ OTEL_EXPORTER_OTLP_INSECURE: 'yes' }, () => settings.otlpExportSettings('traces'));
    assert.equal(insecure.warnings.length, 1);
    assert.match(insecure.warnings[0]!, /OTEL_EXPORTER_OTLP_INSECURE/);
    const file = withEnvironment({ OTEL_CONFIG_FILE: '/etc/otel.yaml' }, () => settings.warnIfConfigFileGiven());
    assert.deepEqual(file.warnings, ['ignoring OTEL_CONFIG_FILE: the kit does not read a configuration file; the OTEL_* variables apply']);
  });

  it('case: the names NodeSDK reads are handed to it lowercased, as the specification reads them; OTEL_LOG_LEVEL is kept from it', () => {
    const env = { OTEL_TRACES_SAMPLER: 'Always_Off', OTEL_PROPAGATORS: 'TraceContext, Baggage', OTEL_TRACES_EXPORTER: 'Console', OTEL_LOG_LEVEL: 'debug' };
    assert.deepEqual(withEnvironment(env, () => settings.nodeSdkEnvironment(false)).value, {
      OTEL_LOG_LEVEL: undefined,
      OTEL_TRACES_SAMPLER: 'always_off',
      OTEL_PROPAGATORS: 'tracecontext,baggage',
      OTEL_TRACES_EXPORTER: 'console',
    });
    // Metrics are NodeSDK's to export: its exporter gets the headers without what its transport refuses.
    const metrics = withEnvironment({ OTEL_EXPORTER_OTLP_HEADERS: 'x-tenant=acme,bad key=1', OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'grpc' }, () => settings.nodeSdkEnvironment(true));
    assert.equal(metrics.value.OTEL_EXPORTER_OTLP_HEADERS, 'x-tenant=acme');
    assert.ok('OTEL_EXPORTER_OTLP_METRICS_HEADERS' in metrics.value);
  });

  it('EXPORT_REPORT_INTERVAL_MS: how often losses are summed up; a bad value is a warning', () => {
    assert.equal(withEnvironment({ EXPORT_REPORT_INTERVAL_MS: '1000' }, () => settings.exportReportIntervalMs()).value, 1000);
    const bad = withEnvironment({ EXPORT_REPORT_INTERVAL_MS: 'soon' }, () => settings.exportReportIntervalMs());
    assert.equal(bad.value, 30_000);
    assert.equal(bad.warnings.length, 1);
    assert.match(bad.warnings[0]!, /EXPORT_REPORT_INTERVAL_MS/);
  });

  it('one attempt never outlasts the batch\'s export timeout', () => {
    const { value } = withEnvironment({ OTEL_EXPORTER_OTLP_TIMEOUT: '30000', OTEL_BSP_EXPORT_TIMEOUT: '5000' }, () => settings.otlpExportSettings('traces'));
    assert.equal(value.attemptTimeoutMs, 5000);
  });
});

describe('the running service with bad configuration', () => {
  it('exits 1 with one line naming the variable, for the service\'s own settings', async () => {
    const { code, stderr, stdout } = await runService({ PORT: 'eighty' });
    assert.equal(code, 1);
    assert.equal(stdout, '', 'nothing started, nothing logged');
    assert.equal(stderr, 'configuration error: PORT must be a whole number from 1 to 65535, got "eighty"\n');
  });

  it('does not repeat the Sentry DSN it refuses', async () => {
    const { code, stderr } = await runService({ SENTRY_DSN: 'secretkey@example' });
    assert.equal(code, 1);
    assert.equal(stderr.includes('secretkey'), false, stderr);
  });

  it('serves with bad OTEL_* values: each named in a warning at start-up (the exporters\' own too), the defaults used, spans still exported', async () => {
    const receiver = await OtlpReceiver.start();
    const bad = {
      OTEL_SDK_DISABLED: '1',
      // Not a name: the API's enum maps the number back to one ('INFO'), which once silenced every report.
      OTEL_LOG_LEVEL: '60',
      OTEL_TRACES_SAMPLER: 'sometimes',
      OTEL_BSP_MAX_QUEUE_SIZE: 'lots',
      OTEL_EXPORTER_OTLP_COMPRESSION: 'zip',
      OTEL_EXPORTER_OTLP_TIMEOUT: 'abc',
      OTEL_RESOURCE_ATTRIBUTES: 'k8s.pod.name=a=b', // "=" not percent-encoded: discarded whole
      OTEL_NODE_RESOURCE_DETECTORS: 'aws', // not one NodeSDK knows either
    };
    const service = await Service.start({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, ...FAST_EXPORT, ...bad, OTEL_PROPAGATORS: 'b3' });
    try {
      const warnings = () => service.logs.filter((line) => (line.level === 'warn' || line.level === 'error') && line.component === 'telemetry');
      for (const variable of Object.keys(bad)) {
        assert.ok(warnings().some((line) => line.msg.includes(variable)), `a warning names ${variable}: ${JSON.stringify(warnings().map((line) => line.msg))}`);
      }
      const atStart = warnings().length;
      for (const said of [...Object.keys(bad), '"60"']) {
        assert.equal(warnings().filter((line) => line.msg.includes(said)).length, 1, `${said} said once: ${JSON.stringify(warnings().map((line) => line.msg))}`);
      }

      // b3: the single-header form, as a mesh sidecar sends it.
      const { traceId, parentId } = newTraceparent();
      assert.equal((await service.get('/users/7', { b3: `${traceId}-${parentId}-1` })).status, 200);
      const spans = await receiver.waitForSpans(() => receiver.trace(traceId).length >= 2, 'the spans of the b3-propagated request');
      const server = spans.find((span) => span.traceId === traceId && span.kind === SPAN_KIND.SERVER)!;
      assert.equal(server.parentSpanId, parentId, 'the b3 parent was continued');
      assert.equal(warnings().length, atStart, 'said once, at start-up, not per request or export');
      assert.equal(await service.stop(), 0);
    } finally {
      await service.stop();
      await receiver.close();
    }
  });

  it('a bad OTEL_EXPORTER_OTLP_* value, or a warning the exporter gives, is said once even while the collector is away (each retry makes a fresh exporter, which reads it again)', async () => {
    // A collector that hangs up on every connection: each attempt is UNAVAILABLE, retried on a fresh exporter.
    let attempts = 0;
    const hangingUp = createTcpServer((socket) => {
      attempts += 1;
      socket.destroy();
    });
    const port = await listenOnLoopback(hangingUp);
    const service = await Service.start({
      // A path the gRPC exporter warns about (without naming the variable) each time it is built,
      // and a certificate file it fails to read at each exporter's first send.
      OTEL_EXPORTER_OTLP_ENDPOINT: `https://127.0.0.1:${port}/otlp`,
      OTEL_EXPORTER_OTLP_CERTIFICATE: '/nonexistent/ca.pem',
      ...FAST_EXPORT,
      OTEL_EXPORTER_OTLP_COMPRESSION: 'zip',
      OTEL_LOGS_EXPORTER: 'none',
      // Said, yet no metrics: the SDK's report of each failed export stays left out.
      OTEL_METRICS_EXPORTER: 'none',
    });
    try {
      assert.equal((await service.get('/users/7')).status, 200);
      await waitFor(() => (service.logs.some((line) => String(line.msg).startsWith('span export is failing')) ? true : undefined), 'the failing export reported');
      // Attempts at 0, ~1 and ~3 s.
      await waitFor(() => attempts >= 3 || undefined, 'three attempts to export', 10_000);
      for (const said of ['OTEL_EXPORTER_OTLP_COMPRESSION', 'URL path should not be set', 'Failed to read root certificate file']) {
        const warnings = service.logs.filter((line) => line.level === 'warn' && String(line.msg).includes(said));
        assert.equal(warnings.length, 1, `${said}: ${JSON.stringify(warnings.map((line) => line.msg))}`);
      }
      const sdkErrors = service.logs.filter((line) => line.level === 'error' && line.component === 'telemetry');
      assert.deepEqual(sdkErrors, [], 'a failed export is the kit\'s report alone');
    } finally {
      await service.stop();
      hangingUp.close();
    }
  });

  it('OTEL_EXPORTER_OTLP_HEADERS with an entry gRPC refuses: a warning naming it, and the rest sent with every span (the exporter would throw as it was built: no telemetry at all), NodeSDK\'s metrics exporter too', async () => {
    const receiver = await OtlpReceiver.start();
    const service = await Service.start({
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      ...FAST_EXPORT,
      OTEL_EXPORTER_OTLP_HEADERS: 'x-tenant=acme,bad key=s3cret',
      OTEL_LOGS_EXPORTER: 'none',
      OTEL_METRICS_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'grpc',
    });
    try {
      const { traceId, traceparent } = newTraceparent();
      assert.equal((await service.get('/users/7', { traceparent })).status, 200);
      await receiver.waitForSpans(() => receiver.trace(traceId).length >= 2, 'the request\'s spans');
      assert.ok(receiver.metadata.length > 0 && receiver.metadata.every((headers) => headers['x-tenant'] === 'acme' && !('bad key' in headers)), JSON.stringify(receiver.metadata));
      const warnings = service.logs.filter((line) => line.level === 'warn' && line.component === 'telemetry');
      assert.deepEqual(warnings.map((line) => line.msg), ['ignoring the header "bad key" in OTEL_EXPORTER_OTLP_HEADERS: gRPC metadata names are letters, digits, "_", "-", "." and ":", not ending in "-bin"']);
      assert.doesNotMatch(JSON.stringify(service.logs), /s3cret/);
      assert.equal(await service.stop(), 0);
    } finally {
      await service.stop();
      await receiver.close();
    }
  });

  it('OTEL_ATTRIBUTE_COUNT_LIMIT=-1 and OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT=0: said at start-up, and the spans keep their attributes (NodeSDK alone dropped every one, and warned for each)', async () => {
    const receiver = await OtlpReceiver.start();
    const service = await Service.start({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, ...FAST_EXPORT, OTEL_ATTRIBUTE_COUNT_LIMIT: '-1', OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: '0' });
    try {
      const warnings = () => service.logs.filter((line) => line.level === 'warn' && line.component === 'telemetry').map((line) => String(line.msg));
      const atStart = warnings();
      const { traceId, traceparent } = newTraceparent();
      for (let i = 0; i < 3; i += 1) assert.equal((await service.get('/users/123', { traceparent })).status, 200);
      const spans = await receiver.waitForSpans(() => receiver.trace(traceId).length >= 12, 'the requests\' spans');
      await receiver.waitForLogs((logs) => logs.some((log) => log.traceId === traceId), 'their log records');
      const getUser = spans.find((span) => span.traceId === traceId && span.name === 'getUser')!;
      assert.equal(getUser.attributes['user.id'], '123');
      assert.ok(atStart.some((msg) => msg.startsWith('ignoring OTEL_ATTRIBUTE_COUNT_LIMIT=-1')) && atStart.some((msg) => msg.startsWith('ignoring OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT=0')), JSON.stringify(atStart));
      // The kit's for spans, and NodeSDK's own for log records, which it checks: each names its variable.
      assert.ok(atStart.every((msg) => /OTEL_ATTRIBUTE_(COUNT|VALUE_LENGTH)_LIMIT/.test(msg)), JSON.stringify(atStart));
      assert.deepEqual(warnings(), atStart, 'nothing more once requests are traced: no warning per attribute');
      assert.equal(await service.stop(), 0);
    } finally {
      await service.stop();
      await receiver.close();
    }
  });

  it('OTEL_TRACES_EXPORTER=otlp,console: the kit\'s OTLP export as without console, and each span on the console too', async () => {
    const receiver = await OtlpReceiver.start();
    const output = join(mkdtempSync(join(tmpdir(), 'console-exporter-')), 'service.log');
    const service = await Service.start(
      { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, ...FAST_EXPORT, OTEL_TRACES_EXPORTER: 'otlp,console', OTEL_LOGS_EXPORTER: 'none' },
      { outputFile: output },
    );
    try {
      const { traceId, traceparent } = newTraceparent();
      assert.equal((await service.get('/users/7', { traceparent })).status, 200);
      await receiver.waitForSpans(() => receiver.trace(traceId).length >= 2, 'the request\'s spans over OTLP');
      await waitFor(() => readFileSync(output, 'utf8').includes(`traceId: '${traceId}'`) || undefined, 'the console exporter\'s print of a span');
      assert.ok(!service.logs.some((line) => line.level === 'warn' && line.component === 'telemetry'), 'no warning');
      assert.equal(await service.stop(), 0);
    } finally {
      await service.stop();
      await receiver.close();
    }
  });

  it('OTEL_TRACES_EXPORTER=console: the kit\'s failed log exports are its own report alone, not also the SDK\'s stack trace per batch', async () => {
    const hangingUp = createTcpServer((socket) => socket.destroy());
    const port = await listenOnLoopback(hangingUp);
    const output = join(mkdtempSync(join(tmpdir(), 'console-exporter-')), 'service.log');
    const service = await Service.start(
      { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`, ...FAST_EXPORT, OTEL_TRACES_EXPORTER: 'console', OTEL_BLRP_EXPORT_TIMEOUT: '1500', EXPORT_REPORT_INTERVAL_MS: '300' },
      { outputFile: output },
    );
    try {
      assert.equal((await service.get('/users/123')).status, 200);
      // Reported once the batch gave up, when the processor also hands its error to the SDK's handler.
      await waitFor(() => service.logs.find((line) => line.msg === 'log records dropped since the last report'), 'the lost log records reported', 10_000);
      await sleep(300);
      const sdkErrors = service.logs.filter((line) => line.level === 'error' && line.component === 'telemetry');
      assert.deepEqual(sdkErrors.map((line) => String(line.msg).slice(0, 120)), []);
    } finally {
      await service.stop();
      hangingUp.close();
    }
  });

  it('OTEL_LOG_LEVEL=debug: the SDK\'s messages as report lines, no stack trace of one logger replacing another, spans exported', async () => {
    const receiver = await OtlpReceiver.start();
    const service = await Service.start({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, ...FAST_EXPORT, OTEL_LOG_LEVEL: 'debug', OTEL_SDK_DISABLED: 'yes' });
    try {
      const { traceId, parentId } = newTraceparent();
      assert.equal((await service.get('/users/7', { traceparent: `00-${traceId}-${parentId}-01` })).status, 200);
      await receiver.waitForSpans(() => receiver.trace(traceId).length >= 2, 'the request\'s spans');
      assert.ok(service.logs.some((line) => line.level === 'debug' && line.component === 'telemetry'), 'the SDK\'s debug messages, as report lines');
      assert.doesNotMatch(service.stderr + JSON.stringify(service.logs), /logger will (overwrite|be overwritten)|at DiagAPI\.setLogger/);
      const said = service.logs.filter((line) => line.level === 'warn' && String(line.msg).includes('OTEL_SDK_DISABLED'));
      assert.equal(said.length, 1, 'a bad OTEL_SDK_DISABLED is still a warning, once');
      assert.equal(await service.stop(), 0);
    } finally {
      await service.stop();
      await receiver.close();
    }
  });

  it('OTEL_TRACES_EXPORTER=zipkin: an export NodeSDK builds keeps the SDK\'s own report of its failures', async () => {
    const nobody = await freePort();
    const service = await Service.start({ ...FAST_EXPORT, OTEL_TRACES_EXPORTER: 'zipkin', OTEL_EXPORTER_ZIPKIN_ENDPOINT: `http://127.0.0.1:${nobody}/api/v2/spans`, OTEL_LOGS_EXPORTER: 'none' });
    try {
      assert.equal((await service.get('/users/7')).status, 200);
      const failed = await waitFor(() => service.logs.find((line) => line.level === 'error' && line.component === 'telemetry'), 'the SDK to say the zipkin export failed');
      assert.match(String(failed.msg), /ECONNREFUSED|export failed/i);
      assert.equal(await service.stop(), 0);
    } finally {
      await service.stop();
    }
  });

  it('an endpoint the gRPC exporter would throw on: a warning, and the service serves', async () => {
    const service = await Service.start({ OTEL_EXPORTER_OTLP_ENDPOINT: 'not a url', OTEL_LOGS_EXPORTER: 'none' });
    try {
      assert.equal((await service.get('/users/7')).status, 200);
      assert.ok(service.logs.some((line) => line.level === 'warn' && line.msg.startsWith('ignoring OTEL_EXPORTER_OTLP_ENDPOINT="not a url"')));
      assert.equal(await service.stop(), 0);
    } finally {
      await service.stop();
    }
  });
});

describe('case', () => {
  it('OTEL_TRACES_SAMPLER=Always_Off: nothing recorded, no warning (NodeSDK alone sampled every trace)', async () => {
    const receiver = await OtlpReceiver.start();
    const service = await Service.start({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, ...FAST_EXPORT, OTEL_TRACES_SAMPLER: 'Always_Off', OTEL_LOGS_EXPORTER: 'none' });
    try {
      assert.equal((await service.get('/users/7')).status, 200);
      assert.equal(await service.stop(), 0, 'the shutdown flushes whatever was recorded');
      assert.deepEqual(receiver.spans, []);
      assert.deepEqual(service.logs.filter((line) => (line.level === 'warn' || line.level === 'error') && line.component === 'telemetry').map((line) => line.msg), []);
    } finally {
      await service.stop();
      await receiver.close();
    }
  });

  it('OTEL_PROPAGATORS=TraceContext: the caller\'s trace continued, no warning (NodeSDK alone dropped the name)', async () => {
    const receiver = await OtlpReceiver.start();
    const service = await Service.start({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, ...FAST_EXPORT, OTEL_PROPAGATORS: 'TraceContext', OTEL_LOGS_EXPORTER: 'none' });
    try {
      const { traceId, parentId, traceparent } = newTraceparent();
      assert.equal((await service.get('/users/7', { traceparent })).status, 200);
      const spans = await receiver.waitForSpans(() => receiver.trace(traceId).length >= 2, 'the request\'s spans, in the caller\'s trace');
      assert.equal(spans.find((span) => span.traceId === traceId && span.kind === SPAN_KIND.SERVER)!.parentSpanId, parentId);
      assert.deepEqual(service.logs.filter((line) => (line.level === 'warn' || line.level === 'error') && line.component === 'telemetry').map((line) => line.msg), []);
      assert.equal(await service.stop(), 0);
    } finally {
      await service.stop();
      await receiver.close();
    }
  });
});

describe('OTEL_SDK_DISABLED=true', () => {
  // As docs/configuration.md says: NodeSDK sets no propagator when disabled, where the
  // specification keeps those of OTEL_PROPAGATORS. Here so that the page stays true.
  it('passes no trace context on: the next service starts a trace of its own', async () => {
    const seen: Array<Record<string, string | string[] | undefined>> = [];
    const downstream = createServer((request, response) => {
      seen.push(request.headers);
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"id":"1","name":"User 1"}');
    });
    const port = await listenOnLoopback(downstream);
    const service = await Service.start({ OTEL_SDK_DISABLED: 'true', DOWNSTREAM_URL: `http://127.0.0.1:${port}` });
    try {
      const { traceparent } = newTraceparent();
      assert.equal((await service.get('/chain/1', { traceparent })).status, 200);
      assert.equal(seen.length, 1);
      assert.equal(seen[0]!.traceparent, undefined);
    } finally {
      await service.stop();
      await closeHttpServer(downstream);
    }
  });
});

describe('OTEL_PROPAGATORS=b3multi', () => {
  it('continues X-B3-* headers and sends them on to the next service', async () => {
    const seen: Array<Record<string, string | string[] | undefined>> = [];
    const downstream = createServer((request, response) => {
      seen.push(request.headers);
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"id":"1","name":"User 1"}');
    });
    const port = await listenOnLoopback(downstream);
    // Traced (with OTEL_TRACES_EXPORTER=none NodeSDK records no spans, so there would be no client span to be the parent).
    const receiver = await OtlpReceiver.start();
    const service = await Service.start({ OTEL_PROPAGATORS: 'b3multi', OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_LOGS_EXPORTER: 'none', DOWNSTREAM_URL: `http://127.0.0.1:${port}` });
    try {
      const { traceId, parentId } = newTraceparent();
      assert.equal((await service.get('/chain/1', { 'x-b3-traceid': traceId, 'x-b3-spanid': parentId, 'x-b3-sampled': '1' })).status, 200);
      const [headers] = seen;
      assert.equal(headers?.['x-b3-traceid'], traceId, 'the same trace');
      assert.match(String(headers?.['x-b3-spanid']), /^[0-9a-f]{16}$/);
      assert.notEqual(headers?.['x-b3-spanid'], parentId, 'with our client span as the parent');
      assert.equal(headers?.['x-b3-sampled'], '1');
      assert.equal(headers?.traceparent, undefined, 'and only b3');
    } finally {
      await service.stop();
      await receiver.close();
      await closeHttpServer(downstream);
    }
  });
});

describe('the tests\' own environment', () => {
  it('does not leak into the service they start: a developer\'s OTEL_* stays in their shell', async () => {
    const receiver = await OtlpReceiver.start();
    process.env.OTEL_TRACES_EXPORTER = 'none';
    process.env.OTEL_SDK_DISABLED = 'true';
    const service = await Service.start({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, ...FAST_EXPORT }).finally(() => {
      delete process.env.OTEL_TRACES_EXPORTER;
      delete process.env.OTEL_SDK_DISABLED;
    });
    try {
      const { traceparent, traceId } = newTraceparent();
      assert.equal((await service.get('/users/1', { traceparent })).status, 200);
      await receiver.waitForSpans(() => receiver.trace(traceId).length >= 2, 'the spans, exported as by default');
    } finally {
      await service.stop();
      await receiver.close();
    }
  });
});

for (const protocol of ['http/protobuf', 'http/json']) {
  describe(`OTEL_EXPORTER_OTLP_PROTOCOL=${protocol}: spans and log records over OTLP/HTTP, through the real collector`, () => {
    let sentry: SentryIngest;
    let collector: Collector;
    let service: Service;

    before(async () => {
      sentry = await SentryIngest.start();
      collector = await Collector.start(sentry.collectorEnv());
      // Only the base URL, as the OpenTelemetry Operator sets it: the exporters add /v1/traces and /v1/logs.
      service = await Service.start({
        OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.httpEndpoint,
        ...FAST_EXPORT,
      });
    });
    after(async () => {
      await service?.stop();
      await collector?.stop();
      await sentry?.close();
    });

    it('delivers the /users/123 trace and its log records', async () => {
      const { traceparent, traceId } = newTraceparent();
      assert.equal((await service.get('/users/123', { traceparent })).status, 200);
      const spans = await sentry.waitFor(() => (sentry.trace(traceId).length >= 4 ? sentry.trace(traceId) : undefined), 'the four spans');
      assert.deepEqual(spans.map((span) => span.name).sort(), ['GET /users/:id', 'errorWork', 'getUser', 'middleWork']);
      const records = await sentry.waitFor(() => {
        const found = sentry.logs.filter((log) => log.traceId === traceId && log.body === 'middle work started');
        return found.length > 0 ? found : undefined;
      }, 'the log record "middle work started"');
      assert.equal(records[0]!.attributes['resource.service.name'], 'users-api');
      assert.deepEqual(service.logs.filter((line) => line.level === 'warn' && line.trace_id === undefined), [], 'no warning, no export failure');
    });
  });
}
