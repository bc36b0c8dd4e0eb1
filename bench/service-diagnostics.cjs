// Preloaded by the benchmark into every service it measures (after the
// service's own preload, before its script): measures from inside the process
// what a load generator cannot see, and writes it as one JSON line to
// $BENCH_DIAGNOSTICS_FILE each time the process gets $BENCH_DIAGNOSTICS_SIGNAL
// (SIGUSR2 by default), covering the time since the last signal:
// - event-loop delay (perf_hooks.monitorEventLoopDelay, ticking every 1 ms);
// - time in garbage collection (a PerformanceObserver on `gc`), by kind;
// - event-loop utilization, memory (RSS, V8 heap, heap spaces), the lowest
//   heap used seen just after a GC, and the mean of heap used read every
//   100 ms: heap used at an arbitrary moment swings with the young generation
//   and old space between major GCs (25–61 MiB from one minute to the next on
//   a free core at 800 req/s), so a slope of single readings cannot resolve
//   0.1 MiB a minute; the floor after GCs and the mean over the window can;
// - the OTLP exporters' export() calls, spans and log records apart: the
//   longest synchronous part of one call (serializing the batch and handing
//   it to the transport), the batch size of that call, how much of it was
//   serializing, and the main thread's CPU time in it; and the items exported
//   or failed (counted in the result callback, so a retried batch counts once
//   as exported); and the batch span processor's queue: the most spans it held
//   and how long a batch was in flight, from being taken to its export's answer.
// - stalls: every gap of more than STALL_MS between two ticks of a 1 ms
//   interval, i.e. time the event loop did not get back to its timers, and
//   how much of each overlapped a GC pause or the synchronous part of a span
//   or log export() call (the rest is "other": the requests themselves, the
//   gRPC writes, the log lines). Time-weighted, as requests feel it: the loop
//   delay histogram above takes one sample per late tick, so one 15 ms stall
//   weighs as much as one 1.5 ms delay there, and fifteen requests wait on it.
// - on request (a file `<BENCH_DIAGNOSTICS_FILE>.request`, read at the
//   signal), a GC first: `full-gc` (needs node --expose-gc), for a test that
//   wants the live heap itself; `reduce-memory`, a memory-reducing GC, for the
//   soak's last reading, to tell what V8 keeps in its page pool from what the
//   service holds. The bench asks for neither under load: either would be a
//   stall of its own making. Its pause lands in the next line's GC and
//   loop-delay figures (their callbacks come after this reading), which no
//   figure reads.
// Its own cost: a native 1 ms timer, a JS 1 ms interval, one callback per GC, a heap reading every
// 100 ms, four clock reads per export call and two per span batch, and one line per signal; the same
// for traced and untraced.
// Its lines go to a file of their own: the service's stdout carries several
// log lines per request, and the bench reads these every phase or minute.
'use strict';
const { writeSync, openSync, readFileSync, rmSync } = require('node:fs');
const { monitorEventLoopDelay, PerformanceObserver, performance, constants } = require('node:perf_hooks');
const { getHeapSpaceStatistics, getHeapStatistics, queryObjects } = require('node:v8');

const RESOLUTION_MS = 1;
const STALL_MS = 2;
const HEAP_READING_MS = 100;
const MiB = 2 ** 20;
const file = process.env.BENCH_DIAGNOSTICS_FILE;
const signal = process.env.BENCH_DIAGNOSTICS_SIGNAL || 'SIGUSR2';
if (!file) throw new Error('service-diagnostics.cjs: BENCH_DIAGNOSTICS_FILE is not set');
const fd = openSync(file, 'a');

const delay = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
delay.enable();

/** What ran on the main thread in this window, as [start, end] in performance.now() time: the causes a stall is matched with. */
const freshIntervals = () => ({ gc: [], spanExport: [], logExport: [] });
let intervals = freshIntervals();
let stalls = [];
let lastTick = performance.now();
setInterval(() => {
  const now = performance.now();
  if (now - lastTick - RESOLUTION_MS > STALL_MS) stalls.push([lastTick + RESOLUTION_MS, now]);
  lastTick = now;
}, RESOLUTION_MS).unref();

/**
 * The intervals of `list` that overlap [a, b], clipped to it. Each list is in time order and its
 * intervals never overlap one another (each is a pause or a call on the main thread), so a binary
 * search finds the first: scanning whole lists for every stall took minutes at saturation, and the
 * service, busy in this signal handler, missed the bench's 30 s deadline.
 */
function clipped([a, b], list) {
  let low = 0;
  let high = list.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (list[middle][1] <= a) low = middle + 1;
    else high = middle;
  }
  const inside = [];
  for (let i = low; i < list.length && list[i][0] < b; i += 1) inside.push([Math.max(a, list[i][0]), Math.min(b, list[i][1])]);
  return inside;
}
const overlap = (stall, list) => clipped(stall, list).reduce((sum, [c, d]) => sum + (d - c), 0);
/** What of a stall an export covered outside GC: a GC inside an export() call counts as GC, once. */
const outsideGc = (stall, list) => clipped(stall, list).reduce((sum, part) => sum + (part[1] - part[0]) - overlap(part, intervals.gc), 0);

/** The window's stalls, their total, and how much of them each cause covered. */
function stallFigures() {
  const byCause = { gc: 0, spanExport: 0, logExport: 0, other: 0 };
  let totalMs = 0;
  for (const stall of stalls) {
    const length = stall[1] - stall[0];
    const known = { gc: overlap(stall, intervals.gc), spanExport: outsideGc(stall, intervals.spanExport), logExport: outsideGc(stall, intervals.logExport) };
    totalMs += length;
    for (const [cause, value] of Object.entries(known)) byCause[cause] += value;
    byCause.other += Math.max(0, length - known.gc - known.spanExport - known.logExport);
  }
  return {
    thresholdMs: STALL_MS,
    count: stalls.length,
    totalMs: round(totalMs),
    byCauseMs: Object.fromEntries(Object.entries(byCause).map(([cause, v]) => [cause, round(v)])),
  };
}

const GC_KINDS = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};
const freshGc = () => ({ ms: 0, count: 0, maxPauseMs: 0, byKindMs: { minor: 0, major: 0, incremental: 0, weakcb: 0 }, heapUsedAfterMin: Infinity });
let gc = freshGc();
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    intervals.gc.push([entry.startTime, entry.startTime + entry.duration]);
    gc.ms += entry.duration;
    gc.count += 1;
    gc.maxPauseMs = Math.max(gc.maxPauseMs, entry.duration);
    const kind = GC_KINDS[entry.detail?.kind];
    if (kind) gc.byKindMs[kind] += entry.duration;
  }
  // The observer hears of a GC shortly after it: close enough to its end for a floor.
  gc.heapUsedAfterMin = Math.min(gc.heapUsedAfterMin, getHeapStatistics().used_heap_size);
}).observe({ entryTypes: ['gc'] });

let heapReadings = { sum: 0, count: 0 };
setInterval(() => {
  heapReadings.sum += getHeapStatistics().used_heap_size;
  heapReadings.count += 1;
}, HEAP_READING_MS).unref();

const freshExport = () => ({ calls: 0, items: 0, syncMs: 0, maxSyncMs: 0, itemsInMax: 0, serializeMsInMax: 0, cpuMsInMax: 0 });
const exportTotals = { spans: { exportedTotal: 0, failedTotal: 0 }, logs: { exportedTotal: 0, failedTotal: 0 } };
let exportStats = { spans: freshExport(), logs: freshExport() };
let serializingMs = 0;

/** Times a serializer's serializeRequest, so that an export call can say how much of it was serializing. */
function timeSerializer(serializer) {
  if (!serializer || serializer.__benchTimed) return;
  const serialize = serializer.serializeRequest;
  serializer.serializeRequest = function timedSerializeRequest(request) {
    const started = performance.now();
    try {
      return serialize.call(this, request);
    } finally {
      serializingMs += performance.now() - started;
    }
  };
  serializer.__benchTimed = true;
}

function timeExporter(Exporter, signalKey) {
  if (!Exporter || Object.hasOwn(Exporter.prototype, '__benchTimed')) return;
  const exportItems = Exporter.prototype.export;
  Exporter.prototype.export = function timedExport(items, resultCallback) {
    const totals = exportTotals[signalKey];
    const count = items.length;
    serializingMs = 0;
    const cpuBefore = process.threadCpuUsage();
    const started = performance.now();
    try {
      return exportItems.call(this, items, (result) => {
        if (result.code === 0) totals.exportedTotal += count;
        else totals.failedTotal += count;
        resultCallback(result);
      });
    } finally {
      const ended = performance.now();
      intervals[signalKey === 'spans' ? 'spanExport' : 'logExport'].push([started, ended]);
      const ms = ended - started;
      const stats = exportStats[signalKey];
      stats.calls += 1;
      stats.items += count;
      stats.syncMs += ms;
      if (ms > stats.maxSyncMs) {
        // The main thread's CPU time too: in the pod-shaped cgroup the wall time includes CFS throttling.
        const cpu = process.threadCpuUsage(cpuBefore);
        Object.assign(stats, { maxSyncMs: ms, itemsInMax: count, serializeMsInMax: serializingMs, cpuMsInMax: (cpu.user + cpu.system) / 1000 });
      }
    }
  };
  Exporter.prototype.__benchTimed = true;
}

const freshQueue = () => ({ peak: 0, capacity: 0, maxInFlightMs: 0 });
let spanQueue = freshQueue();

/*
 * The span queue, where spans are dropped when it is full: the pod lost 0.1-0.3% of its spans at
 * saturation with a queue of 2,048 (docs/performance.md, "the pod's span queue under the one-core
 * limit"), and a count of drops does not say by how much a queue falls short or has room. Spans
 * leave the queue only when a batch is taken (BatchSpanProcessorBase._flushOneBatch), so its length
 * then is the most it held since the batch before. Both are private to the SDK (_finishedSpans,
 * _flushOneBatch, _maxQueueSize): a measurement's patch, never a service's.
 */
function watchSpanQueue(BatchSpanProcessor) {
  const base = BatchSpanProcessor && Object.getPrototypeOf(BatchSpanProcessor.prototype);
  if (!base?._flushOneBatch || Object.hasOwn(base, '__benchWatched')) return;
  const flushOneBatch = base._flushOneBatch;
  base._flushOneBatch = function watchedFlushOneBatch() {
    spanQueue.peak = Math.max(spanQueue.peak, this._finishedSpans.length);
    spanQueue.capacity = this._maxQueueSize;
    const taken = performance.now();
    const answered = () => {
      spanQueue.maxInFlightMs = Math.max(spanQueue.maxInFlightMs, performance.now() - taken);
    };
    const flushed = flushOneBatch.call(this);
    flushed.then(answered, answered);
    return flushed;
  };
  base.__benchWatched = true;
}

/*
 * Whatever copies of the OTLP exporters the service has loaded (the kit's, the
 * zero-code peer's own nested ones, an experiment's), found in the module
 * cache: this preload runs after the service's own, which loads them.
 */
const EXPORTER = /[\\/]@opentelemetry[\\/]exporter-(trace|logs)-otlp-(grpc|proto|http)[\\/]dist[\\/]index\.cjs$/;
const TRANSFORMER = /[\\/]@opentelemetry[\\/]otlp-transformer[\\/]dist[\\/]index\.cjs$/;
const SPAN_SDK = /[\\/]@opentelemetry[\\/]sdk-trace[\\/]dist[\\/]index\.cjs$/;
const timedModules = [];
for (const [path, module] of Object.entries(require.cache)) {
  const exporter = EXPORTER.exec(path);
  if (exporter) {
    const signalKey = exporter[1] === 'trace' ? 'spans' : 'logs';
    timeExporter(signalKey === 'spans' ? module.exports.OTLPTraceExporter : module.exports.OTLPLogExporter, signalKey);
    timedModules.push(path);
  } else if (SPAN_SDK.test(path)) {
    watchSpanQueue(module.exports.BatchSpanProcessor);
    timedModules.push(path);
  } else if (TRANSFORMER.test(path)) {
    for (const name of ['ProtobufTraceSerializer', 'JsonTraceSerializer', 'ProtobufLogsSerializer', 'JsonLogsSerializer']) timeSerializer(module.exports[name]);
  }
}

const ms = (ns) => Math.max(0, ns / 1e6 - RESOLUTION_MS);
const round = (v) => +v.toFixed(3);
const roundedExport = (window, totals) => ({
  ...window,
  syncMs: round(window.syncMs),
  maxSyncMs: round(window.maxSyncMs),
  serializeMsInMax: round(window.serializeMsInMax),
  cpuMsInMax: round(window.cpuMsInMax),
  ...totals,
});
let seq = 0;
let since = performance.now();
let eluSince = performance.eventLoopUtilization();

/** The bench's request for this reading, if it left one; read once. */
function takeRequest() {
  const requestFile = `${file}.request`;
  let request;
  try {
    request = readFileSync(requestFile, 'utf8').trim();
  } catch {
    return ''; // none
  }
  rmSync(requestFile, { force: true });
  return request;
}

/**
 * A memory-reducing GC: the only one Node lets a script ask for is the heap profiler's. Before it
 * iterates the heap, v8.queryObjects runs CollectAllAvailableGarbage (V8 src/profiler/heap-profiler.cc,
 * HeapProfiler::QueryObjects), whose sweep releases V8's page pool (src/heap/sweeper.cc: "Discard all
 * pooled pages on memory-reducing GCs"). It also clears the JIT's feedback: a measurement's tool, never a
 * service's.
 */
function memoryReducingGc() {
  const started = performance.now();
  queryObjects(class NoInstances {}, { format: 'count' });
  return performance.now() - started;
}

process.on(signal, () => {
  const request = takeRequest();
  if (request === 'full-gc') global.gc();
  const memoryReducingGcMs = request === 'reduce-memory' ? round(memoryReducingGc()) : undefined;
  const now = performance.now();
  const memory = process.memoryUsage();
  const spaces = Object.fromEntries(getHeapSpaceStatistics().map((space) => [space.space_name, +(space.space_used_size / MiB).toFixed(2)]));
  const line = {
    diagnostics: ++seq,
    pid: process.pid,
    windowMs: +(now - since).toFixed(1),
    // The histogram holds the gaps between ticks of a 1 ms timer: minus the 1 ms, what the loop made it wait.
    eventLoopDelayMs: {
      p50: +ms(delay.percentile(50)).toFixed(3),
      p99: +ms(delay.percentile(99)).toFixed(3),
      max: +ms(delay.max).toFixed(3),
      mean: +ms(delay.mean).toFixed(3),
      samples: delay.count,
    },
    eventLoopUtilization: +performance.eventLoopUtilization(eluSince).utilization.toFixed(4),
    gc: {
      ms: round(gc.ms),
      count: gc.count,
      maxPauseMs: round(gc.maxPauseMs),
      byKindMs: Object.fromEntries(Object.entries(gc.byKindMs).map(([kind, v]) => [kind, round(v)])),
    },
    memoryMiB: {
      rss: +(memory.rss / MiB).toFixed(2),
      heapUsed: +(memory.heapUsed / MiB).toFixed(2),
      heapTotal: +(memory.heapTotal / MiB).toFixed(2),
      // null when the window was shorter than one reading
      heapUsedMean: heapReadings.count ? +(heapReadings.sum / heapReadings.count / MiB).toFixed(2) : null,
      // null when no GC ran in the window
      heapUsedAfterGcMin: Number.isFinite(gc.heapUsedAfterMin) ? +(gc.heapUsedAfterMin / MiB).toFixed(2) : null,
      external: +(memory.external / MiB).toFixed(2),
      arrayBuffers: +(memory.arrayBuffers / MiB).toFixed(2),
      spaces,
    },
    stalls: stallFigures(),
    spanExport: roundedExport(exportStats.spans, exportTotals.spans),
    logExport: roundedExport(exportStats.logs, exportTotals.logs),
    spanQueue: { ...spanQueue, maxInFlightMs: round(spanQueue.maxInFlightMs) },
    timedModules: seq === 1 ? timedModules : undefined,
    memoryReducingGcMs,
  };
  writeSync(fd, `${JSON.stringify(line)}\n`);
  delay.reset();
  gc = freshGc();
  heapReadings = { sum: 0, count: 0 };
  exportStats = { spans: freshExport(), logs: freshExport() };
  spanQueue = freshQueue();
  stalls = [];
  intervals = freshIntervals();
  since = now;
  eluSince = performance.eventLoopUtilization();
});
