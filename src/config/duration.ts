/**
 * Go `time.ParseDuration` syntax, which the registry's config uses for durations (spec §4.5):
 * a sequence of decimal numbers with a unit each, e.g. `5s`, `1m30s`, `1.5h`, `300ms`; `0` alone is
 * allowed. Units: ns, us (µs, μs), ms, s, m, h.
 */

const UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

/**
 * Parses a Go duration into milliseconds (rounded to the nearest millisecond).
 * Returns undefined when the text is not a valid, non-negative Go duration.
 */
export function parseGoDuration(text: string): number | undefined {
  let s = text.trim();
  if (s.startsWith('+')) s = s.slice(1);
  if (s === '0') return 0;
  if (s === '' || s.startsWith('-')) return undefined;
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < s.length) {
    const start = PART.lastIndex;
    const m = PART.exec(s);
    if (m === null || m.index !== start) return undefined;
    const [, num, unit] = m;
    total += Number(num) * (UNIT_MS[unit as string] as number);
  }
  return Math.round(total);
}
