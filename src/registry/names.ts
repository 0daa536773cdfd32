/**
 * Repository name validation with the reference grammar GitLab applies through `reference.WithName`
 * (spec §1.3). GitLab makes an invalid name fatal; regdb reports it and skips the repository, so this
 * returns a reason instead of throwing.
 */

/** `reference.NameTotalLengthMax`. Go counts bytes. */
export const NAME_TOTAL_LENGTH_MAX = 255;

export type NameFault = 'empty' | 'too-long' | 'invalid-format';

export type NameCheck =
  { readonly ok: true } | { readonly ok: false; readonly reason: NameFault; readonly message: string };

/** A path component: `[a-z0-9]+` joined by `.`, `_`, `__` or runs of `-`. */
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
/**
 * The optional leading domain: dot-separated labels of letters (any case), digits and inner `-`,
 * then an optional `:port`. (The IPv6 `[...]` host form is left out: `[` and `]` cannot be in a
 * storage path the registry writes.)
 */
const DOMAIN =
  /^[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?$/;

/**
 * Check a repository name, e.g. `group/app/sub`. The name matches when every component is a path
 * component, or when there are at least two components and the first is a domain (so `Foo/bar` and
 * `localhost:5000/app` pass while a top-level `Foo` fails).
 */
export function checkRepositoryName(name: string): NameCheck {
  if (name.length === 0) return { ok: false, reason: 'empty', message: 'repository name is empty' };
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > NAME_TOTAL_LENGTH_MAX) {
    return {
      ok: false,
      reason: 'too-long',
      message: `repository name ${JSON.stringify(shorten(name))} is ${bytes} bytes long; at most ${NAME_TOTAL_LENGTH_MAX} are allowed`,
    };
  }
  const components = name.split('/');
  const firstBad = components.findIndex((c) => !PATH_COMPONENT.test(c));
  if (firstBad === -1) return { ok: true };
  if (firstBad === 0 && components.length > 1 && DOMAIN.test(components[0] ?? '')) {
    const nextBad = components.findIndex((c, i) => i > 0 && !PATH_COMPONENT.test(c));
    if (nextBad === -1) return { ok: true };
    return invalid(name, components[nextBad] ?? '');
  }
  return invalid(name, components[firstBad] ?? '');
}

function invalid(name: string, component: string): NameCheck {
  const hint =
    component.length === 0
      ? 'an empty component'
      : `component ${JSON.stringify(component)}, which is not lowercase letters and digits joined by ".", "_", "__" or "-"`;
  return {
    ok: false,
    reason: 'invalid-format',
    message: `repository name ${JSON.stringify(shorten(name))} does not match the reference grammar: ${hint}`,
  };
}

function shorten(name: string): string {
  return name.length > 120 ? `${name.slice(0, 120)}...` : name;
}

/** The top-level namespace of a repository: its first path component (spec §2.9.2). */
export function topLevelNamespace(name: string): string {
  const slash = name.indexOf('/');
  return slash === -1 ? name : name.slice(0, slash);
}
