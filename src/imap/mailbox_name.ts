/**
 * Mailbox names between the wire and the store (RFC 9051 5.1, RFC 3501 5.1.3, RFC 6855 3).
 *
 * Implementation notes:
 * - The store keeps one canonical form: a Unicode NFC path whose levels are joined by "/",
 *   with the top-level INBOX (any case) spelled "INBOX". `inbox/Sub` is `INBOX/Sub`; `a/inbox`
 *   stays as it is (RFC 9051 5.1: INBOX is case-insensitive, other names are not).
 * - A rev1 session writes names in modified UTF-7 and only 7-bit characters; a session that did
 *   ENABLE UTF8=ACCEPT (or IMAP4rev2 alone) writes UTF-8, where "&" is an ordinary character
 *   (RFC 6855 3). `fromWire`/`toWire` take that as a flag; quoting is the response writer's job.
 * - Refused names (MailboxNameError; answer `NO [CANNOT] <message>`): empty, empty levels
 *   (`a//b`), a leading or trailing "/", control characters (RFC 9051 5.1: U+0000-U+001F,
 *   U+007F-U+009F, U+2028, U+2029), over `maxOctets` UTF-8 octets or `maxLevels` levels in the
 *   canonical form, `*` and `%` in a name being created, invalid modified UTF-7 and 8-bit
 *   characters in a rev1 session, invalid UTF-8 in a UTF-8 session.
 * - CREATE may end the name with the separator to announce children (RFC 9051 6.3.4): with
 *   `creating: true` one trailing "/" is dropped instead of refused.
 * - LIST patterns are matched with a simulation of the pattern's automaton, O(name × pattern),
 *   never by backtracking, so `*a*a*a*a*b` against a long name costs the same as `*b`.
 */
import { decodeMutf7, encodeMutf7, Mutf7Error } from "./mutf7.ts";

/** The hierarchy separator of every Postern mailbox. */
export const HIERARCHY_SEPARATOR = "/";

/** Limits on a canonical mailbox name. */
export interface MailboxNameLimits {
  /** UTF-8 octets of the canonical path. */
  maxOctets: number;
  /** Hierarchy levels (`a/b/c` has 3). */
  maxLevels: number;
}

export const DEFAULT_MAILBOX_NAME_LIMITS: Readonly<MailboxNameLimits> = {
  maxOctets: 1024,
  maxLevels: 32,
};

export interface FromWireOptions {
  /** The name is for CREATE or a RENAME target: refuse `*` and `%`, allow one trailing "/". */
  creating?: boolean;
  limits?: Partial<MailboxNameLimits>;
}

export type MailboxNameProblem =
  | "empty"
  | "empty-level"
  | "separator-edge"
  | "control"
  | "too-long"
  | "too-deep"
  | "wildcard"
  | "mutf7"
  | "8bit"
  | "utf8";

/** A mailbox name a client sent that Postern does not accept; the message is for the client. */
export class MailboxNameError extends Error {
  readonly problem: MailboxNameProblem;
  constructor(problem: MailboxNameProblem, message: string) {
    super(message);
    this.name = "MailboxNameError";
    this.problem = problem;
  }
}

const utf8Decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

// RFC 9051 5.1: no C0/C1 controls, DEL, LINE SEPARATOR or PARAGRAPH SEPARATOR.
function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x20 || (unit >= 0x7f && unit <= 0x9f) || unit === 0x2028 || unit === 0x2029) {
      return true;
    }
  }
  return false;
}

function hasEightBit(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return true;
  return false;
}

function eightBitError(what: string): MailboxNameError {
  return new MailboxNameError(
    "8bit",
    `8-bit characters in a mailbox ${what} need ENABLE UTF8=ACCEPT; use modified UTF-7`,
  );
}

/**
 * Turns a mailbox name as the client sent it into the canonical path; throws MailboxNameError.
 *
 * @example
 * fromWire("inbox/Entw&APw-rfe", false); // "INBOX/Entwürfe"
 * fromWire("inbox/Entwürfe", true); // "INBOX/Entwürfe"
 */
export function fromWire(
  name: string | Uint8Array,
  utf8: boolean,
  options: FromWireOptions = {},
): string {
  const limits = { ...DEFAULT_MAILBOX_NAME_LIMITS, ...options.limits };
  // No valid name takes more than 5 wire characters per canonical octet (one encoded character
  // alone in a run, like "&AKA-", is the worst case): refuse anything longer before any work.
  if (name.length > limits.maxOctets * 6 + 16) {
    throw new MailboxNameError(
      "too-long",
      `mailbox name is longer than ${limits.maxOctets} octets`,
    );
  }
  let text = typeof name === "string" ? name : decodeBytes(name, utf8);
  if (!utf8) {
    if (hasEightBit(text)) throw eightBitError("name");
    if (hasControl(text)) {
      throw new MailboxNameError("control", "mailbox name contains a control character");
    }
    try {
      text = decodeMutf7(text);
    } catch (error) {
      if (!(error instanceof Mutf7Error)) throw error;
      throw new MailboxNameError(
        "mutf7",
        `mailbox name is not valid modified UTF-7: ${error.message}`,
      );
    }
  } else if (!text.isWellFormed()) {
    throw new MailboxNameError("utf8", "mailbox name is not valid UTF-8");
  }
  let path = text.normalize("NFC");
  if (options.creating && path.length > 1 && path.endsWith(HIERARCHY_SEPARATOR)) {
    path = path.slice(0, -1);
  }
  checkPath(path, options.creating === true, limits);
  return canonicalInbox(path);
}

function decodeBytes(bytes: Uint8Array, utf8: boolean): string {
  if (!utf8) {
    if (bytes.some((b) => b >= 0x80)) throw eightBitError("name");
    return String.fromCharCode(...bytes);
  }
  try {
    return utf8Decoder.decode(bytes);
  } catch {
    throw new MailboxNameError("utf8", "mailbox name is not valid UTF-8");
  }
}

function checkPath(path: string, creating: boolean, limits: MailboxNameLimits): void {
  if (path === "") throw new MailboxNameError("empty", "mailbox name is empty");
  if (path.startsWith(HIERARCHY_SEPARATOR) || path.endsWith(HIERARCHY_SEPARATOR)) {
    throw new MailboxNameError(
      "separator-edge",
      `mailbox name must not begin or end with "${HIERARCHY_SEPARATOR}"`,
    );
  }
  if (path.includes(HIERARCHY_SEPARATOR + HIERARCHY_SEPARATOR)) {
    throw new MailboxNameError("empty-level", "mailbox name has an empty hierarchy level");
  }
  if (hasControl(path)) {
    throw new MailboxNameError("control", "mailbox name contains a control character");
  }
  if (creating && /[*%]/.test(path)) {
    throw new MailboxNameError("wildcard", 'mailbox name must not contain "*" or "%"');
  }
  if (utf8Encoder.encode(path).length > limits.maxOctets) {
    throw new MailboxNameError(
      "too-long",
      `mailbox name is longer than ${limits.maxOctets} octets`,
    );
  }
  if (path.split(HIERARCHY_SEPARATOR).length > limits.maxLevels) {
    throw new MailboxNameError(
      "too-deep",
      `mailbox name has more than ${limits.maxLevels} hierarchy levels`,
    );
  }
}

function canonicalInbox(path: string): string {
  if (path.length < 5 || (path.length > 5 && path[5] !== HIERARCHY_SEPARATOR)) return path;
  const head = path.slice(0, 5);
  return head.toUpperCase() === "INBOX" && head !== "INBOX" ? "INBOX" + path.slice(5) : path;
}

/**
 * Turns a canonical path into the form the session writes: UTF-8 as is, or modified UTF-7.
 *
 * @example
 * toWire("INBOX/Entwürfe", false); // "INBOX/Entw&APw-rfe"
 */
export function toWire(path: string, utf8: boolean): string {
  return utf8 ? path : encodeMutf7(path);
}

/**
 * Decodes a LIST reference or pattern from the wire: modified UTF-7 unless UTF-8 is on, then
 * NFC. No name rules apply (patterns may be empty and carry wildcards); throws
 * MailboxNameError for invalid encodings.
 *
 * @example
 * patternFromWire("Entw&APw-rfe/%", false); // "Entwürfe/%"
 */
export function patternFromWire(text: string | Uint8Array, utf8: boolean): string {
  let decoded = typeof text === "string" ? text : decodeBytes(text, utf8);
  if (!utf8) {
    if (hasEightBit(decoded)) throw eightBitError("pattern");
    try {
      decoded = decodeMutf7(decoded);
    } catch (error) {
      if (!(error instanceof Mutf7Error)) throw error;
      throw new MailboxNameError(
        "mutf7",
        `mailbox pattern is not valid modified UTF-7: ${error.message}`,
      );
    }
  } else if (!decoded.isWellFormed()) {
    throw new MailboxNameError("utf8", "mailbox pattern is not valid UTF-8");
  }
  return decoded.normalize("NFC");
}

const STAR = -1;
const PERCENT = -2;
const SEPARATOR_UNIT = HIERARCHY_SEPARATOR.charCodeAt(0);

function compilePattern(pattern: string): Int32Array {
  const tokens: number[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "*" || c === "%") {
      const wildcard = c === "*" ? STAR : PERCENT;
      const last = tokens.length - 1;
      if (last >= 0 && tokens[last] < 0) {
        // "%*", "*%" and "**" all match what "*" matches; "%%" what "%" matches.
        if (wildcard === STAR) tokens[last] = STAR;
      } else {
        tokens.push(wildcard);
      }
    } else {
      tokens.push(pattern.charCodeAt(i));
    }
  }
  return Int32Array.from(tokens);
}

function upperAscii(unit: number): number {
  return unit >= 0x61 && unit <= 0x7a ? unit - 0x20 : unit;
}

/**
 * Builds the LIST/LSUB match for a reference and a pattern (RFC 9051 6.3.9), both already
 * decoded with `patternFromWire`. A pattern beginning with "/" ignores the reference; otherwise
 * the two are concatenated as the RFC's table shows. `*` matches anything, `%` anything but
 * "/". The top-level INBOX matches case-insensitively. The predicate takes canonical paths;
 * the LIST command also offers it each missing parent level of a match, which it reports
 * \NonExistent.
 *
 * @example
 * const match = listPatternMatcher("Archive/", "%");
 * match("Archive/2024"); // true
 * match("Archive/2024/Q1"); // false
 */
export function listPatternMatcher(reference: string, pattern: string): (path: string) => boolean {
  const combined = pattern.startsWith(HIERARCHY_SEPARATOR) ? pattern : reference + pattern;
  const tokens = compilePattern(combined);
  const states = tokens.length + 1;
  let current = new Uint8Array(states);
  let next = new Uint8Array(states);

  const closure = (set: Uint8Array) => {
    for (let s = 0; s < tokens.length; s++) if (set[s] && tokens[s] < 0) set[s + 1] = 1;
  };

  return (path: string): boolean => {
    const inboxPrefix = path.startsWith("INBOX") &&
      (path.length === 5 || path.charCodeAt(5) === SEPARATOR_UNIT);
    current.fill(0);
    current[0] = 1;
    closure(current);
    for (let i = 0; i < path.length; i++) {
      const unit = path.charCodeAt(i);
      const folded = inboxPrefix && i < 5;
      next.fill(0);
      let alive = false;
      for (let s = 0; s < tokens.length; s++) {
        if (!current[s]) continue;
        const token = tokens[s];
        if (token === STAR || (token === PERCENT && unit !== SEPARATOR_UNIT)) {
          next[s] = 1;
          alive = true;
        } else if (token === unit || (folded && token >= 0 && upperAscii(token) === unit)) {
          next[s + 1] = 1;
          alive = true;
        }
      }
      if (!alive) return false;
      closure(next);
      [current, next] = [next, current];
    }
    return current[tokens.length] === 1;
  };
}
