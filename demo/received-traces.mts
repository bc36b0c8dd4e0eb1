/*
 * Follows the collector's file exporter output: spans and logs grouped by
 * trace as they arrive, each trace drawn once it has settled, in the order
 * the requests finished.
 */
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { decodeJsonLine, type ReceivedLog, type ReceivedSpan } from '../harness/otlp.mts';
import { drawTrace, type Style } from './waterfall.mts';

/** A trace is complete once no span of it has arrived for this long. */
const SETTLE_MS = 1_500;
const SERVER = 2;

export class ReceivedTraces {
  private offset = 0;
  private partial = '';
  private readonly spans = new Map<string, ReceivedSpan[]>();
  private readonly logs = new Map<string, ReceivedLog[]>();
  private readonly lastArrival = new Map<string, number>();
  private readonly drawn = new Set<string>();

  private readonly file: string;
  private readonly style: Style;

  constructor(file: string, style: Style) {
    this.file = file;
    this.style = style;
  }

  /** Reads what the collector wrote since the last poll; returns whether anything new arrived. */
  poll(): boolean {
    if (!existsSync(this.file)) return false;
    const fd = openSync(this.file, 'r');
    const buffer = Buffer.alloc(1 << 20);
    let read: number;
    let grew = false;
    while ((read = readSync(fd, buffer, 0, buffer.length, this.offset)) > 0) {
      this.offset += read;
      this.partial += buffer.subarray(0, read).toString('utf8');
      grew = true;
    }
    closeSync(fd);
    const lines = this.partial.split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines.filter(Boolean)) {
      const { spans, logs } = decodeJsonLine(line);
      for (const span of spans) {
        this.spans.set(span.traceId, [...(this.spans.get(span.traceId) ?? []), span]);
        this.lastArrival.set(span.traceId, Date.now());
      }
      for (const log of logs) this.logs.set(log.traceId, [...(this.logs.get(log.traceId) ?? []), log]);
    }
    return grew;
  }

  settled(traceId: string): boolean {
    const last = this.lastArrival.get(traceId);
    return last !== undefined && Date.now() - last >= SETTLE_MS;
  }

  /**
   * The traces not drawn yet, in the order their requests finished, up to the
   * first one still arriving (a later request is never drawn before an earlier
   * one). `all` takes every one, for the last look before the demo exits.
   */
  takeReady(all = false): string[] {
    const waiting = [...this.lastArrival.keys()].filter((id) => !this.drawn.has(id)).sort((a, b) => (this.finishedAt(a) < this.finishedAt(b) ? -1 : 1));
    const firstUnsettled = all ? -1 : waiting.findIndex((id) => !this.settled(id));
    const ready = firstUnsettled === -1 ? waiting : waiting.slice(0, firstUnsettled);
    for (const id of ready) this.drawn.add(id);
    return ready;
  }

  draw(traceId: string): string {
    const spans = this.spans.get(traceId)!;
    return drawTrace(spans, this.logs.get(traceId) ?? [], this.style, requestTitle(spans));
  }

  private finishedAt(traceId: string): bigint {
    return this.spans.get(traceId)!.reduce((max, s) => (s.endNs > max ? s.endNs : max), 0n);
  }
}

/** `GET /users/42 → 200`, from the trace's first server span (the request as it arrived); else the root span's name. */
function requestTitle(spans: ReceivedSpan[]): string {
  const ids = new Set(spans.map((s) => s.spanId));
  const roots = spans.filter((s) => !ids.has(s.parentSpanId)).sort((a, b) => (a.startNs < b.startNs ? -1 : 1));
  const request = roots.find((s) => s.kind === SERVER) ?? roots[0]!;
  // url.query arrives only where the collector keeps it (transform/drop_personal_data removes it by default).
  const { 'http.request.method': method, 'url.path': path, 'url.query': query, 'http.response.status_code': status } = request.attributes;
  if (method === undefined || path === undefined) return request.name;
  return `${String(method)} ${shortened(`${String(path)}${query ? `?${String(query)}` : ''}`)} → ${String(status ?? '?')}`;
}

/** A target of any length on one terminal line. */
function shortened(target: string, max = 80): string {
  return target.length <= max ? target : `${target.slice(0, max - 1)}…`;
}
