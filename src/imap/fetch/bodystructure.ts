/**
 * BODY and BODYSTRUCTURE (RFC 9051 7.5.2), byte for byte as Dovecot 2.3 writes them.
 *
 * Implementation notes:
 * - The stored MimePart gives the structure (children, byte offsets, the encapsulated message);
 *   everything written about a part is read again from its raw header (content.ts), because
 *   IMAP needs the header as written: types, subtypes, parameter names and values keep their
 *   case, RFC 2231 parameters stay encoded. Clients see e.g. ("TEXT" "PLAIN" ("CHARSET" ...)).
 * - text/* parts without a charset get ("charset" "us-ascii") after their own parameters; a
 *   part without Content-Type is "text" "plain".
 * - Sizes and line counts of message/rfc822 parts use Dovecot's body end (part_end.ts).
 * - Line counts are the LF bytes of the body (a last line without a line end does not count),
 *   for text/* and message/rfc822 only; sizes are body octets.
 * - Dovecot quirks kept (a client can see each): a multipart that has no parts (no boundary, or
 *   no delimiter in the body) is written with one empty text/plain part; a message/rfc822 part
 *   whose message was not parsed (base64 or quoted-printable encoded) gets an all-NIL envelope
 *   and an empty text/plain body; message/global is a plain leaf (no envelope, no lines); a
 *   Content-Type Dovecot cannot read is written "" "" with no parameters.
 */
import type { MimePart } from "../../mail/mime.ts";
import { type ContentFields, contentFields, type Params } from "./content.ts";
import { envelopeString } from "./envelope.ts";
import { fromByteString, nstring, nstringNoLf } from "./imap_string.ts";
import { dovecotBodyEnd } from "./part_end.ts";

const EMPTY_BODY = '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0)';
const EMPTY_BODYSTRUCTURE =
  '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL)';
const EMPTY_ENVELOPE = "NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL";

function params(list: Params, defaultCharset: boolean): string {
  if (!defaultCharset && list.length === 0) return "NIL";
  const items = list.map(([name, value]) => `${nstring(name)} ${nstring(value)}`);
  if (defaultCharset && !list.some(([name]) => name.toLowerCase() === "charset")) {
    items.push('"charset" "us-ascii"');
  }
  return `(${items.join(" ")})`;
}

function countLines(raw: Uint8Array, start: number, end: number): number {
  let lines = 0;
  for (let i = raw.indexOf(10, start); i >= 0 && i < end; i = raw.indexOf(10, i + 1)) lines++;
  return lines;
}

/** Disposition, language and location: the extension data every part ends with. */
function commonExtension(fields: ContentFields): string {
  const disposition = fields.disposition === null
    ? "NIL"
    : `(${nstring(fields.disposition)} ${params(fields.dispositionParams, false)})`;
  const language = fields.language === null
    ? "NIL"
    : `(${fields.language.map((tag) => nstring(tag)).join(" ")})`;
  return `${disposition} ${language} ${nstringNoLf(fields.location)}`;
}

function isMultipart(part: MimePart, fields: ContentFields): boolean {
  return part.parts.length > 0 || fields.type?.toLowerCase() === "multipart";
}

function write(raw: Uint8Array, part: MimePart, extended: boolean): string {
  const fields = contentFields(raw, part.headerStart, part.headerEnd);
  if (isMultipart(part, fields)) {
    const children = part.parts.length > 0
      ? part.parts.map((child) => write(raw, child, extended)).join("")
      : extended
      ? EMPTY_BODYSTRUCTURE
      : EMPTY_BODY;
    let out = `(${children} ${nstring(fields.subtype)}`;
    if (extended) out += ` ${params(fields.params, false)} ${commonExtension(fields)}`;
    return `${out})`;
  }
  const rfc822 = part.type === "message" && part.subtype === "rfc822";
  let text = false;
  let out: string;
  if (rfc822) {
    out = `"message" "rfc822" ${params(fields.params, false)}`;
  } else if (fields.type === null) {
    text = true;
    out = `"text" "plain" ${params(fields.params, true)}`;
  } else {
    text = fields.type.toLowerCase() === "text";
    out = `${nstring(fields.type)} ${nstring(fields.subtype)} ${params(fields.params, text)}`;
  }
  const bodyEnd = rfc822 ? dovecotBodyEnd(raw, part) : part.bodyEnd;
  out += ` ${nstringNoLf(fields.id)} ${nstringNoLf(fields.description)} ${
    nstring(fields.encoding ?? "7bit")
  } ${bodyEnd - part.bodyStart}`;
  if (text) {
    out += ` ${countLines(raw, part.bodyStart, part.bodyEnd)}`;
  } else if (rfc822) {
    const message = part.message;
    const inner = message === null
      ? `(${EMPTY_ENVELOPE}) ${extended ? EMPTY_BODYSTRUCTURE : EMPTY_BODY}`
      : `(${envelopeString(raw, message)}) ${write(raw, message, extended)}`;
    out += ` ${inner} ${countLines(raw, part.bodyStart, bodyEnd)}`;
  }
  if (extended) out += ` ${nstringNoLf(fields.md5)} ${commonExtension(fields)}`;
  return `(${out})`;
}

/**
 * BODYSTRUCTURE (extended) or BODY (not extended) of a message or part, as wire bytes.
 *
 * @example
 * bodyStructure(raw, root, true); // bytes of ("text" "plain" ("charset" "us-ascii") NIL ...)
 */
export function bodyStructure(raw: Uint8Array, part: MimePart, extended: boolean): Uint8Array {
  return fromByteString(bodyStructureString(raw, part, extended));
}

/** The same as a byte string (see imap_string.ts). */
export function bodyStructureString(raw: Uint8Array, part: MimePart, extended: boolean): string {
  return write(raw, part, extended);
}
