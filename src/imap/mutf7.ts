/**
 * Modified UTF-7, the mailbox name encoding of IMAP4rev1 sessions (RFC 3501 5.1.3, kept by
 * RFC 9051 5.1.3 for clients that have not enabled UTF8=ACCEPT).
 *
 * Implementation notes:
 * - Printable US-ASCII (0x20-0x7e) except "&" stands for itself; "&" is written "&-"; every other
 *   UTF-16 code unit goes into a run "&" + modified base64 ("," instead of "/", no padding) + "-".
 * - The decoder accepts exactly the strings the encoder writes, so `encodeMutf7(decodeMutf7(w))`
 *   is `w` for every valid `w`. It refuses, with a Mutf7Error: characters outside 0x20-0x7e,
 *   an unterminated or empty run, base64 characters outside the alphabet, a run that is not a
 *   whole number of UTF-16 units or has non-zero padding bits, a run holding printable ASCII (a
 *   non-minimal form such as "&AGE-" for "a"), two runs back to back ("&AOk-&AOk-" instead of
 *   "&AOkA6Q-"), and unpaired surrogates.
 * - Strings with lone surrogates cannot be encoded (they could not be decoded back).
 */

/** Thrown for a string that is not valid modified UTF-7 (or not encodable). */
export class Mutf7Error extends Error {
  /** Offset of the offending character in the input. */
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(message);
    this.name = "Mutf7Error";
    this.offset = offset;
  }
}

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";
const DECODE = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

const AMPERSAND = 0x26;
const DASH = 0x2d;

function isDirect(unit: number): boolean {
  return unit >= 0x20 && unit <= 0x7e;
}

function isHighSurrogate(unit: number): boolean {
  return unit >= 0xd800 && unit <= 0xdbff;
}

function isLowSurrogate(unit: number): boolean {
  return unit >= 0xdc00 && unit <= 0xdfff;
}

/**
 * Encodes a Unicode mailbox name as modified UTF-7.
 *
 * @example
 * encodeMutf7("~peter/mail/台北/日本語"); // "~peter/mail/&U,BTFw-/&ZeVnLIqe-"
 */
export function encodeMutf7(name: string): string {
  let out = "";
  let i = 0;
  while (i < name.length) {
    const unit = name.charCodeAt(i);
    if (unit === AMPERSAND) {
      out += "&-";
      i++;
      continue;
    }
    if (isDirect(unit)) {
      out += name[i];
      i++;
      continue;
    }
    let bits = 0;
    let buffer = 0;
    out += "&";
    while (i < name.length && !isDirect(name.charCodeAt(i))) {
      const u = name.charCodeAt(i);
      if (isHighSurrogate(u)) {
        if (i + 1 >= name.length || !isLowSurrogate(name.charCodeAt(i + 1))) {
          throw new Mutf7Error("unpaired high surrogate cannot be encoded", i);
        }
      } else if (isLowSurrogate(u) && (i === 0 || !isHighSurrogate(name.charCodeAt(i - 1)))) {
        throw new Mutf7Error("unpaired low surrogate cannot be encoded", i);
      }
      buffer = (buffer << 16) | u;
      bits += 16;
      while (bits >= 6) {
        bits -= 6;
        out += ALPHABET[(buffer >>> bits) & 0x3f];
      }
      buffer &= (1 << bits) - 1;
      i++;
    }
    if (bits > 0) out += ALPHABET[(buffer << (6 - bits)) & 0x3f];
    out += "-";
  }
  return out;
}

/**
 * Decodes a modified UTF-7 mailbox name; throws Mutf7Error for anything the encoder would not
 * have written.
 *
 * @example
 * decodeMutf7("&ZeVnLIqe-"); // "日本語"
 */
export function decodeMutf7(wire: string): string {
  let out = "";
  let i = 0;
  let previousWasRun = false;
  while (i < wire.length) {
    const unit = wire.charCodeAt(i);
    if (!isDirect(unit)) {
      throw new Mutf7Error(
        `character U+${unit.toString(16).padStart(4, "0")} must be written in modified base64`,
        i,
      );
    }
    if (unit !== AMPERSAND) {
      out += wire[i];
      i++;
      previousWasRun = false;
      continue;
    }
    const runStart = i;
    i++;
    if (i < wire.length && wire.charCodeAt(i) === DASH) {
      out += "&";
      i++;
      previousWasRun = false;
      continue;
    }
    if (previousWasRun) {
      throw new Mutf7Error("two modified base64 runs back to back (not minimal)", runStart);
    }
    let bits = 0;
    let buffer = 0;
    let decoded = "";
    let terminated = false;
    while (i < wire.length) {
      const c = wire.charCodeAt(i);
      if (c === DASH) {
        terminated = true;
        break;
      }
      const value = c < 128 ? DECODE[c] : -1;
      if (value < 0) {
        throw new Mutf7Error(
          `${JSON.stringify(wire[i])} is not a modified base64 character (unterminated "&"?)`,
          i,
        );
      }
      buffer = ((buffer << 6) | value) & 0x3fffff;
      bits += 6;
      if (bits >= 16) {
        bits -= 16;
        decoded += String.fromCharCode((buffer >>> bits) & 0xffff);
      }
      i++;
    }
    if (!terminated) throw new Mutf7Error('"&" run is not terminated by "-"', runStart);
    if (bits >= 6) {
      throw new Mutf7Error("modified base64 run is not a whole number of UTF-16 units", runStart);
    }
    if ((buffer & ((1 << bits) - 1)) !== 0) {
      throw new Mutf7Error("modified base64 run has non-zero padding bits", runStart);
    }
    checkRun(decoded, runStart);
    out += decoded;
    i++; // the "-"
    previousWasRun = true;
  }
  return out;
}

function checkRun(decoded: string, offset: number): void {
  for (let k = 0; k < decoded.length; k++) {
    const u = decoded.charCodeAt(k);
    if (isDirect(u)) {
      throw new Mutf7Error(
        `printable ASCII ${JSON.stringify(decoded[k])} encoded in modified base64 (not minimal)`,
        offset,
      );
    }
    if (isHighSurrogate(u)) {
      if (k + 1 >= decoded.length || !isLowSurrogate(decoded.charCodeAt(k + 1))) {
        throw new Mutf7Error("unpaired high surrogate in modified base64 run", offset);
      }
      k++;
    } else if (isLowSurrogate(u)) {
      throw new Mutf7Error("unpaired low surrogate in modified base64 run", offset);
    }
  }
}

/**
 * True when `wire` is valid modified UTF-7 (the canonical form that decodeMutf7 accepts).
 *
 * @example
 * isValidMutf7("Entw&APw-rfe"); // true
 * isValidMutf7("&AGE-"); // false
 */
export function isValidMutf7(wire: string): boolean {
  try {
    decodeMutf7(wire);
    return true;
  } catch (error) {
    if (error instanceof Mutf7Error) return false;
    throw error;
  }
}
