/**
 * vCard 3.0 (RFC 2426 over RFC 2425) and 4.0 (RFC 6350) as a CardDAV server stores them
 * (RFC 6352 5.1): a parser into content lines, the check a PUT must pass, and a folding
 * serializer for partial address-data.
 *
 * Implementation notes:
 * - The server never rewrites a stored card: a client gets back the bytes it PUT (RFC 6352 5.1,
 *   "3.0 stays 3.0"). Parsing exists to check, filter and select; `value` stays as on the wire
 *   (escapes and encodings intact) so a selected property serializes back to what was sent.
 * - One pass over physical lines, no recursion, no backtracking regex: a 1 MiB body costs linear
 *   time. Limits (`maxBytes` in UTF-8 octets, `maxLineBytes` per physical line, `maxProperties`
 *   per parse) are checked before the work they bound. `maxLineBytes` bounds a physical line, not
 *   an unfolded one, so a PHOTO folded at 75 octets (RFC 6350 3.2) fits; `maxBytes` bounds the
 *   unfolded property.
 * - Lenient where harmless (like Radicale): CRLF, LF or CR line ends; folds with a space or a tab
 *   (RFC 6350 3.2); a leading BOM; blank lines; lower-case names; vCard 2.1 leftovers inside a 3.0
 *   or 4.0 card: nameless parameters (`TEL;WORK:` is TYPE=WORK, `;QUOTED-PRINTABLE` is
 *   ENCODING) and quoted-printable soft line breaks (RFC 2045 6.7), which are joined so the value
 *   stays valid quoted-printable (a line starting with a space or tab is a fold even then).
 *   Underscores are accepted in names (seen in exports; RFC 6350 3.3 has only ALPHA / DIGIT / "-").
 * - Strict where it matters: control characters (RFC 6350 3.3 VALUE-CHAR), unpaired surrogates,
 *   unterminated quotes, content outside BEGIN:VCARD/END:VCARD, nesting, and a missing or
 *   repeated VERSION are refused. A VERSION other than 3.0 or 4.0 is `VCardVersionError` so a PUT
 *   can answer supported-address-data instead of valid-address-data (RFC 6352 6.3.2.1).
 * - `parseVCards` throws only `VCardError` (and its subclass); anything else escaping is a bug.
 */
import { utf8Length } from "./utf8.ts";

export { utf8Length };

/** Limits a parse must stay within; they come from config, never from the parser. */
export interface VCardLimits {
  maxBytes: number;
  maxLineBytes: number;
  maxProperties: number;
}

/** Malformed or oversized vCard text; `line` is the 1-based physical line it was noticed on. */
export class VCardError extends Error {
  constructor(message: string, readonly line: number) {
    super(line > 0 ? `line ${line}: ${message}` : message);
    this.name = "VCardError";
  }
}

/** A well-formed vCard of a version this server does not store (2.1, 5.0, ...). */
export class VCardVersionError extends VCardError {
  constructor(readonly version: string, line: number) {
    super(`vCard version ${JSON.stringify(version)} is not supported (3.0 and 4.0 are)`, line);
    this.name = "VCardVersionError";
  }
}

/** One content line (RFC 6350 3.3): `[group "."] name *(";" param) ":" value`. */
export interface VCardProperty {
  group: string | null;
  /** Upper-cased. */
  name: string;
  /** Names upper-cased; values without their quotes, split at unquoted commas. */
  params: Map<string, string[]>;
  /** As on the wire after unfolding: escapes and encodings intact. */
  value: string;
}

/** The content lines between BEGIN:VCARD and END:VCARD, in order, VERSION included. */
export interface VCard {
  version: "3.0" | "4.0";
  properties: VCardProperty[];
}

/** The outcome of checking a PUT body (RFC 6352 5.1, 6.3.2.1). */
export type AddressObjectCheck =
  | { ok: true; uid: string; version: "3.0" | "4.0" }
  | {
    ok: false;
    precondition: "valid-address-data" | "supported-address-data";
    message: string;
  };

const LINE_BREAK = /\r\n|\n|\r/;
// Control characters are exactly what this refuses (RFC 6350 3.3: VALUE-CHAR is WSP / VCHAR /
// NON-ASCII); line breaks are gone by the time it runs.
// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x08\x0A-\x1F\x7F]/;
const NAME_CHAR = /[A-Za-z0-9_-]/;
// vCard 2.1 nameless parameters that are encodings; every other nameless one is a TYPE.
const ENCODINGS = new Set(["QUOTED-PRINTABLE", "BASE64", "8BIT", "7BIT"]);
const FOLD_OCTETS = 75;

interface PendingLine {
  parts: string[];
  line: number;
  /** The unfolded text before the first ":" while it is still being read. */
  head: string;
  headDone: boolean;
  quotedPrintable: boolean;
}

function extend(pending: PendingLine, part: string): void {
  pending.parts.push(part);
  if (pending.headDone) return;
  const colon = part.indexOf(":");
  pending.head += colon < 0 ? part : part.slice(0, colon);
  if (colon < 0) return;
  pending.headDone = true;
  pending.quotedPrintable = pending.head.toUpperCase().includes("QUOTED-PRINTABLE");
}

/**
 * Every vCard in `text`, in order.
 *
 * @example
 * const [card] = parseVCards("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:1\r\nEND:VCARD\r\n", limits);
 * card.properties[1].value; // "1"
 */
export function parseVCards(text: string, limits: VCardLimits): VCard[] {
  if (text.length > limits.maxBytes || utf8Length(text) > limits.maxBytes) {
    throw new VCardError(`vCard data larger than ${limits.maxBytes} octets`, 0);
  }
  if (!text.isWellFormed()) throw new VCardError("unpaired UTF-16 surrogate", 0);
  const lines = (text.startsWith("\uFEFF") ? text.slice(1) : text).split(LINE_BREAK);
  const builder = new CardBuilder(limits.maxProperties);
  let pending: PendingLine | null = null;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i];
    const line = i + 1;
    if (raw.length > limits.maxLineBytes / 3 && utf8Length(raw) > limits.maxLineBytes) {
      throw new VCardError(`line longer than ${limits.maxLineBytes} octets`, line);
    }
    if (CONTROL.test(raw)) throw new VCardError("control character", line);
    if (pending !== null) {
      // Folding first (RFC 6350 3.2): a fold may fall right after a quoted-printable "=".
      if (raw.startsWith(" ") || raw.startsWith("\t")) {
        extend(pending, raw.slice(1));
        continue;
      }
      const last = pending.parts[pending.parts.length - 1];
      if (pending.quotedPrintable && last.endsWith("=")) {
        // RFC 2045 6.7 soft line break: "=" at the end joins the next line as it is.
        pending.parts[pending.parts.length - 1] = last.slice(0, -1);
        extend(pending, raw);
        continue;
      }
      builder.add(parseContentLine(pending.parts.join(""), pending.line), pending.line);
      pending = null;
    }
    if (raw.trim() === "") continue;
    if (raw.startsWith(" ") || raw.startsWith("\t")) {
      throw new VCardError("continuation line with nothing to continue", line);
    }
    pending = { parts: [], line, head: "", headDone: false, quotedPrintable: false };
    extend(pending, raw);
  }
  if (pending !== null) {
    builder.add(parseContentLine(pending.parts.join(""), pending.line), pending.line);
  }
  return builder.finish();
}

class CardBuilder {
  readonly cards: VCard[] = [];
  private open: { properties: VCardProperty[]; line: number } | null = null;
  private count = 0;

  constructor(private readonly maxProperties: number) {}

  add(property: VCardProperty, line: number): void {
    if (property.name === "BEGIN") {
      if (property.value.trim().toUpperCase() !== "VCARD") {
        throw new VCardError(`BEGIN:${property.value} is not a vCard`, line);
      }
      if (this.open !== null) throw new VCardError("BEGIN:VCARD inside a vCard", line);
      this.open = { properties: [], line };
      return;
    }
    if (this.open === null) throw new VCardError(`${property.name} outside BEGIN:VCARD`, line);
    if (property.name === "END") {
      if (property.value.trim().toUpperCase() !== "VCARD") {
        throw new VCardError(`END:${property.value} inside a vCard`, line);
      }
      this.cards.push({ version: cardVersion(this.open.properties, line), ...this.open });
      this.open = null;
      return;
    }
    if (++this.count > this.maxProperties) {
      throw new VCardError(`more than ${this.maxProperties} properties`, line);
    }
    this.open.properties.push(property);
  }

  finish(): VCard[] {
    if (this.open !== null) {
      throw new VCardError(`BEGIN:VCARD on line ${this.open.line} has no END:VCARD`, 0);
    }
    return this.cards.map((card) => ({ version: card.version, properties: card.properties }));
  }
}

function cardVersion(properties: VCardProperty[], line: number): "3.0" | "4.0" {
  const versions = properties.filter((p) => p.name === "VERSION");
  if (versions.length !== 1) {
    throw new VCardError(`a vCard needs exactly one VERSION, found ${versions.length}`, line);
  }
  const version = versions[0].value.trim();
  if (version !== "3.0" && version !== "4.0") throw new VCardVersionError(version, line);
  return version;
}

function scanName(text: string, from: number): number {
  let i = from;
  while (i < text.length && NAME_CHAR.test(text[i])) i++;
  return i;
}

function parseContentLine(text: string, line: number): VCardProperty {
  let i = scanName(text, 0);
  let group: string | null = null;
  if (text[i] === ".") {
    group = text.slice(0, i);
    i = scanName(text, i + 1);
  }
  const name = text.slice(group === null ? 0 : group.length + 1, i).toUpperCase();
  if (group === "" || name === "") throw new VCardError("missing property name", line);
  const params = new Map<string, string[]>();
  while (text[i] === ";") {
    const start = i + 1;
    i = scanName(text, start);
    const paramName = text.slice(start, i);
    if (paramName === "") throw new VCardError(`bad parameter in ${name}`, line);
    if (text[i] !== "=") {
      // vCard 2.1 leftover: a bare value names its parameter by what it is.
      const key = ENCODINGS.has(paramName.toUpperCase()) ? "ENCODING" : "TYPE";
      addParam(params, key, [paramName]);
      continue;
    }
    const values: string[] = [];
    do {
      i++;
      if (text[i] === '"') {
        const close = text.indexOf('"', i + 1);
        if (close < 0) throw new VCardError(`unterminated quote in ${name}`, line);
        values.push(text.slice(i + 1, close));
        i = close + 1;
      } else {
        const start = i;
        while (i < text.length && !',;:"'.includes(text[i])) i++;
        values.push(text.slice(start, i));
      }
    } while (text[i] === ",");
    addParam(params, paramName.toUpperCase(), values);
  }
  if (text[i] !== ":") {
    throw new VCardError(`expected ":" after ${name || "the property name"}`, line);
  }
  return { group, name, params, value: text.slice(i + 1) };
}

function addParam(params: Map<string, string[]>, name: string, values: string[]): void {
  const existing = params.get(name);
  if (existing) existing.push(...values);
  else params.set(name, values);
}

/**
 * Whether `text` may be stored as an address object resource: exactly one vCard
 * (RFC 6352 5.1), VERSION 3.0 or 4.0 (6.3.2.1 supported-address-data), exactly one non-empty UID
 * (RFC 6352 5.1, RFC 6350 6.7.6). FN and N are not required: RFC 2426 3.1.1-3.1.2 and RFC 6350
 * 6.2.1 ask for them, but the server never reads them and refusing would lose a client's data.
 *
 * @example
 * checkAddressObject("BEGIN:VCARD\nVERSION:3.0\nUID:a\nEND:VCARD\n", limits); // ok, uid "a"
 */
export function checkAddressObject(text: string, limits: VCardLimits): AddressObjectCheck {
  let cards: VCard[];
  try {
    cards = parseVCards(text, limits);
  } catch (error) {
    if (!(error instanceof VCardError)) throw error;
    const precondition = error instanceof VCardVersionError
      ? "supported-address-data"
      : "valid-address-data";
    return { ok: false, precondition, message: error.message };
  }
  if (cards.length !== 1) {
    const message = cards.length === 0
      ? "no vCard found"
      : `an address object holds exactly one vCard, found ${cards.length}`;
    return { ok: false, precondition: "valid-address-data", message };
  }
  const [card] = cards;
  const uids = card.properties.filter((p) => p.name === "UID");
  if (uids.length !== 1 || uids[0].value.trim() === "") {
    const message = uids.length > 1 ? "more than one UID" : "the vCard has no UID";
    return { ok: false, precondition: "valid-address-data", message };
  }
  return { ok: true, uid: uids[0].value, version: card.version };
}

/**
 * A property's value as text for matching: quoted-printable decoded (RFC 2045 6.7, 2.1
 * leftovers) and text escapes undone (RFC 6350 3.4, RFC 2426 4).
 *
 * @example
 * propertyText({ group: null, name: "FN", params: new Map(), value: "Doe\\, J." }); // "Doe, J."
 */
export function propertyText(property: VCardProperty): string {
  let value = property.value;
  const encoding = property.params.get("ENCODING") ?? [];
  if (encoding.some((e) => e.toUpperCase() === "QUOTED-PRINTABLE")) {
    value = decodeQuotedPrintable(value, property.params.get("CHARSET")?.[0] ?? "utf-8");
  }
  return value.replace(/\\([\\,;nN])/g, (_, c: string) => c === "n" || c === "N" ? "\n" : c);
}

/** A parameter value as text: RFC 6868 caret escapes undone. */
export function paramText(value: string): string {
  return value.replace(/\^([n^'])/g, (_, c: string) => c === "n" ? "\n" : c === "'" ? '"' : "^");
}

// Escaped octets are decoded in runs with the declared charset; characters written as
// themselves stay as they are.
function decodeQuotedPrintable(value: string, charset: string): string {
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(charset);
  } catch {
    decoder = new TextDecoder("utf-8");
  }
  let out = "";
  let octets: number[] = [];
  let literal = 0;
  const flush = () => {
    if (octets.length > 0) out += decoder.decode(Uint8Array.from(octets));
    octets = [];
  };
  for (let i = value.indexOf("="); i >= 0; i = value.indexOf("=", i + 1)) {
    const hex = value.slice(i + 1, i + 3);
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) continue;
    if (i > literal) {
      flush();
      out += value.slice(literal, i);
    }
    octets.push(parseInt(hex, 16));
    literal = i + 3;
    i += 2;
  }
  flush();
  return out + value.slice(literal);
}

/**
 * One content line, folded at 75 octets without splitting a character (RFC 6350 3.2), ending in
 * CRLF. With `novalue` the value is left out, the ":" kept (RFC 6352 10.4.2).
 *
 * @example
 * formatContentLine({ group: "item1", name: "EMAIL", params: new Map(), value: "a@b" });
 * // "item1.EMAIL:a@b\r\n"
 */
export function formatContentLine(property: VCardProperty, novalue = false): string {
  let line = property.group === null ? property.name : `${property.group}.${property.name}`;
  for (const [name, values] of property.params) {
    line += `;${name}=` + values.map((v) => /[,;:]/.test(v) ? `"${v}"` : v).join(",");
  }
  line += ":" + (novalue ? "" : property.value);
  return foldLine(line);
}

function foldLine(line: string): string {
  if (line.length <= FOLD_OCTETS / 3 || utf8Length(line) <= FOLD_OCTETS) return line + "\r\n";
  const out: string[] = [];
  let octets = 0;
  for (const char of line) {
    const size = utf8Length(char);
    if (octets + size > FOLD_OCTETS) {
      out.push("\r\n ");
      octets = 1;
    }
    out.push(char);
    octets += size;
  }
  out.push("\r\n");
  return out.join("");
}
