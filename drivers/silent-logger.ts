/**
 * The logger that writes nothing: the default wherever a logger is optional (STYLE.md, "library code
 * takes a logger and defaults to silent"). It lives in drivers/ because drivers/ depends on nothing in
 * src/; src/log.ts re-exports it, so there is one.
 */
import { pino, type Logger } from 'pino';

export const silentLogger: Logger = pino({ level: 'silent', enabled: false });
