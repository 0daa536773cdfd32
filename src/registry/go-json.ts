/**
 * Byte-exact reproduction of Go's `json.MarshalIndent(v, "", indent)` for the small value shapes the
 * buildx conversion needs (spec §2.8): its length ends up in `manifests.total_size`, so field order,
 * layout and Go's string escaping (HTML-safe `<>&`, U+2028/U+2029, `\b`/`\f` since Go 1.22) matter.
 */

export type GoJsonValue =
  | string
  | null
  | { readonly kind: 'raw'; readonly text: string }
  | { readonly kind: 'array'; readonly items: readonly GoJsonValue[] }
  | { readonly kind: 'object'; readonly fields: readonly (readonly [string, GoJsonValue])[] };

const HEX = '0123456789abcdef';

/** A JSON string literal exactly as Go's encoder writes it (escapeHTML on). */
export function goJsonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = s.charCodeAt(i + 1);
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        out += s[i]! + s[i + 1]!;
        i++;
      } else {
        // Go's decoder has already turned an unpaired surrogate into U+FFFD.
        out += '\ufffd';
      }
      continue;
    }
    switch (c) {
      case 0x22:
        out += '\\"';
        break;
      case 0x5c:
        out += '\\\\';
        break;
      case 0x08:
        out += '\\b';
        break;
      case 0x0c:
        out += '\\f';
        break;
      case 0x0a:
        out += '\\n';
        break;
      case 0x0d:
        out += '\\r';
        break;
      case 0x09:
        out += '\\t';
        break;
      case 0x3c:
      case 0x3e:
      case 0x26:
      case 0x2028:
      case 0x2029:
        out += '\\u' + c.toString(16).padStart(4, '0');
        break;
      default:
        if (c < 0x20) out += '\\u00' + HEX[c >> 4]! + HEX[c & 0xf]!;
        else out += s[i]!;
    }
  }
  return out + '"';
}

/** `json.MarshalIndent(v, "", indent)`: empty arrays and objects stay `[]` / `{}`. */
export function goJsonIndent(value: GoJsonValue, indent: string): string {
  return write(value, indent, 0);
}

function write(v: GoJsonValue, indent: string, depth: number): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return goJsonString(v);
  const inner = '\n' + indent.repeat(depth + 1);
  const outer = '\n' + indent.repeat(depth);
  switch (v.kind) {
    case 'raw':
      return v.text;
    case 'array':
      if (v.items.length === 0) return '[]';
      return '[' + inner + v.items.map((x) => write(x, indent, depth + 1)).join(',' + inner) + outer + ']';
    case 'object':
      if (v.fields.length === 0) return '{}';
      return (
        '{' +
        inner +
        v.fields.map(([k, x]) => goJsonString(k) + ': ' + write(x, indent, depth + 1)).join(',' + inner) +
        outer +
        '}'
      );
  }
}
