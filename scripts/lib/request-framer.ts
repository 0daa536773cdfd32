/**
 * Finds the HTTP/1.1 requests in the bytes a client sends on one connection, without buffering them:
 * the storage proxy forwards the bytes as they come and only needs each request's method and target
 * (to count them) and where its body ends (to find the next request). Bodies are framed by
 * Content-Length or chunked transfer coding (RFC 9112 §6); a request without either has no body.
 */

export interface RequestHead {
  readonly method: string;
  readonly target: string;
}

const CRLF2 = Buffer.from('\r\n\r\n');
const CRLF = Buffer.from('\r\n');
/** A request head or chunk-size line longer than this is not HTTP from our clients. */
const MAX_LINE = 64 << 10;

type State =
  | { readonly kind: 'head' }
  | { readonly kind: 'body'; left: number }
  | { readonly kind: 'chunk-size' }
  | { readonly kind: 'chunk-data'; left: number }
  | { readonly kind: 'trailers' };

export class RequestFramer {
  private state: State = { kind: 'head' };
  /** Bytes of an unfinished head, chunk-size line or trailer section. */
  private pending: Buffer = Buffer.alloc(0);

  /** Feeds the next bytes; returns the heads of the requests that start in them. */
  push(chunk: Buffer): RequestHead[] {
    const heads: RequestHead[] = [];
    let data = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = Buffer.alloc(0);
    while (data.length > 0) {
      const s = this.state;
      if (s.kind === 'body' || s.kind === 'chunk-data') {
        const take = Math.min(s.left, data.length);
        s.left -= take;
        data = data.subarray(take);
        if (s.left === 0) this.state = s.kind === 'body' ? { kind: 'head' } : { kind: 'chunk-size' };
        continue;
      }
      // A head ends at an empty line; a chunk-size or trailer line at its CRLF.
      const byLine = s.kind !== 'head';
      const end = data.indexOf(byLine ? CRLF : CRLF2);
      if (end < 0) {
        if (data.length > MAX_LINE) throw new Error(`request framing: no line end in ${data.length} bytes`);
        this.pending = Buffer.from(data);
        break;
      }
      const text = data.subarray(0, end).toString('latin1');
      data = data.subarray(end + (byLine ? 2 : 4));
      if (s.kind === 'head') {
        // Stray CRLFs between requests are allowed before a request line (RFC 9112 §2.2).
        const head = text.replace(/^(\r\n)+/, '');
        if (head === '') continue;
        heads.push(this.startRequest(head));
      } else if (s.kind === 'chunk-size') {
        const size = Number.parseInt(text.split(';')[0]!.trim(), 16);
        if (!Number.isFinite(size) || size < 0) throw new Error(`request framing: bad chunk size "${text}"`);
        // The data is followed by its own CRLF: counted with it.
        this.state = size === 0 ? { kind: 'trailers' } : { kind: 'chunk-data', left: size + 2 };
      } else if (text === '') {
        // The empty line after the last chunk and its trailer fields, if any, ends the request.
        this.state = { kind: 'head' };
      }
    }
    return heads;
  }

  private startRequest(head: string): RequestHead {
    const lines = head.split('\r\n');
    const [method, target] = lines[0]!.split(' ');
    if (method === undefined || target === undefined)
      throw new Error(`request framing: bad request line "${lines[0]}"`);
    let length = 0;
    let chunked = false;
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'content-length') length = Number(value);
      else if (name === 'transfer-encoding')
        chunked = value.toLowerCase().split(',').pop()!.trim() === 'chunked';
    }
    if (chunked) this.state = { kind: 'chunk-size' };
    else if (length > 0) this.state = { kind: 'body', left: length };
    return { method, target };
  }
}
