// Preloaded in the benchmark's "worker" experiments (bench/candidates-worker.json):
// the OTLP/gRPC exporters of spans and log records hand each batch to a worker
// thread, which serializes it and sends it with the same official exporter.
// The main thread's part is copying each batch into a message (a structured
// clone). Measured against the shipped exporter, it says whether moving the
// serializer off the event loop shortens the stalls that make the p99 at a
// steady rate (issue 23; docs/performance.md, "What was tried").
// BENCH_WORKER_NICE=19: the worker thread runs at nice 19 (Linux: setpriority
// on its thread id), so that the main thread wins the core when both can run.
'use strict';
const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads');

if (isMainThread) {
  const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-grpc');
  const { OTLPLogExporter } = require('@opentelemetry/exporter-logs-otlp-grpc');

  let worker;
  let nextId = 0;
  const pending = new Map();
  const ids = new WeakMap();
  let nextRef = 0;
  /** A number that stands for `object` (a resource or a scope) in the worker; `fresh` collects the first sending. */
  function refOf(object, fresh, describe) {
    let ref = ids.get(object);
    if (ref === undefined) {
      ref = nextRef++;
      ids.set(object, ref);
      fresh.push([ref, describe(object)]);
    }
    return ref;
  }
  function ensureWorker() {
    if (worker) return worker;
    // No preloads in the worker (the service's would start a second SDK there).
    worker = new Worker(__filename, { execArgv: [], workerData: { nice: Number(process.env.BENCH_WORKER_NICE || 0) } });
    worker.unref();
    worker.on('message', ({ id, code, error }) => {
      const callback = pending.get(id);
      pending.delete(id);
      callback({ code, error: error && new Error(error) });
    });
    worker.on('error', (error) => {
      for (const callback of pending.values()) callback({ code: 1, error });
      pending.clear();
      worker = undefined;
    });
    return worker;
  }
  const describeResource = (resource) => ({ attributes: resource.attributes, schemaUrl: resource.schemaUrl });
  const describeScope = (scope) => ({ name: scope.name, version: scope.version, schemaUrl: scope.schemaUrl });
  const contextOf = (c) => ({ traceId: c.traceId, spanId: c.spanId, traceFlags: c.traceFlags, isRemote: c.isRemote, traceState: c.traceState?.serialize() });

  function spanMessage(span, fresh) {
    return {
      context: contextOf(span.spanContext()),
      parent: span.parentSpanContext && contextOf(span.parentSpanContext),
      name: span.name,
      kind: span.kind,
      startTime: span.startTime,
      endTime: span.endTime,
      attributes: span.attributes,
      droppedAttributesCount: span.droppedAttributesCount,
      events: span.events,
      droppedEventsCount: span.droppedEventsCount,
      links: span.links.map((link) => ({ ...link, context: contextOf(link.context) })),
      droppedLinksCount: span.droppedLinksCount,
      status: span.status,
      resource: refOf(span.resource, fresh, describeResource),
      scope: refOf(span.instrumentationScope, fresh, describeScope),
    };
  }
  function logMessage(record, fresh) {
    return {
      hrTime: record.hrTime,
      hrTimeObserved: record.hrTimeObserved,
      severityNumber: record.severityNumber,
      severityText: record.severityText,
      body: record.body,
      attributes: record.attributes,
      droppedAttributesCount: record.droppedAttributesCount,
      spanContext: record.spanContext && contextOf(record.spanContext),
      eventName: record.eventName,
      resource: refOf(record.resource, fresh, describeResource),
      scope: refOf(record.instrumentationScope, fresh, describeScope),
    };
  }
  function handOver(Exporter, signal, toMessage) {
    Exporter.prototype.export = function exportInWorker(items, resultCallback) {
      const id = nextId++;
      const fresh = [];
      const messages = items.map((item) => toMessage(item, fresh));
      pending.set(id, resultCallback);
      ensureWorker().postMessage({ id, signal, fresh, items: messages });
    };
  }
  handOver(OTLPTraceExporter, 'spans', spanMessage);
  handOver(OTLPLogExporter, 'logs', logMessage);
} else {
  if (workerData.nice) {
    // /proc/thread-self names this thread's id; setpriority on a thread id sets that thread's nice.
    const tid = Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop());
    require('node:os').setPriority(tid, workerData.nice);
  }
  const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-grpc');
  const { OTLPLogExporter } = require('@opentelemetry/exporter-logs-otlp-grpc');
  const exporters = { spans: new OTLPTraceExporter(), logs: new OTLPLogExporter() };
  const known = new Map();
  const withContext = (c) => c && { ...c, traceState: c.traceState && { serialize: () => c.traceState } };
  const rebuild = {
    spans: (m) => ({
      ...m,
      spanContext: () => withContext(m.context),
      parentSpanContext: withContext(m.parent),
      links: m.links.map((link) => ({ ...link, context: withContext(link.context) })),
      resource: known.get(m.resource),
      instrumentationScope: known.get(m.scope),
    }),
    logs: (m) => ({ ...m, resource: known.get(m.resource), instrumentationScope: known.get(m.scope) }),
  };
  parentPort.on('message', ({ id, signal, fresh, items }) => {
    for (const [ref, described] of fresh) known.set(ref, described);
    exporters[signal].export(items.map(rebuild[signal]), (result) => {
      parentPort.postMessage({ id, code: result.code, error: result.error && String(result.error.message ?? result.error) });
    });
  });
}
