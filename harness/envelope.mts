/*
 * Sentry's envelope format (develop.sentry.dev/sdk/data-model/envelopes): a
 * JSON header line, then items, each a JSON header line and a payload. With a
 * `length` in its header the payload is exactly that many bytes (it may hold
 * newlines); without one it runs to the next newline.
 */

export interface RawEnvelopeItem {
  headers: { type: string; length?: number; [key: string]: unknown };
  payload: Buffer;
}

export interface Envelope {
  headers: Record<string, unknown>;
  items: RawEnvelopeItem[];
}

export function parseEnvelope(body: Buffer): Envelope {
  let offset = 0;
  const line = (): Buffer => {
    const end = body.indexOf(0x0a, offset);
    const text = body.subarray(offset, end === -1 ? body.length : end);
    offset = end === -1 ? body.length : end + 1;
    return text;
  };
  const headers = JSON.parse(line().toString('utf8') || '{}') as Record<string, unknown>;
  const items: RawEnvelopeItem[] = [];
  while (offset < body.length) {
    const headerLine = line();
    if (headerLine.length === 0) continue;
    const itemHeaders = JSON.parse(headerLine.toString('utf8')) as RawEnvelopeItem['headers'];
    let payload: Buffer;
    if (typeof itemHeaders.length === 'number') {
      payload = body.subarray(offset, offset + itemHeaders.length);
      offset += itemHeaders.length;
      if (body[offset] === 0x0a) offset += 1;
    } else {
      payload = line();
    }
    items.push({ headers: itemHeaders, payload });
  }
  return { headers, items };
}

/** An item's payload as JSON, or its text when it is not JSON (an attachment). */
export function payloadOf(item: RawEnvelopeItem): unknown {
  const text = item.payload.toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
