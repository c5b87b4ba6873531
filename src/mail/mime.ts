/**
 * The MIME tree of a message with byte offsets into the original bytes (RFC 2045, RFC 2046),
 * computed once at ingest and stored; IMAP BODYSTRUCTURE and BODY[section], JMAP bodyStructure
 * and text extraction read it back without parsing again.
 *
 * Implementation notes:
 * - One pass, no recursion: a stack of open parts; the body is searched for "--" at line starts
 *   with indexOf, and each candidate is compared against the open boundaries, innermost first.
 *   An outer boundary closes every part nested inside it (RFC 2046 5.1.2), so a missing close
 *   delimiter costs nothing. With no open boundary the rest of the message is not scanned.
 * - CRLF, bare LF and bare CR all end a line; the buffer is never normalised, offsets are the
 *   caller's bytes. The line end before a delimiter belongs to the delimiter (RFC 2046 5.1.1).
 * - Limits are checked before any work they guard: depth and part count before a part is
 *   opened, header size while its header is scanned (a 20 MB header stops at maxHeaderSize).
 *   MimeLimitError is the only exception parseMime throws.
 * - Malformed input is read as well as it can be: a header without an empty line runs to the
 *   part end (empty body); a multipart with no boundary parameter or no delimiter in its body
 *   becomes a text/plain leaf (so IMAP never sees a multipart without children); a
 *   message/rfc822 body in base64 or quoted-printable stays a leaf with `message: null`.
 * - Section numbers follow RFC 9051 6.4.5; see findSection for how consumers resolve them.
 */
import { headerBytesToString } from "./charset.ts";
import { applyContentField, contentFieldName } from "./content_fields.ts";
import { scanFieldSpans, unfold } from "./headers.ts";

export { decodePartBody, partText } from "./decode.ts";

export interface MimeLimits {
  maxHeaderSize: number;
  maxDepth: number;
  maxParts: number;
}

export class MimeLimitError extends Error {
  constructor(readonly limit: "header_size" | "depth" | "parts", message: string) {
    super(message);
    this.name = "MimeLimitError";
  }
}

export interface MimePart {
  /**
   * IMAP section number: "" for the root message, "1", "1.2", ... The encapsulated root of a
   * message/rfc822 part numbered N is numbered N too (its parts are "N.1", "N.2"); when the
   * message/rfc822 part is itself a non-multipart message root (section R), its encapsulated
   * root is "R.1" ("1" at top level), as RFC 9051 6.4.5 numbers the body of such a message.
   */
  section: string;
  /** Byte offset of the first header line of this part. */
  headerStart: number;
  /** Just after the empty line that ends the header (== bodyStart); part end if none. */
  headerEnd: number;
  bodyStart: number;
  /** Exclusive; the line end before a boundary delimiter is not part of the body. */
  bodyEnd: number;
  /** Lowercased media type; "text" by default ("message" inside multipart/digest). */
  type: string;
  /** Lowercased subtype; "plain" by default ("rfc822" inside multipart/digest). */
  subtype: string;
  /** Lowercased names; RFC 2231 continuations and charsets decoded; quotes removed. */
  params: Record<string, string>;
  /** Lowercased Content-Disposition value, or null. */
  disposition: string | null;
  dispositionParams: Record<string, string>;
  id: string | null;
  description: string | null;
  /** Lowercased Content-Transfer-Encoding; "7bit" by default. */
  encoding: string;
  md5: string | null;
  language: string[] | null;
  location: string | null;
  /** Lines in the body, counted for text/* and message/* parts only (0 for others). */
  lines: number;
  /** Children of a multipart. */
  parts: MimePart[];
  /** The encapsulated message of a message/rfc822 or message/global part, or null. */
  message: MimePart | null;
}

interface Frame {
  part: MimePart;
  depth: number;
  /** Boundary bytes without the leading "--", for open multiparts. */
  boundary: Uint8Array | null;
  closed: boolean;
  /** The header had no empty line: it ends where the part ends and the body is empty. */
  headerOpen: boolean;
  children: number;
}

const CR = 13;
const LF = 10;
const DASH = 45;
const encoder = new TextEncoder();

class Parser {
  private readonly n: number;
  private readonly stack: Frame[] = [];
  private openBoundaries = 0;
  private count = 0;
  /** Results of the last successful matchDelimiter. */
  private matchClose = false;
  private matchNext = 0;
  private matchAt = 0;
  /** Where the search for the next delimiter resumes after opening a part. */
  private cursor = 0;

  constructor(private readonly raw: Uint8Array, private readonly limits: MimeLimits) {
    this.n = raw.length;
  }

  parse(): MimePart {
    const root = this.open(0, "", 0, false, true);
    let cursor = this.cursor;
    while (this.openBoundaries > 0) {
      const fi = this.findDelimiter(cursor);
      if (fi < 0) break;
      // A part whose empty line is the line end before the delimiter ends after that line end;
      // the parts around it must then end there too, so the running maximum keeps them nested.
      let end = this.matchAt - this.eolBefore(this.matchAt);
      while (this.stack.length - 1 > fi) end = this.close(this.stack.pop()!, end);
      const frame = this.stack[fi];
      if (this.matchClose) {
        frame.closed = true;
        this.openBoundaries--;
        cursor = this.matchNext;
        continue;
      }
      const parent = frame.part;
      const number = ++frame.children;
      const section = parent.section === "" ? String(number) : `${parent.section}.${number}`;
      parent.parts.push(
        this.open(this.matchNext, section, frame.depth + 1, parent.subtype === "digest", false),
      );
      cursor = this.cursor;
    }
    while (this.stack.length > 0) this.close(this.stack.pop()!, this.n);
    return root;
  }

  /** Opens a part at pos, and the chain of messages encapsulated in it; returns the first. */
  private open(
    pos: number,
    section: string,
    depth: number,
    inDigest: boolean,
    isMessageRoot: boolean,
  ): MimePart {
    let first: MimePart | null = null;
    let container: MimePart | null = null;
    for (;;) {
      if (depth > this.limits.maxDepth) {
        throw new MimeLimitError("depth", `MIME nesting deeper than ${this.limits.maxDepth}`);
      }
      if (++this.count > this.limits.maxParts) {
        throw new MimeLimitError("parts", `more than ${this.limits.maxParts} MIME parts`);
      }
      const [headerEnd, headerOpen] = this.scanHeader(pos);
      const part = this.buildPart(pos, headerEnd, section, inDigest);
      const frame: Frame = { part, depth, boundary: null, closed: false, headerOpen, children: 0 };
      this.stack.push(frame);
      if (container) container.message = part;
      first ??= part;
      this.cursor = headerEnd;
      if (headerOpen) break;
      if (part.type === "multipart") {
        const boundary = part.params.boundary;
        if (boundary) {
          frame.boundary = boundaryBytes(boundary, this.raw.subarray(pos, headerEnd));
          this.openBoundaries++;
        }
        break;
      }
      const encapsulates = part.type === "message" &&
        (part.subtype === "rfc822" || part.subtype === "global") &&
        (part.encoding === "7bit" || part.encoding === "8bit" || part.encoding === "binary");
      if (!encapsulates) break;
      container = part;
      pos = headerEnd;
      if (isMessageRoot) section = section === "" ? "1" : `${section}.1`;
      isMessageRoot = true;
      inDigest = false;
      depth++;
    }
    return first;
  }

  /** Returns [headerEnd, headerOpen]; throws when the header exceeds maxHeaderSize. */
  private scanHeader(pos: number): [number, boolean] {
    const raw = this.raw;
    const n = this.n;
    const max = this.limits.maxHeaderSize;
    const limit = Math.min(n, pos + max + 1);
    let p = pos;
    for (;;) {
      if (p >= n) return [n, true];
      const b = raw[p];
      if (b === CR || b === LF) {
        const end = p + this.eolAt(p);
        if (end - pos > max) break;
        return [end, false];
      }
      if (b === DASH && this.openBoundaries > 0 && raw[p + 1] === DASH && this.match(p) >= 0) {
        return [p, true];
      }
      while (p < limit && raw[p] !== CR && raw[p] !== LF) p++;
      if (p >= limit && p < n) break;
      if (p < n) p += this.eolAt(p);
      if (p - pos > max) break;
    }
    throw new MimeLimitError("header_size", `MIME header larger than ${max} bytes`);
  }

  private eolAt(p: number): number {
    return this.raw[p] === CR && this.raw[p + 1] === LF ? 2 : 1;
  }

  private eolBefore(q: number): number {
    const raw = this.raw;
    if (q > 0 && raw[q - 1] === LF) return q > 1 && raw[q - 2] === CR ? 2 : 1;
    return q > 0 && raw[q - 1] === CR ? 1 : 0;
  }

  /** The next delimiter line at or after `from` (a line start); index of its frame or -1. */
  private findDelimiter(from: number): number {
    const raw = this.raw;
    let i = from;
    for (;;) {
      i = raw.indexOf(DASH, i);
      if (i < 0 || i + 1 >= this.n) return -1;
      if (
        raw[i + 1] === DASH && (i === from || raw[i - 1] === LF || raw[i - 1] === CR)
      ) {
        const fi = this.match(i);
        if (fi >= 0) return fi;
      }
      // raw[i] is "-", so i + 1 cannot start a line.
      i += 2;
    }
  }

  /** Whether the line at q ("--" known) is a delimiter of an open multipart; its frame index. */
  private match(q: number): number {
    const raw = this.raw;
    const n = this.n;
    for (let fi = this.stack.length - 1; fi >= 0; fi--) {
      const frame = this.stack[fi];
      const b = frame.boundary;
      if (b === null || frame.closed || q + 2 + b.length > n) continue;
      let j = q + 2;
      let k = 0;
      while (k < b.length && raw[j + k] === b[k]) k++;
      if (k < b.length) continue;
      j += k;
      const close = raw[j] === DASH && raw[j + 1] === DASH;
      if (close) j += 2;
      while (j < n && (raw[j] === 32 || raw[j] === 9)) j++;
      if (j < n && raw[j] !== CR && raw[j] !== LF) continue;
      this.matchAt = q;
      this.matchClose = close;
      this.matchNext = j < n ? j + this.eolAt(j) : n;
      return fi;
    }
    return -1;
  }

  /** Sets the part's end (at least its body start) and returns it. */
  private close(frame: Frame, end: number): number {
    const part = frame.part;
    if (frame.boundary !== null && !frame.closed) this.openBoundaries--;
    if (frame.headerOpen) {
      const e = Math.max(part.headerStart, Math.min(end, part.headerEnd));
      part.headerEnd = part.bodyStart = part.bodyEnd = e;
    } else {
      part.bodyEnd = Math.max(part.bodyStart, end);
    }
    if (part.type === "multipart" && part.parts.length === 0) {
      part.type = "text";
      part.subtype = "plain";
    }
    if (part.type === "text" || part.type === "message") {
      part.lines = countLines(this.raw.subarray(part.bodyStart, part.bodyEnd));
    }
    return part.bodyEnd;
  }

  private buildPart(start: number, end: number, section: string, inDigest: boolean): MimePart {
    const part: MimePart = {
      section,
      headerStart: start,
      headerEnd: end,
      bodyStart: end,
      bodyEnd: end,
      type: inDigest ? "message" : "text",
      subtype: inDigest ? "rfc822" : "plain",
      params: inDigest ? {} : { charset: "us-ascii" },
      disposition: null,
      dispositionParams: {},
      id: null,
      description: null,
      encoding: "7bit",
      md5: null,
      language: null,
      location: null,
      lines: 0,
      parts: [],
      message: null,
    };
    const seen: string[] = [];
    for (const span of scanFieldSpans(this.raw, start, end)) {
      const name = contentFieldName(this.raw, span);
      if (name === null || seen.includes(name)) continue;
      seen.push(name);
      const value = unfold(headerBytesToString(this.raw.subarray(span.valueStart, span.valueEnd)));
      applyContentField(part, name, value);
    }
    return part;
  }
}

/**
 * The bytes of a boundary parameter as written in the header. Boundaries are ASCII by RFC 2046;
 * an 8-bit one was decoded as UTF-8 if valid, else as Latin-1, so re-encode it the same way.
 */
function boundaryBytes(boundary: string, header: Uint8Array): Uint8Array {
  const utf8 = encoder.encode(boundary);
  if (utf8.length === boundary.length) return utf8;
  outer: for (let i = 0; i + utf8.length <= header.length; i++) {
    for (let k = 0; k < utf8.length; k++) if (header[i + k] !== utf8[k]) continue outer;
    return utf8;
  }
  return Uint8Array.from(boundary, (c) => c.charCodeAt(0) & 0xff);
}

function countLines(body: Uint8Array): number {
  let lines = 0;
  for (let i = body.indexOf(LF); i >= 0; i = body.indexOf(LF, i + 1)) lines++;
  for (let i = body.indexOf(CR); i >= 0; i = body.indexOf(CR, i + 1)) {
    if (body[i + 1] !== LF) lines++;
  }
  const last = body[body.length - 1];
  if (body.length > 0 && last !== LF && last !== CR) lines++;
  return lines;
}

/**
 * Parses a message into its MIME tree. Throws MimeLimitError when a limit is exceeded and
 * nothing else, whatever the input.
 *
 * @example
 * const root = parseMime(bytes, { maxHeaderSize: 65536, maxDepth: 50, maxParts: 1000 });
 * root.parts.map((p) => p.section); // ["1", "2"]
 */
export function parseMime(raw: Uint8Array, limits: MimeLimits): MimePart {
  return new Parser(raw, limits).parse();
}

/**
 * The part an IMAP section number names (RFC 9051 6.4.5), or null. "" is the root. For a
 * non-multipart message (the root, or a message/rfc822 part's `message`), section "1" (or
 * "N.1") names that same part: BODY[1] is its body (bodyStart..bodyEnd). For a message/rfc822
 * part, BODY[N] is its body (the whole encapsulated message) and BODY[N.HEADER] / BODY[N.TEXT]
 * are `message.headerStart..headerEnd` / `message.bodyStart..bodyEnd`; BODY[N.MIME] is the
 * returned part's own header. A leaf that is not a message has no subsections.
 *
 * @example
 * findSection(root, "2.1")?.subtype; // "plain"
 */
export function findSection(root: MimePart, section: string): MimePart | null {
  if (section === "") return root;
  let container = root;
  let isMessageRoot = true;
  let found: MimePart | null = null;
  for (const item of section.split(".")) {
    if (found !== null) {
      isMessageRoot = found.message !== null;
      container = found.message ?? found;
    }
    if (!/^[1-9][0-9]{0,8}$/.test(item)) return null;
    const n = Number(item);
    if (container.type === "multipart") found = container.parts[n - 1] ?? null;
    else if (isMessageRoot && n === 1) found = container;
    else found = null;
    if (found === null) return null;
  }
  return found;
}
