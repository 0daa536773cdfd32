/** The filesystem driver's parameters (spec §4.5) and their typed form. */
import { ParameterError, intParam, parseParameters, stringParam, type ParameterSpec } from './parameters.js';

/** Where the registry keeps its files when `rootdirectory` is not set (distribution's default). */
export const DEFAULT_ROOT_DIRECTORY = '/var/lib/registry';

export const FILESYSTEM_PARAMETERS: ParameterSpec = {
  known: { rootdirectory: 'path', maxthreads: 'int' },
  // distribution refuses fewer than 25 threads; regdb reads with at most maxthreads reader threads.
  minimums: { maxthreads: 25 },
  defaults: { rootdirectory: DEFAULT_ROOT_DIRECTORY },
};

export interface FilesystemParameters {
  readonly rootDirectory: string;
  /** Caps the reader threads (distribution: concurrent filesystem operations, default 100). */
  readonly maxThreads?: number;
}

export function filesystemFromParameters(
  key: string,
  given: Readonly<Record<string, unknown>>,
): FilesystemParameters {
  const p = parseParameters(FILESYSTEM_PARAMETERS, key, given);
  const rootDirectory = stringParam(p, 'rootdirectory') ?? DEFAULT_ROOT_DIRECTORY;
  if (!rootDirectory.startsWith('/'))
    throw new ParameterError(`storage.${key}.rootdirectory`, 'must be an absolute path');
  const maxThreads = intParam(p, 'maxthreads');
  return maxThreads === undefined ? { rootDirectory } : { rootDirectory, maxThreads };
}
