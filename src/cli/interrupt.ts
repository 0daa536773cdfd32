/**
 * SIGINT and SIGTERM (issue 11 §2): the first one asks the running command to stop cleanly (the
 * import stops reading, keeps the checkpoints it committed, closes the database and stops the embedded
 * server); the exit status is then 130 or 143, the shell's 128 + signal number. A second signal
 * stops at once, with the same status.
 */

const EXIT_STATUS = { SIGINT: 130, SIGTERM: 143 } as const;
type HandledSignal = keyof typeof EXIT_STATUS;

export class InterruptedError extends Error {
  constructor(readonly signalName: HandledSignal) {
    super(`received ${signalName}`);
    this.name = 'InterruptedError';
  }
}

let controller = new AbortController();
let received: HandledSignal | undefined;

/** Aborted when SIGINT or SIGTERM arrives while installInterruptHandlers() is in force. */
export function interruptSignal(): AbortSignal {
  return controller.signal;
}

/** 130 or 143 once a signal has been received, else undefined. */
export function interruptedExitStatus(): number | undefined {
  return received !== undefined ? EXIT_STATUS[received] : undefined;
}

export function receivedSignal(): HandledSignal | undefined {
  return received;
}

/** Installs the handlers for one run of the CLI; the returned function removes them. */
export function installInterruptHandlers(stderr: NodeJS.WritableStream = process.stderr): () => void {
  controller = new AbortController();
  received = undefined;
  const onSignal = (sig: HandledSignal): void => {
    if (received !== undefined) {
      stderr.write(`regdb: ${sig} again: stopping now\n`);
      process.exit(EXIT_STATUS[received]);
    }
    received = sig;
    stderr.write(`regdb: ${sig} received: stopping cleanly (send it again to stop at once)\n`);
    controller.abort(new InterruptedError(sig));
  };
  const onInt = () => onSignal('SIGINT');
  const onTerm = () => onSignal('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  return () => {
    process.removeListener('SIGINT', onInt);
    process.removeListener('SIGTERM', onTerm);
  };
}
