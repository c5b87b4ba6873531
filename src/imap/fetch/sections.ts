/**
 * The octets of BODY[section]<partial> (RFC 9051 6.4.5) and BINARY[section] (RFC 3516), as
 * Dovecot 2.3 returns them.
 *
 * Implementation notes:
 * - Part numbers are resolved as Dovecot does: in a multipart, N is the Nth child; in any
 *   other part only 1 is accepted, and it names the part itself; a further number is allowed
 *   only when that part is message/rfc822, and then walks into the encapsulated message. So
 *   BODY[1] of a single-part message is its body, and (a Dovecot leniency) BODY[2.1] of a
 *   text part 2 is that part's body too.
 * - Bodies end where Dovecot ends them (part_end.ts); NUL bytes go out as 0x80 in BODY[]
 *   (not in BINARY[]), as Dovecot sends them.
 * - A part that does not exist gives empty octets, not an error (Dovecot answers `{0}`).
 * - HEADER, HEADER.FIELDS(.NOT) and TEXT after a part number need a message/rfc822 part and
 *   are empty otherwise; MIME is the part's own header.
 * - HEADER.FIELDS keeps each selected field's bytes as written, folded lines included, in
 *   message order, then the empty line; names compare case-insensitively. A header line
 *   without a colon has the whole line as its name, so .NOT keeps it.
 */
import { decodeBase64, decodeQuotedPrintable } from "../../mail/decode.ts";
import type { MimePart } from "../../mail/mime.ts";
import { contentFields } from "./content.ts";
import { dovecotBodyEnd } from "./part_end.ts";

/** A section-spec (RFC 9051 9): the same shape as the wire parser's Section. */
export interface SectionSpec {
  /** Part numbers, `[]` for the whole message. */
  part: number[];
  text: "HEADER" | "HEADER.FIELDS" | "HEADER.FIELDS.NOT" | "TEXT" | "MIME" | null;
  /** Field names of HEADER.FIELDS(.NOT). */
  fields: string[];
}

/** `<origin.count>` of a partial fetch. */
export interface PartialRange {
  offset: number;
  length: number;
}

export type BinaryResult =
  | { ok: true; bytes: Uint8Array }
  | { ok: false; code: "UNKNOWN-CTE"; text: string };

const EMPTY = new Uint8Array(0);
const CRLF = new Uint8Array([13, 10]);

function isRfc822(part: MimePart): boolean {
  return part.type === "message" && part.subtype === "rfc822";
}

/**
 * The part a list of part numbers names, walked as Dovecot walks it, or null.
 *
 * @example
 * findPart(raw, root, [2, 1]); // the first part of the message that part 2 encapsulates
 */
export function findPart(
  raw: Uint8Array,
  root: MimePart,
  numbers: readonly number[],
): MimePart | null {
  let part: MimePart | null = root;
  for (let i = 0; i < numbers.length && part !== null; i++) {
    const num = numbers[i];
    const more = i + 1 < numbers.length;
    if (part.parts.length > 0) part = part.parts[num - 1] ?? null;
    else if (isChildlessMultipart(raw, part)) part = null;
    else if (num !== 1 || (more && !isRfc822(part))) part = null;
    if (part !== null && more && isRfc822(part)) part = part.message;
  }
  return part;
}

/** A multipart by its header that has no parts in the tree (no boundary, no delimiter). */
function isChildlessMultipart(raw: Uint8Array, part: MimePart): boolean {
  if (part.type !== "text" || part.subtype !== "plain") return false;
  return contentFields(raw, part.headerStart, part.headerEnd).type?.toLowerCase() === "multipart";
}

function headerLines(raw: Uint8Array, start: number, end: number): [string, number, number][] {
  const fields: [string, number, number][] = [];
  let p = start;
  while (p < end) {
    let le = p;
    while (le < end && raw[le] !== 13 && raw[le] !== 10) le++;
    if (le === p) break;
    let next = le;
    if (next < end) next += raw[next] === 13 && raw[next + 1] === 10 ? 2 : 1;
    if ((raw[p] === 32 || raw[p] === 9) && fields.length > 0) {
      fields[fields.length - 1][2] = next;
    } else {
      let colon = p;
      while (colon < le && raw[colon] !== 58) colon++;
      let nameEnd = colon;
      while (nameEnd > p && (raw[nameEnd - 1] === 32 || raw[nameEnd - 1] === 9)) nameEnd--;
      let name = "";
      for (let i = p; i < nameEnd; i++) name += String.fromCharCode(raw[i]);
      fields.push([name.toLowerCase(), p, next]);
    }
    p = next;
  }
  return fields;
}

function endsWithEmptyLine(raw: Uint8Array, start: number, end: number): boolean {
  if (end <= start || raw[end - 1] !== 10 && raw[end - 1] !== 13) return false;
  let p = end - 1;
  if (raw[p] === 10 && p > start && raw[p - 1] === 13) p--;
  return p === start || raw[p - 1] === 10 || raw[p - 1] === 13;
}

/** NUL cannot travel in a BODY[] literal (RFC 9051 4.3); Dovecot sends 0x80 instead. */
function withoutNul(bytes: Uint8Array): Uint8Array {
  if (bytes.indexOf(0) < 0) return bytes;
  return bytes.map((b) => b === 0 ? 0x80 : b);
}

function concat(pieces: Uint8Array[]): Uint8Array {
  let size = 0;
  for (const piece of pieces) size += piece.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const piece of pieces) {
    out.set(piece, at);
    at += piece.length;
  }
  return out;
}

/**
 * HEADER.FIELDS(.NOT) as Dovecot answers: with HEADER.FIELDS a selected last field that lacks
 * a line end gets CRLF (Dovecot serves it from its header cache); .NOT sends it as stored.
 */
function selectFields(
  raw: Uint8Array,
  start: number,
  end: number,
  names: readonly string[],
  not: boolean,
): Uint8Array {
  const out = headerFields(raw, start, end, names, not);
  if (not || endsWithEmptyLine(raw, start, end)) return out;
  const last = out[out.length - 1];
  return out.length === 0 || last === 10 || last === 13 ? out : concat([out, CRLF]);
}

/**
 * The fields of the header in raw[start, end) named (or, with `not`, not named) in `names`,
 * each as written, followed by the empty line.
 */
export function headerFields(
  raw: Uint8Array,
  start: number,
  end: number,
  names: readonly string[],
  not: boolean,
): Uint8Array {
  const wanted = new Set(names.map((n) => n.toLowerCase()));
  const pieces: Uint8Array[] = [];
  for (const [name, from, to] of headerLines(raw, start, end)) {
    if (wanted.has(name) !== not) pieces.push(raw.subarray(from, to));
  }
  // The empty line only when the header has one (a header-only message may not).
  if (endsWithEmptyLine(raw, start, end)) pieces.push(CRLF);
  return concat(pieces);
}

/**
 * A message/rfc822 part in base64 or quoted-printable, which the tree does not parse, read as
 * Dovecot reads it: its encoded body as the header, up to an empty line if there is one.
 */
function unparsedMessage(raw: Uint8Array, part: MimePart): MimePart {
  let headerEnd = part.bodyEnd;
  let lineStart = part.bodyStart;
  for (let p = part.bodyStart; p < part.bodyEnd; p++) {
    if (raw[p] !== 13 && raw[p] !== 10) continue;
    const eol = raw[p] === 13 && raw[p + 1] === 10 ? 2 : 1;
    if (p === lineStart) {
      headerEnd = p + eol;
      break;
    }
    p += eol - 1;
    lineStart = p + 1;
  }
  return {
    ...part,
    headerStart: part.bodyStart,
    headerEnd,
    bodyStart: headerEnd,
    bodyEnd: Math.max(headerEnd, part.bodyEnd),
    parts: [],
    message: null,
  };
}

/**
 * The octets of BODY[section]<partial>.
 *
 * @example
 * section(raw, root, { part: [1], text: "MIME", fields: [] }); // the header of part 1
 */
export function section(
  raw: Uint8Array,
  root: MimePart,
  spec: SectionSpec,
  partial: PartialRange | null = null,
): Uint8Array {
  const bytes = withoutNul(sectionBytes(raw, root, spec));
  if (partial === null) return bytes;
  if (partial.offset >= bytes.length) return EMPTY;
  return bytes.subarray(partial.offset, partial.offset + partial.length);
}

function sectionBytes(raw: Uint8Array, root: MimePart, spec: SectionSpec): Uint8Array {
  const part = findPart(raw, root, spec.part);
  if (part === null) return EMPTY;
  if (spec.text === null) {
    return spec.part.length === 0 ? raw : raw.subarray(part.bodyStart, dovecotBodyEnd(raw, part));
  }
  if (spec.text === "MIME") {
    return spec.part.length === 0 ? EMPTY : raw.subarray(part.headerStart, part.headerEnd);
  }
  let message: MimePart | null = part;
  if (spec.part.length > 0) {
    message = isRfc822(part) ? part.message ?? unparsedMessage(raw, part) : null;
  }
  if (message === null) return EMPTY;
  switch (spec.text) {
    case "HEADER":
      return raw.subarray(message.headerStart, message.headerEnd);
    case "TEXT":
      return raw.subarray(message.bodyStart, dovecotBodyEnd(raw, message));
    case "HEADER.FIELDS":
    case "HEADER.FIELDS.NOT":
      return selectFields(
        raw,
        message.headerStart,
        message.headerEnd,
        spec.fields,
        spec.text === "HEADER.FIELDS.NOT",
      );
  }
}

/**
 * BINARY[part]: the part's body with its Content-Transfer-Encoding undone (RFC 3516);
 * `UNKNOWN-CTE` for an encoding other than 7bit, 8bit, binary, base64 and quoted-printable.
 * An empty part list is the whole message as stored.
 *
 * @example
 * binary(raw, root, [2]); // { ok: true, bytes: <decoded attachment> }
 */
export function binary(raw: Uint8Array, root: MimePart, part: readonly number[]): BinaryResult {
  if (part.length === 0) return { ok: true, bytes: raw };
  const found = findPart(raw, root, part);
  if (found === null) return { ok: true, bytes: EMPTY };
  const body = raw.subarray(found.bodyStart, dovecotBodyEnd(raw, found));
  // Multipart and message/rfc822 parts are sent as stored (Dovecot would decode the parts
  // inside them and rewrite their headers; a known difference, see the interop test).
  if (found.parts.length > 0 || isRfc822(found)) return { ok: true, bytes: body };
  const encoding = (contentFields(raw, found.headerStart, found.headerEnd).encoding ?? "7bit")
    .toLowerCase();
  switch (encoding) {
    case "7bit":
    case "8bit":
    case "binary":
      return { ok: true, bytes: body };
    case "base64":
      return { ok: true, bytes: decodeBase64(body) };
    case "quoted-printable":
      return { ok: true, bytes: decodeQuotedPrintable(body) };
    default:
      return {
        ok: false,
        code: "UNKNOWN-CTE",
        text: `Unknown Content-Transfer-Encoding: ${encoding}`,
      };
  }
}

/** BINARY.SIZE[part]: the octets BINARY[part] would return, or the same error. */
export function binarySize(
  raw: Uint8Array,
  root: MimePart,
  part: readonly number[],
): { ok: true; size: number } | { ok: false; code: "UNKNOWN-CTE"; text: string } {
  const result = binary(raw, root, part);
  return result.ok ? { ok: true, size: result.bytes.length } : result;
}
