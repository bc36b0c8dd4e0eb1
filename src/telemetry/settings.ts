import { diag } from '@opentelemetry/api';
import { getBooleanFromEnv, getNumberFromEnv, getStringFromEnv, getStringListFromEnv, parseKeyPairsIntoRecord } from '@opentelemetry/core';
import type { SpanLimits } from '@opentelemetry/sdk-trace';

/*
 * The few OTEL_* settings the kit reads itself, because it builds the OTLP
 * export (retries, loss reports, batch sizes) that NodeSDK would otherwise
 * build. NodeSDK and the exporters read every other variable. Read with
 * @opentelemetry/core's helpers and under the specification's rule: a bad
 * value is a warning (through `diag`, so call routeDiagnostics first) and the
 * default is used. A shared OTEL_EXPORTER_OTLP_* is read for spans and for
 * log records (and again by each exporter): the warning is said once
 * (diagnostics.ts).
 */

export type Signal = 'traces' | 'logs';
export type OtlpProtocol = 'grpc' | 'http/protobuf' | 'http/json';
const PROTOCOLS: readonly string[] = ['grpc', 'http/protobuf', 'http/json'];

/** The collector's Service in the cluster: OTLP/gRPC on 4317 (the kit's default protocol), OTLP/HTTP on 4318. */
export const DEFAULT_OTLP_GRPC_ENDPOINT = 'http://otel-collector.observability.svc.cluster.local:4317';
export const DEFAULT_OTLP_HTTP_ENDPOINT = 'http://otel-collector.observability.svc.cluster.local:4318';

/** How a batch processor queues and sends (OTEL_BSP_* for spans, OTEL_BLRP_* for log records). */
export interface BatchSettings {
  maxQueueSize: number;
  maxExportBatchSize: number;
  scheduledDelayMillis: number;
  exportTimeoutMillis: number;
}

export interface OtlpExportSettings {
  protocol: OtlpProtocol;
  /** Passed to the exporter only where it must not read the environment's: none given, one refused (exporterUrl), or the shared one standing in for the signal's. */
  url: string | undefined;
  /** Where the data goes, as the reports name it: the URL, or the variable that gives it. */
  destination: string;
  /** One attempt's deadline (OTEL_EXPORTER_OTLP_[SIGNAL_]TIMEOUT, default 10 s), given to the exporter as well. */
  attemptTimeoutMs: number;
  batch: BatchSettings;
  /** What the exporter must read in place of the environment's variables while it is built: nothing, or headers without the ones refused (headerOverrides). */
  exporterEnvironment: Record<string, string | undefined>;
}

/**
 * Spans: measured (docs/performance.md, both rounds), a batch leaves every 200 ms,
 * so at a steady rate batches stay small and p99 stays near the untraced
 * service's. At saturation one export is in flight at a time and a busy
 * collector takes each in about the same time whatever its size: batches of up
 * to 2048 spans (~0.6 MB, under gRPC's 4 MiB) lost 0.6–0.7% of the spans where
 * the specification's 512 lost 2.8–6.6%, and a queue of 16384 (~30 MB at most)
 * rode out the rest where 8192 lost 0.1–0.5%. Retries stop within the export
 * timeout, so the batch under way rides out a collector restart of up to about
 * 50 s (no attempt starts that could end past the 60 s; one takes up to 10 s),
 * and spans that end meanwhile wait in the queue until it is full. A pod with a small memory
 * limit saturates far lower and sets a smaller queue (4096) with
 * OTEL_BSP_MAX_QUEUE_SIZE (k8s/base/app/users.yaml says why).
 */
const SPAN_BATCH: BatchSettings = { maxQueueSize: 16_384, maxExportBatchSize: 2048, scheduledDelayMillis: 200, exportTimeoutMillis: 60_000 };
const LOG_BATCH: BatchSettings = { maxQueueSize: 2048, maxExportBatchSize: 512, scheduledDelayMillis: 1000, exportTimeoutMillis: 60_000 };

/**
 * Who exports a signal: the kit (its OTLP export, and the SDK's console
 * exporter beside it if `console` is named), nobody, or NodeSDK (a list
 * without `otlp`, such as `console` or `zipkin`, is NodeSDK's to set up).
 */
export type ExportPlan = { by: 'kit'; console: boolean } | { by: 'nobody' } | { by: 'NodeSDK' };

/**
 * OTEL_TRACES_EXPORTER (or OTEL_LOGS_EXPORTER), a list, each name once. The
 * kit exports whenever the list names `otlp` (or is unset); any other name
 * beside `otlp` but `console` is one warning. `none` means what it means to
 * NodeSDK: first in the list, no traces; anywhere, no logs; elsewhere for
 * traces, `otlp` alone (with a warning, as NodeSDK's).
 */
export function exportPlan(signal: Signal): ExportPlan {
  const variable = `OTEL_${signal.toUpperCase()}_EXPORTER`;
  // An empty list (",") is unset, as NodeSDK reads it: the default, otlp.
  const listed = getStringListFromEnv(variable)?.map((name) => name.toLowerCase()) ?? [];
  const names = listed.length > 0 ? [...new Set(listed)] : ['otlp'];
  if (names[0] === 'none' || (signal === 'logs' && names.includes('none'))) return { by: 'nobody' };
  if (names.includes('none')) {
    diag.warn(`${variable}="${names.join(',')}" names none beside other exporters: exporting otlp alone, as NodeSDK would`);
    return { by: 'kit', console: false };
  }
  if (!names.includes('otlp')) return { by: 'NodeSDK' };
  for (const name of names.filter((n) => n !== 'otlp' && n !== 'console')) diag.warn(`ignoring "${name}" in ${variable}: beside otlp the kit sets up console only`);
  return { by: 'kit', console: names.includes('console') };
}

/**
 * OTEL_METRICS_EXPORTER: unset (or `none`) means no metrics here: Sentry takes
 * no OTLP metrics and the collector has no metrics pipeline. Any other list is
 * NodeSDK's to set up, with its own defaults: over OTLP that is http/protobuf
 * to localhost:4318, not the kit's gRPC to the cluster's collector, so it is
 * said once (test/config.test.mts, "OTEL_METRICS_EXPORTER").
 */
export function metricsExported(): boolean {
  const names = getStringListFromEnv('OTEL_METRICS_EXPORTER')?.map((name) => name.toLowerCase()) ?? [];
  if (names.length === 0 || names.includes('none')) return false;
  const protocolSet = ['OTEL_EXPORTER_OTLP_METRICS_PROTOCOL', 'OTEL_EXPORTER_OTLP_PROTOCOL'].some((name) => getStringFromEnv(name) !== undefined);
  if (names.includes('otlp') && !protocolSet) {
    diag.warn('OTEL_METRICS_EXPORTER names otlp: NodeSDK exports metrics over http/protobuf (OTEL_EXPORTER_OTLP_METRICS_PROTOCOL unset), not over the gRPC the kit uses for spans and log records, and this project\'s collector has no metrics pipeline');
  }
  return true;
}

export function otlpExportSettings(signal: Signal): OtlpExportSettings {
  const SIGNAL = signal.toUpperCase();
  const protocol = signalProtocol(SIGNAL, 'grpc');
  const batch = batchSettings(signal === 'traces' ? 'OTEL_BSP' : 'OTEL_BLRP', signal === 'traces' ? SPAN_BATCH : LOG_BATCH);
  const timeout = milliseconds(`OTEL_EXPORTER_OTLP_${SIGNAL}_TIMEOUT`) ?? milliseconds('OTEL_EXPORTER_OTLP_TIMEOUT') ?? 10_000;
  const unaskedTls = protocol === 'grpc' && !readInsecure(SIGNAL) && !tlsFilesGiven(SIGNAL);
  return {
    protocol,
    ...exporterUrl(signal, protocol, unaskedTls),
    // One attempt never outlasts the batch's own export timeout.
    attemptTimeoutMs: Math.min(timeout, batch.exportTimeoutMillis),
    batch,
    exporterEnvironment: headerOverrides(signal, protocol),
  };
}

/** The signal's variable if set, else the shared one: how the OTLP exporters read each setting. */
function ownOrShared(SIGNAL: string, setting: string): string {
  const own = `OTEL_EXPORTER_OTLP_${SIGNAL}_${setting}`;
  return getStringFromEnv(own) !== undefined ? own : `OTEL_EXPORTER_OTLP_${setting}`;
}

/**
 * OTEL_EXPORTER_OTLP_[SIGNAL_]INSECURE, which the gRPC exporter reads for an
 * endpoint without a scheme. It takes anything but "true" for false, silently,
 * where the specification asks for a warning; core's reader gives it.
 */
function readInsecure(SIGNAL: string): boolean {
  return getBooleanFromEnv(ownOrShared(SIGNAL, 'INSECURE'));
}

/** Whether a certificate or client key asks for TLS. */
function tlsFilesGiven(SIGNAL: string): boolean {
  return ['CERTIFICATE', 'CLIENT_KEY', 'CLIENT_CERTIFICATE'].some((setting) => getStringFromEnv(ownOrShared(SIGNAL, setting)) !== undefined);
}

/** grpc-js's rules for metadata (src/metadata.ts, LEGAL_KEY_REGEX and LEGAL_NON_BINARY_VALUE_REGEX, checked on the key lowercased); a "-bin" key takes bytes, which a variable cannot give. */
const GRPC_KEY = /^[:0-9a-z_.-]+$/;
const GRPC_VALUE = /^[ -~]*$/;
/** An HTTP field name is a token (RFC 9110, 5.1 and 5.6.2); a value has no control character but tab, as Node's http checks (checkInvalidHeaderChar). */
const HTTP_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HTTP_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** Why the transport would refuse this header, or undefined; never quoting the value. */
function headerRefusal(protocol: OtlpProtocol, key: string, value: string): string | undefined {
  if (protocol === 'grpc') {
    const name = key.toLowerCase();
    if (!GRPC_KEY.test(name) || name.endsWith('-bin')) return 'gRPC metadata names are letters, digits, "_", "-", "." and ":", not ending in "-bin"';
    if (!GRPC_VALUE.test(value)) return 'its value has characters gRPC metadata does not take (printable ASCII only)';
    return undefined;
  }
  if (!HTTP_NAME.test(key)) return 'an HTTP header name is a token: no spaces, no separators';
  if (!HTTP_VALUE.test(value)) return 'its value has control characters, which HTTP does not take';
  return undefined;
}

/**
 * OTEL_EXPORTER_OTLP_HEADERS and OTEL_EXPORTER_OTLP_[SIGNAL_]HEADERS, read as
 * the exporters read them (core's parseKeyPairsIntoRecord, the signal's over
 * the shared). One entry that the transport refuses made the 0.301 gRPC
 * exporter throw as it was built, so no telemetry at all, and the HTTP one
 * fail every export; one that is not key=value they drop without a word
 * (test/config.test.mts, "OTEL_EXPORTER_OTLP_HEADERS"). Each such entry is a
 * warning naming the variable and the key, never the value (it is often a
 * credential), and the exporter is built with the rest: the shared variable
 * replaced by the entries kept, the signal's hidden ("headers, differential":
 * the exporter reads the same headers less those). Where every entry is
 * good, nothing is replaced.
 */
function headerOverrides(signal: Signal | 'metrics', protocol: OtlpProtocol): Record<string, string | undefined> {
  const shared = 'OTEL_EXPORTER_OTLP_HEADERS';
  const own = `OTEL_EXPORTER_OTLP_${signal.toUpperCase()}_HEADERS`;
  const kept: Record<string, string> = {};
  let refused = false;
  for (const variable of [shared, own]) {
    const entries = getStringFromEnv(variable)?.split(',') ?? [];
    for (const [index, entry] of entries.entries()) {
      if (entry.trim() === '') continue;
      const [key, value] = Object.entries(parseKeyPairsIntoRecord(entry))[0] ?? [];
      if (key === undefined || value === undefined) {
        diag.warn(`ignoring entry ${index + 1} of ${variable}: it must be key=value, both percent-encoded and neither empty`);
        refused = true;
        continue;
      }
      const refusal = headerRefusal(protocol, key, value);
      if (refusal !== undefined) {
        diag.warn(`ignoring the header "${key}" in ${variable}: ${refusal}`);
        refused = true;
        continue;
      }
      kept[key] = value;
    }
  }
  if (!refused) return {};
  const encoded = Object.entries(kept).map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`).join(',');
  return { [shared]: encoded === '' ? undefined : encoded, [own]: undefined };
}

/**
 * The span limits from OTEL_SPAN_* and OTEL_ATTRIBUTE_* (and the event and link
 * ones), for NodeSDK's `spanLimits`, over its own reading: sdk-node 0.301.2
 * (createSpanLimitsFromEnv) takes any number, and -1 as the count limit drops
 * every attribute of every span, 0 as the length limit is a warning for
 * every attribute (test/config.test.mts, "span limits"; every value NodeSDK
 * takes is read the same: "span limits, differential"). A bad value is one
 * warning and undefined, which gives the SDK's default.
 */
export function spanLimits(): SpanLimits {
  // As with the endpoints, a refused value counts as unset: the next variable applies.
  const read = (names: string[], min: number) => names.reduce<number | undefined>((found, name) => found ?? positive(name, min), undefined);
  return {
    attributeCountLimit: read(['OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT', 'OTEL_ATTRIBUTE_COUNT_LIMIT'], 0),
    // sdk-trace ignores a length limit under 1 with a warning for each attribute: at least 1 here.
    attributeValueLengthLimit: read(['OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT', 'OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT'], 1),
    eventCountLimit: read(['OTEL_SPAN_EVENT_COUNT_LIMIT'], 0),
    linkCountLimit: read(['OTEL_SPAN_LINK_COUNT_LIMIT'], 0),
    attributePerEventCountLimit: read(['OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT', 'OTEL_SPAN_ATTRIBUTE_PER_EVENT_COUNT_LIMIT'], 0),
    attributePerLinkCountLimit: read(['OTEL_LINK_ATTRIBUTE_COUNT_LIMIT', 'OTEL_SPAN_ATTRIBUTE_PER_LINK_COUNT_LIMIT'], 0),
  };
}

/** OTEL_EXPORTER_OTLP_[SIGNAL_]PROTOCOL: the signal's, else the shared one (a bad one counts as unset), else `fallback`. */
function signalProtocol(SIGNAL: string, fallback: OtlpProtocol): OtlpProtocol {
  return readProtocol(`OTEL_EXPORTER_OTLP_${SIGNAL}_PROTOCOL`) ?? readProtocol('OTEL_EXPORTER_OTLP_PROTOCOL') ?? fallback;
}

function readProtocol(name: string): OtlpProtocol | undefined {
  const raw = getStringFromEnv(name)?.trim().toLowerCase();
  if (raw === undefined || PROTOCOLS.includes(raw)) return raw as OtlpProtocol | undefined;
  diag.warn(`ignoring ${name}="${raw}": it must be one of ${PROTOCOLS.join(', ')}`);
  return undefined;
}

/**
 * The exporters read OTEL_EXPORTER_OTLP_[SIGNAL_]ENDPOINT themselves, with the
 * specification's rules (over HTTP the shared one is a base for /v1/<signal>).
 * Where neither is set, the kit's default is the collector in the cluster.
 * Over gRPC the specification allows a URL with http:// or https://, or a
 * host and port with no scheme, or any other form the gRPC client takes, such
 * as a unix:/// socket (with those two, OTEL_EXPORTER_OTLP_INSECURE decides TLS;
 * a host with no port would be port 443, so it is refused: a bare word is more
 * often a slip than a TLS collector on 443);
 * anything else the 0.301 gRPC exporter throws on ("not a url") or misreads
 * ("ftp://host:4317" as host:4317). Over HTTP it must be a URL with http:// or
 * https://; the 0.301 HTTP exporter, left with none it can parse, warns and
 * sends to localhost:4318, not to the kit's default, and takes "host:4318" for
 * a URL whose scheme is "host:". Either way: refused here, with a warning, for
 * the next one.
 */
const HTTP_URL = /^https?:\/\/[^/]/;
const HOST_AND_PORT = /^(?:\[[0-9a-f:.]+\]|[a-z0-9.-]+):\d+$/i;
const UNIX_SOCKET = /^unix:\/\/\/[^/]/;

/** Without a scheme: the gRPC exporter then chooses TLS unless told otherwise. */
function schemeless(raw: string): boolean {
  // URL.canParse: a port past 65535 would make the exporter throw.
  return (HOST_AND_PORT.test(raw) && URL.canParse(`http://${raw}`)) || UNIX_SOCKET.test(raw);
}

function usable(protocol: OtlpProtocol, raw: string): boolean {
  return (HTTP_URL.test(raw) && URL.canParse(raw)) || (protocol === 'grpc' && schemeless(raw));
}

/**
 * The signal's endpoint variable, else the shared one, else the default. An
 * endpoint the exporter would throw on, misread or replace is a warning and
 * counts as unset, as the specification says of invalid values: the next one
 * applies, passed explicitly so that the exporter does not read the bad one.
 */
function exporterUrl(signal: Signal, protocol: OtlpProtocol, unaskedTls: boolean): { url: string | undefined; destination: string } {
  const path = `v1/${signal}`;
  const fallback = protocol === 'grpc' ? DEFAULT_OTLP_GRPC_ENDPOINT : `${DEFAULT_OTLP_HTTP_ENDPOINT}/${path}`;
  const set = [`OTEL_EXPORTER_OTLP_${signal.toUpperCase()}_ENDPOINT`, 'OTEL_EXPORTER_OTLP_ENDPOINT']
    .map((name) => ({ name, raw: getStringFromEnv(name)?.trim() }))
    .filter((candidate): candidate is { name: string; raw: string } => candidate.raw !== undefined);
  for (const [index, { name, raw }] of set.entries()) {
    if (usable(protocol, raw)) {
      const destination = `${raw} (${name})`;
      // Allowed, but a plaintext collector then answers a TLS handshake: "wrong version number".
      if (unaskedTls && schemeless(raw)) {
        const plaintext = HOST_AND_PORT.test(raw) ? `write http://${raw} or set OTEL_EXPORTER_OTLP_INSECURE=true` : 'set OTEL_EXPORTER_OTLP_INSECURE=true';
        diag.warn(`${name}="${raw}" has no scheme, so the export uses TLS (OTEL_EXPORTER_OTLP_INSECURE is not true, and no certificate is given); to a plaintext collector, ${plaintext}`);
      }
      if (index === 0) return { url: undefined, destination };
      // The signal's own was refused, so the shared one is given explicitly; over HTTP with
      // the signal's path, which the exporter adds only to the shared one it reads itself.
      return { url: protocol === 'grpc' ? raw : `${raw.endsWith('/') ? raw : `${raw}/`}${path}`, destination };
    }
    const next = set[index + 1]?.name ?? fallback;
    const rule = protocol === 'grpc' ? 'over gRPC it must be a URL that starts with http:// (plaintext) or https:// (TLS), a host:port or unix:///path' : 'over HTTP it must be a URL that starts with http:// or https://';
    diag.warn(`ignoring ${name}="${raw}": ${rule}; using ${next}`);
  }
  return { url: fallback, destination: fallback };
}

function batchSettings(prefix: 'OTEL_BSP' | 'OTEL_BLRP', defaults: BatchSettings): BatchSettings {
  const maxQueueSize = positive(`${prefix}_MAX_QUEUE_SIZE`) ?? defaults.maxQueueSize;
  let maxExportBatchSize = positive(`${prefix}_MAX_EXPORT_BATCH_SIZE`) ?? Math.min(defaults.maxExportBatchSize, maxQueueSize);
  if (maxExportBatchSize > maxQueueSize) {
    diag.warn(`ignoring ${prefix}_MAX_EXPORT_BATCH_SIZE=${maxExportBatchSize}: it must not exceed ${prefix}_MAX_QUEUE_SIZE (${maxQueueSize}); using ${maxQueueSize}`);
    maxExportBatchSize = maxQueueSize;
  }
  return {
    maxQueueSize,
    maxExportBatchSize,
    scheduledDelayMillis: milliseconds(`${prefix}_SCHEDULE_DELAY`, 0) ?? defaults.scheduledDelayMillis,
    exportTimeoutMillis: milliseconds(`${prefix}_EXPORT_TIMEOUT`) ?? defaults.exportTimeoutMillis,
  };
}

/** A whole number of at least `min`; anything else is one warning and undefined (the default). */
function positive(name: string, min = 1): number | undefined {
  const value = getNumberFromEnv(name); // warns itself on a value that is not a number
  if (value === undefined || (Number.isInteger(value) && value >= min)) return value;
  diag.warn(`ignoring ${name}=${value}: it must be a whole number of at least ${min}`);
  return undefined;
}

/** Node's timers hold at most 2^31 - 1 ms: a longer one fires after 1 ms, with a TimeoutOverflowWarning. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A duration for a timer: a whole number of milliseconds from `min` to MAX_TIMER_MS; anything else is one warning and undefined. */
function milliseconds(name: string, min = 1): number | undefined {
  const value = positive(name, min);
  if (value === undefined || value <= MAX_TIMER_MS) return value;
  diag.warn(`ignoring ${name}=${value}: a timer holds at most ${MAX_TIMER_MS} ms (about 24 days)`);
  return undefined;
}

/** How often ExportMonitor sums up what was lost (EXPORT_REPORT_INTERVAL_MS, default 30 s; the tests shorten it). */
export function exportReportIntervalMs(): number {
  return milliseconds('EXPORT_REPORT_INTERVAL_MS') ?? 30_000;
}

/**
 * The environment NodeSDK is to see while it is built and started. OTEL_LOG_LEVEL
 * is out of its sight: given one, its constructor installs a console logger over
 * the kit's, with a stack trace on stderr at every start and then plain-text lines
 * among the JSON ones, while the kit's logger applies the level already
 * (diagnostics.ts; test/config.test.mts, "OTEL_LOG_LEVEL=debug"). And the names the
 * specification says to read in any case ("Enum values SHOULD be interpreted in a
 * case-insensitive manner") are lowercased: sdk-node 0.301 compares them as
 * written, so OTEL_PROPAGATORS=TraceContext propagated nothing and
 * OTEL_TRACES_SAMPLER=Always_Off recorded every trace (test/config.test.mts, "case").
 */
export function nodeSdkEnvironment(metrics: boolean): Record<string, string | undefined> {
  const names = ['OTEL_TRACES_SAMPLER', 'OTEL_PROPAGATORS', 'OTEL_TRACES_EXPORTER', 'OTEL_LOGS_EXPORTER', 'OTEL_METRICS_EXPORTER'];
  const lowercased = names.flatMap((name) => {
    const raw = getStringFromEnv(name);
    return raw === undefined ? [] : [[name, raw.split(',').map((part) => part.trim().toLowerCase()).join(',')]];
  });
  // The metrics' OTLP exporter is NodeSDK's, at its default protocol: it must not see the headers its transport refuses either.
  return { OTEL_LOG_LEVEL: undefined, ...Object.fromEntries(lowercased), ...(metrics ? headerOverrides('metrics', signalProtocol('METRICS', 'http/protobuf')) : {}) };
}

/**
 * OTEL_CONFIG_FILE asks for declarative configuration, which replaces every
 * other OTEL_* variable; the kit reads the variables (test/config.test.mts).
 */
export function warnIfConfigFileGiven(): void {
  if (getStringFromEnv('OTEL_CONFIG_FILE') === undefined) return;
  diag.warn('ignoring OTEL_CONFIG_FILE: the kit does not read a configuration file; the OTEL_* variables apply');
}
