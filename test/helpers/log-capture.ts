/** A pino logger whose records land in an array, for asserting what a component logged. */
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

export interface CapturedLog {
  readonly logger: Logger;
  readonly records: Array<Record<string, unknown>>;
  messages(msg: string): Array<Record<string, unknown>>;
}

export function captureLog(level = 'debug'): CapturedLog {
  const records: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n'))
        if (line) records.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  return {
    logger: pino({ level }, stream),
    records,
    messages: (msg) => records.filter((r) => r['msg'] === msg),
  };
}
