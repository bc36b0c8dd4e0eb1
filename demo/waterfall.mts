import { STATUS_CODE, type ReceivedLog as LogRecord, type ReceivedSpan as Span } from '../harness/otlp.mts';

export interface Style {
  color: boolean;
  /** Width of the bar column, in characters. */
  barWidth: number;
}

const ANSI = { dim: '\x1b[2m', red: '\x1b[31m', cyan: '\x1b[36m', yellow: '\x1b[33m', bold: '\x1b[1m', reset: '\x1b[0m' };
const KIND = ['', '', 'server', 'client', 'producer', 'consumer'];

/**
 * Draws one trace as a waterfall: one line per span, children indented
 * under their parent, a bar placed on the trace's time line, then, in the
 * order they happened, what was written in the span's context: its events
 * (log records with an event name, the span events of instrumentations),
 * its exceptions and its log lines.
 */
export function drawTrace(spans: Span[], logs: LogRecord[], style: Style, title?: string): string {
  const paint = (code: keyof typeof ANSI, text: string) => (style.color ? `${ANSI[code]}${text}${ANSI.reset}` : text);
  const ids = new Set(spans.map((s) => s.spanId));
  const children = new Map<string, Span[]>();
  for (const span of spans) {
    const parent = ids.has(span.parentSpanId) ? span.parentSpanId : '';
    children.set(parent, [...(children.get(parent) ?? []), span]);
  }
  for (const list of children.values()) list.sort((a, b) => (a.startNs < b.startNs ? -1 : 1));

  const start = spans.reduce((min, s) => (s.startNs < min ? s.startNs : min), spans[0]!.startNs);
  const end = spans.reduce((max, s) => (s.endNs > max ? s.endNs : max), spans[0]!.endNs);
  const total = Number(end - start) || 1;
  const ms = (ns: bigint | number) => `${(Number(ns) / 1e6).toFixed(1)} ms`;
  const labelWidth = Math.max(...spans.map((s) => depthOf(s, spans) * 2 + s.name.length + 2)) + 1;
  const serviceWidth = Math.max(...spans.map((s) => serviceOf(s).length));

  const root = (children.get('') ?? [])[0]!;
  const lines = [`${paint('bold', title ?? root.name)}  ${paint('dim', `trace ${root.traceId}`)}  ${ms(total)}`];
  const visit = (span: Span, depth: number) => {
    const offset = Math.floor((Number(span.startNs - start) / total) * style.barWidth);
    const length = Math.max(1, Math.round((Number(span.endNs - span.startNs) / total) * style.barWidth));
    const bar = ' '.repeat(offset) + '█'.repeat(Math.min(length, style.barWidth - offset));
    const mark = failed(span) ? '✖ ' : '  ';
    const label = `${'  '.repeat(depth)}${mark}${span.name}`.padEnd(labelWidth);
    const kind = KIND[span.kind] ? paint('dim', ` ${KIND[span.kind]}`) : '';
    const line = `  ${paint('cyan', serviceOf(span).padEnd(serviceWidth))}  ${label} ${paint(failed(span) ? 'red' : 'yellow', bar.padEnd(style.barWidth))} ${ms(span.endNs - span.startNs)}${kind}`;
    lines.push(failed(span) ? line.replace(mark + span.name, paint('red', mark + span.name)) : line);

    const indent = ' '.repeat(2 + serviceWidth + 2 + depth * 2 + 4);
    const at = (timeNs: bigint) => `+${ms(timeNs - span.startNs)}`;
    // Its events first, by time (span events and log-based events alike), then its log
    // lines as written: pino's times are whole milliseconds, too coarse to interleave them.
    const records = logs.filter((log) => log.spanId === span.spanId);
    const written = [
      ...span.events.map((event) => ({ timeNs: event.timeNs, line: paint('dim', `${indent}· ${event.name} ${at(event.timeNs)} ${exceptionOf(event.attributes)}`.trimEnd()) })),
      ...records.filter((log) => log.eventName).map((log) => ({ timeNs: log.timeNs, line: logLine(log) })),
    ].sort((a, b) => (a.timeNs < b.timeNs ? -1 : a.timeNs > b.timeNs ? 1 : 0));
    written.push(...records.filter((log) => !log.eventName).map((log) => ({ timeNs: log.timeNs, line: logLine(log) })));
    for (const { line } of written) lines.push(line);
    if (failed(span) && span.attributes['exception.type']) {
      lines.push(paint('red', `${indent}⚑ on the span for Sentry: exception.type=${span.attributes['exception.type']}, exception.stacktrace (${stackLines(span.attributes)} lines)`));
    }

    function logLine(log: LogRecord): string {
      const level = (log.severityText || 'INFO').toUpperCase();
      if (log.eventName === 'exception') return paint('red', `${indent}⚑ exception ${level} ${exceptionOf(log.attributes)} ${at(log.timeNs)}, stack trace of ${stackLines(log.attributes)} lines`);
      if (log.eventName) return paint('dim', `${indent}· ${log.eventName} ${at(log.timeNs)}`);
      return paint('dim', `${indent}✎ log ${level} ${String(log.body)}`);
    }
    for (const child of children.get(span.spanId) ?? []) visit(child, depth + 1);
  };
  for (const top of children.get('') ?? []) visit(top, 0);
  return lines.join('\n');
}

function exceptionOf(attributes: Span['attributes']): string {
  return attributes['exception.type'] === undefined ? '' : `${attributes['exception.type']}: ${attributes['exception.message']}`;
}

function stackLines(attributes: Span['attributes']): number {
  return String(attributes['exception.stacktrace'] ?? '').split('\n').length;
}

function serviceOf(span: Span): string {
  return String(span.resource['service.name'] ?? '?');
}

function failed(span: Span): boolean {
  return span.status.code === STATUS_CODE.ERROR;
}

function depthOf(span: Span, spans: Span[]): number {
  let depth = 0;
  let parent = spans.find((s) => s.spanId === span.parentSpanId);
  while (parent && depth < 50) {
    depth += 1;
    const grandParent = parent.parentSpanId;
    parent = spans.find((s) => s.spanId === grandParent);
  }
  return depth;
}
