/**
 * UTF-8 validation with the position of the first invalid byte, by the same rules as Rust's
 * `str::from_utf8` (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF), so
 * both engines name the same byte. Only run on a line whose decoding produced U+FFFD.
 */

/** Index in `b` of the first byte of the first invalid sequence in [from, to), or -1. */
export function invalidUtf8At(b: Uint8Array, from: number, to: number): number {
  let i = from;
  while (i < to) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) need = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      if (c === 0xe0) lo = 0xa0;
      else if (c === 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      if (c === 0xf0) lo = 0x90;
      else if (c === 0xf4) hi = 0x8f;
    } else return i;
    if (i + need >= to) return i; // cut off by the end of the line
    const second = b[i + 1]!;
    if (second < lo || second > hi) return i;
    for (let k = 2; k <= need; k++) {
      const x = b[i + k]!;
      if (x < 0x80 || x > 0xbf) return i;
    }
    i += need + 1;
  }
  return -1;
}

export function invalidUtf8Message(where: string, line: number, at: number): string {
  return `${where}, line ${line}: invalid UTF-8 at byte ${at + 1} of the line; the file must be UTF-8 text (convert it, e.g. with iconv -t UTF-8)`;
}
