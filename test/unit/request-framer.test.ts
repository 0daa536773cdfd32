import { describe, expect, it } from 'vitest';
import { RequestFramer } from '../../scripts/lib/request-framer.js';

const heads = (framer: RequestFramer, ...chunks: string[]): string[] =>
  chunks.flatMap((c) => framer.push(Buffer.from(c, 'latin1')).map((h) => `${h.method} ${h.target}`));

describe('RequestFramer', () => {
  it('finds keep-alive requests back to back, a body framed by Content-Length skipped whole', () => {
    const stream =
      'GET /a?list-type=2 HTTP/1.1\r\nHost: x\r\n\r\n' +
      'PUT /b HTTP/1.1\r\nContent-Length: 26\r\n\r\n' +
      'GET /fake HTTP/1.1\r\n\r\nabcd' + // the 26 body bytes look like a request
      'HEAD /c HTTP/1.1\r\ncontent-length: 0\r\n\r\n';
    expect(heads(new RequestFramer(), stream)).toEqual(['GET /a?list-type=2', 'PUT /b', 'HEAD /c']);
  });

  it('gives the same requests whatever the chunk boundaries, one byte at a time included', () => {
    const stream =
      'PUT /k HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n' +
      '5;ext=1\r\nGET /\r\n' +
      'a\r\n0123456789\r\n' +
      '0\r\nx-trailer: GET / HTTP/1.1\r\n\r\n' +
      'DELETE /k HTTP/1.1\r\n\r\n' +
      'PUT /e HTTP/1.1\r\ntransfer-encoding: gzip, chunked\r\n\r\n0\r\n\r\n' +
      '\r\nGET /last HTTP/1.1\r\n\r\n';
    const whole = heads(new RequestFramer(), stream);
    expect(whole).toEqual(['PUT /k', 'DELETE /k', 'PUT /e', 'GET /last']);
    const framer = new RequestFramer();
    expect(heads(framer, ...stream.split(''))).toEqual(whole);
    for (const cut of [3, 20, 47, 60, 75, 100]) {
      expect(heads(new RequestFramer(), stream.slice(0, cut), stream.slice(cut))).toEqual(whole);
    }
  });

  it('refuses what is not HTTP framing instead of guessing', () => {
    expect(() =>
      heads(new RequestFramer(), 'PUT /k HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'),
    ).toThrow(/bad chunk size "zz"/);
    expect(() => heads(new RequestFramer(), 'NOSPACE\r\n\r\n')).toThrow(/bad request line "NOSPACE"/);
  });
});
