/**
 * The JMAP Email properties that are read from the message bytes (RFC 8621 4.1): header fields
 * in every parsed form, the body part tree, the textBody/htmlBody/attachments lists and the body
 * values, with the Email/get arguments of RFC 8621 4.2. Email/get and Email/parse build on it.
 *
 * Implementation notes:
 * - Works from the MIME tree stored at ingest: nothing is parsed twice, and no input makes it
 *   throw. Header fields of a part are scanned once, the first time a property needs them.
 * - Forms a header field may not use (RFC 8621 4.1.2.2 to 4.1.2.7, e.g. header:From:asDate)
 *   make parseHeaderProperty return null, so the caller can answer invalidArguments (4.2);
 *   renderEmailProperties skips any property it does not know.
 * - Body parts never descend into message/rfc822 or message/global (4.1.4): such a part is a
 *   leaf whose blob is the attached message.
 * - partId is the IMAP section (RFC 9051 6.4.5), "0" for a non-multipart message root, and the
 *   blob id of a part is derived from it, so a part blob resolves with findSection alone.
 * - With maxBodyValueBytes set, a body value is decoded from a bounded window of the encoded
 *   body, so a short value of a 40 MB text part costs kilobytes, not the whole part.
 */
import { decodeUtf7, getDecoder, isUtf7 } from "../mail/charset.ts";
import { decodePartBody } from "../mail/decode.ts";
import {
  decodeEncodedWords,
  type EmailAddress,
  type HeaderField,
  parseAddressList,
  parseDate,
  parseGroupedAddresses,
  parseHeaderFields,
  parseMessageIds,
  unfold,
} from "../mail/headers.ts";
import type { MimePart } from "../mail/mime.ts";
import { type BodyParts, bodyParts, type ExtractedText, extractText } from "../mail/text.ts";

export type { EmailAddress };

export interface RenderOptions {
  /** Which body values to fetch (Email/get arguments). */
  fetchTextBodyValues: boolean;
  fetchHTMLBodyValues: boolean;
  fetchAllBodyValues: boolean;
  /** 0 = no limit; otherwise each value is cut to at most this many UTF-8 bytes. */
  maxBodyValueBytes: number;
  /** The bodyProperties argument; null = DEFAULT_BODY_PROPERTIES. */
  bodyProperties: string[] | null;
}

export type HeaderForm =
  | "Raw"
  | "Text"
  | "Addresses"
  | "GroupedAddresses"
  | "MessageIds"
  | "Date"
  | "URLs";

export interface HeaderProperty {
  /** The field name as the client wrote it; matched case-insensitively. */
  name: string;
  form: HeaderForm;
  all: boolean;
}

export interface EmailHeader {
  name: string;
  value: string;
}

export interface EmailAddressGroup {
  name: string | null;
  addresses: EmailAddress[];
}

export interface EmailBodyValue {
  value: string;
  isEncodingProblem: boolean;
  isTruncated: boolean;
}

/** RFC 8621 4.2: the bodyProperties used when the client gives none. */
export const DEFAULT_BODY_PROPERTIES: readonly string[] = [
  "partId",
  "blobId",
  "size",
  "name",
  "type",
  "charset",
  "disposition",
  "cid",
  "language",
  "location",
];

/** header:X:all returns at most this many instances. */
const MAX_ALL_INSTANCES = 1000;
/** bodyStructure is not rendered below this depth (the parser's own limit is far lower). */
const MAX_TREE_DEPTH = 1000;
/**
 * Encoded bytes read per byte of a truncated body value: enough for base64 of UTF-16 text with
 * CRLF line ends; pathological bodies just get a shorter value, still marked isTruncated.
 */
const WINDOW_BYTES_PER_VALUE_BYTE = 8;
const WINDOW_SLACK = 4096;

const FORMS = new Map<string, HeaderForm>([
  ["asraw", "Raw"],
  ["astext", "Text"],
  ["asaddresses", "Addresses"],
  ["asgroupedaddresses", "GroupedAddresses"],
  ["asmessageids", "MessageIds"],
  ["asdate", "Date"],
  ["asurls", "URLs"],
]);

const ADDRESS_FORMS: HeaderForm[] = ["Raw", "Addresses", "GroupedAddresses"];

/**
 * The fields RFC 5322 and RFC 2369 define, with the forms RFC 8621 4.1.2 allows for each; any
 * other field may use every form. Resent-Reply-To is not in RFC 5322, so it is unrestricted.
 */
const DEFINED_FIELD_FORMS = new Map<string, HeaderForm[]>([
  ["date", ["Raw", "Date"]],
  ["resent-date", ["Raw", "Date"]],
  ["from", ADDRESS_FORMS],
  ["sender", ADDRESS_FORMS],
  ["reply-to", ADDRESS_FORMS],
  ["to", ADDRESS_FORMS],
  ["cc", ADDRESS_FORMS],
  ["bcc", ADDRESS_FORMS],
  ["resent-from", ADDRESS_FORMS],
  ["resent-sender", ADDRESS_FORMS],
  ["resent-to", ADDRESS_FORMS],
  ["resent-cc", ADDRESS_FORMS],
  ["resent-bcc", ADDRESS_FORMS],
  ["message-id", ["Raw", "MessageIds"]],
  ["in-reply-to", ["Raw", "MessageIds"]],
  ["references", ["Raw", "MessageIds"]],
  ["resent-message-id", ["Raw", "MessageIds"]],
  ["subject", ["Raw", "Text"]],
  ["comments", ["Raw", "Text"]],
  ["keywords", ["Raw", "Text"]],
  ["return-path", ["Raw"]],
  ["received", ["Raw"]],
  ["list-help", ["Raw", "URLs"]],
  ["list-unsubscribe", ["Raw", "URLs"]],
  ["list-subscribe", ["Raw", "URLs"]],
  ["list-post", ["Raw", "URLs"]],
  ["list-owner", ["Raw", "URLs"]],
  ["list-archive", ["Raw", "URLs"]],
]);

/** RFC 8621 4.1.2-4.1.3: the convenience properties and the header form each stands for. */
const CONVENIENCE: Record<string, HeaderProperty> = {
  messageId: { name: "Message-ID", form: "MessageIds", all: false },
  inReplyTo: { name: "In-Reply-To", form: "MessageIds", all: false },
  references: { name: "References", form: "MessageIds", all: false },
  sender: { name: "Sender", form: "Addresses", all: false },
  from: { name: "From", form: "Addresses", all: false },
  to: { name: "To", form: "Addresses", all: false },
  cc: { name: "Cc", form: "Addresses", all: false },
  bcc: { name: "Bcc", form: "Addresses", all: false },
  replyTo: { name: "Reply-To", form: "Addresses", all: false },
  subject: { name: "Subject", form: "Text", all: false },
  sentAt: { name: "Date", form: "Date", all: false },
};

const KNOWN_ENCODINGS = new Set(["7bit", "8bit", "binary", "base64", "quoted-printable"]);
const ASCII_LABELS = new Set(["us-ascii", "ascii", "us", "iso646-us", "ansi_x3.4-1968"]);
const BASE64_ALPHABET = new Uint8Array(256);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") {
  BASE64_ALPHABET[c.charCodeAt(0)] = 1;
}
const FIELD_NAME = /^[\x21-\x39\x3b-\x7e]+$/;
const BLOB_ID = /^P([A-Za-z0-9_-]+)_(0|[1-9][0-9]*(?:-[1-9][0-9]*)*)$/;
const ZONE = /\d:\d{1,2}(?::\d{1,2})?(?:\.\d+)?\s*([+-])(\d{2}):?(\d{2})(?!\d)/;
const encoder = new TextEncoder();

/**
 * Whether RFC 8621 4.1.2 lets header field `name` be fetched in `form`.
 *
 * @example
 * headerFormAllowed("From", "Date"); // false
 */
export function headerFormAllowed(name: string, form: HeaderForm): boolean {
  const forms = DEFINED_FIELD_FORMS.get(name.toLowerCase());
  return forms === undefined || forms.includes(form);
}

/**
 * Parses a "header:{name}[:as{Form}][:all]" property (RFC 8621 4.1.3); null when it is
 * malformed or asks for a form the field may not use.
 *
 * @example
 * parseHeaderProperty("header:List-Post:asURLs"); // { name: "List-Post", form: "URLs", all: false }
 */
export function parseHeaderProperty(property: string): HeaderProperty | null {
  if (property.length > 1000 || property.slice(0, 7).toLowerCase() !== "header:") return null;
  const items = property.slice(7).split(":");
  const name = items[0];
  if (!FIELD_NAME.test(name)) return null;
  let form: HeaderForm = "Raw";
  let all = false;
  let i = 1;
  const named = i < items.length ? FORMS.get(items[i].toLowerCase()) : undefined;
  if (named !== undefined) {
    form = named;
    i++;
  }
  if (i < items.length && items[i].toLowerCase() === "all") {
    all = true;
    i++;
  }
  if (i !== items.length || !headerFormAllowed(name, form)) return null;
  return { name, form, all };
}

/**
 * Whether `property` is a valid header:… property (see parseHeaderProperty).
 *
 * @example
 * isHeaderProperty("header:From:asDate"); // false
 */
export function isHeaderProperty(property: string): boolean {
  return parseHeaderProperty(property) !== null;
}

/**
 * The blob id of a part: the message blob hash and the part's section.
 *
 * @example
 * partBlobId("h1", "1.2"); // "Ph1_1-2"
 */
export function partBlobId(emailBlobHash: string, section: string): string {
  return `P${emailBlobHash}_${section === "" ? "0" : section.replaceAll(".", "-")}`;
}

/**
 * The message blob hash and section named by a part blob id, or null for any other id.
 *
 * @example
 * parsePartBlobId("Ph1_1-2"); // { hash: "h1", section: "1.2" }
 */
export function parsePartBlobId(blobId: string): { hash: string; section: string } | null {
  const m = BLOB_ID.exec(blobId);
  if (m === null) return null;
  return { hash: m[1], section: m[2] === "0" ? "" : m[2].replaceAll("-", ".") };
}

/**
 * The partId of a part (RFC 8621 4.1.4): its IMAP section, "0" for the message root.
 *
 * @example
 * partId(findSection(root, "1.2")!); // "1.2"
 */
export function partId(part: MimePart): string {
  return part.section === "" ? "0" : part.section;
}

/** Drops NUL and control characters, then NFC (RFC 8621 4.1.2.2 steps 4 and 5). */
function cleanText(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/[\x00-\x08\x0a-\x1f\x7f]/g, "").normalize("NFC");
}

function textForm(raw: string): string {
  return cleanText(decodeEncodedWords(unfold(raw).trim()));
}

function emailAddress(address: EmailAddress): EmailAddress {
  return { name: address.name === null ? null : cleanText(address.name), email: address.email };
}

function groupedAddresses(raw: string): EmailAddressGroup[] {
  const groups: EmailAddressGroup[] = [];
  let ungrouped: EmailAddressGroup | null = null;
  for (const item of parseGroupedAddresses(raw)) {
    if ("addresses" in item) {
      groups.push({ name: cleanText(item.name), addresses: item.addresses.map(emailAddress) });
      ungrouped = null;
    } else {
      if (ungrouped === null) {
        ungrouped = { name: null, addresses: [] };
        groups.push(ungrouped);
      }
      ungrouped.addresses.push(emailAddress(item));
    }
  }
  return groups;
}

/** RFC 8620 1.4 Date: RFC 3339 with the header's own numeric offset ("Z" for none). */
function dateForm(raw: string): string | null {
  const text = unfold(raw);
  const date = parseDate(text);
  if (date === null) return null;
  const zone = ZONE.exec(text.replace(/\([^()]*\)/g, " "));
  let offset = 0;
  if (zone !== null) {
    const minutes = Number(zone[2]) * 60 + Number(zone[3]);
    if (minutes < 24 * 60) offset = zone[1] === "-" ? -minutes : minutes;
  }
  const local = new Date(date.getTime() + offset * 60000);
  if (!Number.isFinite(local.getTime())) return null;
  const iso = local.toISOString();
  if (!/^\d{4}-/.test(iso)) return null;
  if (offset === 0) return `${iso.slice(0, 19)}Z`;
  const abs = Math.abs(offset);
  const hh = String(Math.floor(abs / 60)).padStart(2, "0");
  const mm = String(abs % 60).padStart(2, "0");
  return `${iso.slice(0, 19)}${offset < 0 ? "-" : "+"}${hh}:${mm}`;
}

/** RFC 2369 2: the <url>s of a List-* field, comments skipped; null when there are none. */
function urlsForm(raw: string): string[] | null {
  const urls: string[] = [];
  let depth = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c === "(") depth++;
    else if (c === ")") depth = Math.max(0, depth - 1);
    else if (c === "\\" && depth > 0) i++;
    else if (c === "<" && depth === 0) {
      const close = raw.indexOf(">", i + 1);
      if (close < 0) break;
      const url = raw.slice(i + 1, close).replace(/\s+/g, "");
      if (url) urls.push(url);
      i = close;
    }
  }
  return urls.length > 0 ? urls : null;
}

function headerFormValue(raw: string, form: HeaderForm): unknown {
  switch (form) {
    case "Raw":
      return raw.replaceAll("\0", "");
    case "Text":
      return textForm(raw);
    case "Addresses":
      return parseAddressList(raw).map(emailAddress);
    case "GroupedAddresses":
      return groupedAddresses(raw);
    case "MessageIds": {
      const ids = parseMessageIds(raw);
      return ids.length > 0 ? ids : null;
    }
    case "Date":
      return dateForm(raw);
    case "URLs":
      return urlsForm(raw);
  }
}

/** RFC 8621 4.1.3: the last instance, or every instance with :all. */
function headerPropertyValue(fields: HeaderField[], property: HeaderProperty): unknown {
  const name = property.name.toLowerCase();
  if (!property.all) {
    for (let i = fields.length - 1; i >= 0; i--) {
      if (fields[i].name.toLowerCase() === name) {
        return headerFormValue(fields[i].raw, property.form);
      }
    }
    return null;
  }
  const values: unknown[] = [];
  for (const field of fields) {
    if (field.name.toLowerCase() !== name) continue;
    values.push(headerFormValue(field.raw, property.form));
    if (values.length >= MAX_ALL_INSTANCES) break;
  }
  return values;
}

function partName(part: MimePart): string | null {
  const value = part.dispositionParams.filename ?? part.params.name;
  if (value === undefined) return null;
  return cleanText(decodeEncodedWords(value)).trim() || null;
}

/** RFC 8621 4.1.4 charset: the parameter, else "us-ascii" for text/*, else null. */
function partCharset(part: MimePart): string | null {
  const charset = part.params.charset;
  if (charset) return charset;
  return part.type === "text" ? "us-ascii" : null;
}

function contentId(id: string | null): string | null {
  if (id === null) return null;
  let cid = id.replace(/\([^()]*\)/g, "").replace(/\s+/g, "");
  if (cid.startsWith("<")) cid = cid.slice(1);
  if (cid.endsWith(">")) cid = cid.slice(0, -1);
  return cid || null;
}

interface DecodedText {
  text: string;
  problem: boolean;
}

/** `stream` keeps a character cut at the end of a window from counting as malformed. */
function strictDecode(encoding: string, bytes: Uint8Array, stream: boolean): DecodedText {
  try {
    return {
      text: new TextDecoder(encoding, { fatal: true }).decode(bytes, { stream }),
      problem: false,
    };
  } catch {
    return { text: new TextDecoder(encoding).decode(bytes, { stream }), problem: true };
  }
}

/** No or ASCII charset: UTF-8 when it is valid (a heuristic RFC 8621 allows), else cp1252. */
function guessDecode(bytes: Uint8Array, stream: boolean): DecodedText {
  const utf8 = strictDecode("utf-8", bytes, stream);
  if (!utf8.problem) return utf8;
  return { text: new TextDecoder("windows-1252").decode(bytes), problem: true };
}

function decodeText(bytes: Uint8Array, charset: string | undefined, stream: boolean): DecodedText {
  const label = (charset ?? "").trim().toLowerCase();
  if (label === "" || ASCII_LABELS.has(label)) return guessDecode(bytes, stream);
  if (isUtf7(label)) return { text: decodeUtf7(bytes), problem: false };
  const decoder = getDecoder(label);
  if (decoder === null) return { text: guessDecode(bytes, stream).text, problem: true };
  return strictDecode(decoder.encoding, bytes, stream);
}

/** Characters outside base64, or a quantum of one character; a window skips the end check. */
function base64Broken(body: Uint8Array, windowed: boolean): boolean {
  let data = 0;
  for (let i = 0; i < body.length; i++) {
    const b = body[i];
    if (BASE64_ALPHABET[b] === 1) data++;
    else if (b === 61) {
      if (data % 4 === 1) return true;
      data = 0;
    } else if (b !== 13 && b !== 10 && b !== 32 && b !== 9) return true;
  }
  return !windowed && data % 4 === 1;
}

/** At most maxBytes of UTF-8, cut at a character start and, for HTML, not inside a tag. */
function truncateUtf8(text: string, maxBytes: number, isHtml: boolean): string {
  if (text.length * 3 <= maxBytes) return text;
  const bytes = encoder.encode(text);
  if (bytes.length <= maxBytes) return text;
  let end = maxBytes;
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--;
  let cut = new TextDecoder().decode(bytes.subarray(0, end));
  if (isHtml) {
    const open = cut.lastIndexOf("<");
    if (open > cut.lastIndexOf(">")) cut = cut.slice(0, open);
  }
  return cut;
}

/** RFC 8621 4.1.4 EmailBodyValue, with the maxBodyValueBytes rule of 4.2. */
function bodyValue(raw: Uint8Array, part: MimePart, maxBytes: number): EmailBodyValue {
  const start = Math.max(0, Math.min(part.bodyStart, raw.length));
  const end = Math.max(start, Math.min(part.bodyEnd, raw.length));
  const windowEnd = maxBytes > 0
    ? Math.min(end, start + maxBytes * WINDOW_BYTES_PER_VALUE_BYTE + WINDOW_SLACK)
    : end;
  const windowed = windowEnd < end;
  let problem = !KNOWN_ENCODINGS.has(part.encoding) ||
    (part.encoding === "base64" && base64Broken(raw.subarray(start, windowEnd), windowed));
  const bytes = decodePartBody(raw, { ...part, bodyStart: start, bodyEnd: windowEnd });
  const decoded = decodeText(bytes, part.params.charset, windowed);
  problem ||= decoded.problem;
  let value = decoded.text.replace(/\r\n/g, "\n");
  if (windowed && value.endsWith("\r")) value = value.slice(0, -1);
  let isTruncated = windowed;
  if (maxBytes > 0) {
    const cut = truncateUtf8(value, maxBytes, part.subtype === "html");
    isTruncated ||= cut.length !== value.length;
    value = cut;
  }
  return { value, isEncodingProblem: problem, isTruncated };
}

/** The decoded size of a leaf (RFC 8621 4.1.4 size); the body length of a multipart. */
function partSize(raw: Uint8Array, part: MimePart): number {
  const start = Math.max(0, Math.min(part.bodyStart, raw.length));
  const end = Math.max(start, Math.min(part.bodyEnd, raw.length));
  if (part.type === "multipart") return end - start;
  if (part.encoding !== "base64" && part.encoding !== "quoted-printable") return end - start;
  return decodePartBody(raw, part).length;
}

class EmailRenderer {
  private readonly fields = new Map<MimePart, HeaderField[]>();
  private readonly sizes = new Map<MimePart, number>();
  /** The bodyProperties, header:… ones parsed; the key is the name as the client wrote it. */
  private readonly bodyProperties: { key: string; header: HeaderProperty | null }[];
  private lists: BodyParts | null = null;
  private extracted: ExtractedText | null = null;

  constructor(
    private readonly raw: Uint8Array,
    private readonly root: MimePart,
    private readonly emailBlobHash: string,
    private readonly options: RenderOptions,
  ) {
    this.bodyProperties = (options.bodyProperties ?? DEFAULT_BODY_PROPERTIES).map((key) => ({
      key,
      header: parseHeaderProperty(key),
    }));
  }

  render(properties: string[]): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const property of properties) {
      const value = this.property(property);
      if (value !== undefined) out[property] = value;
    }
    return out;
  }

  private property(property: string): unknown {
    const convenience = Object.hasOwn(CONVENIENCE, property) ? CONVENIENCE[property] : null;
    if (convenience !== null) return headerPropertyValue(this.headerFields(this.root), convenience);
    switch (property) {
      case "headers":
        return this.headers(this.root);
      case "bodyStructure":
        return this.bodyPart(this.root, 0, true);
      case "textBody":
        return this.bodyParts().textBody.map((p) => this.bodyPart(p, 0, false));
      case "htmlBody":
        return this.bodyParts().htmlBody.map((p) => this.bodyPart(p, 0, false));
      case "attachments":
        return this.bodyParts().attachments.map((p) => this.bodyPart(p, 0, false));
      case "bodyValues":
        return this.bodyValues();
      case "hasAttachment":
        return this.extractedText().hasAttachment;
      case "preview":
        return this.extractedText().preview;
    }
    const header = parseHeaderProperty(property);
    return header === null ? undefined : headerPropertyValue(this.headerFields(this.root), header);
  }

  private headerFields(part: MimePart): HeaderField[] {
    let fields = this.fields.get(part);
    if (fields === undefined) {
      fields = parseHeaderFields(this.raw, part.headerStart, part.headerEnd);
      this.fields.set(part, fields);
    }
    return fields;
  }

  /** RFC 8621 4.1.3 headers: every field in order, the value in Raw form. */
  private headers(part: MimePart): EmailHeader[] {
    return this.headerFields(part).map((f) => ({
      name: f.name,
      value: headerFormValue(f.raw, "Raw") as string,
    }));
  }

  private bodyParts(): BodyParts {
    return this.lists ??= bodyParts(this.root);
  }

  private extractedText(): ExtractedText {
    return this.extracted ??= extractText(this.raw, this.root);
  }

  private size(part: MimePart): number {
    let size = this.sizes.get(part);
    if (size === undefined) {
      size = partSize(this.raw, part);
      this.sizes.set(part, size);
    }
    return size;
  }

  /** RFC 8621 4.1.4 EmailBodyPart; `tree` adds subParts for multiparts (bodyStructure). */
  private bodyPart(part: MimePart, depth: number, tree: boolean): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const isMultipart = part.type === "multipart";
    const subParts = () =>
      isMultipart && depth < MAX_TREE_DEPTH
        ? part.parts.map((p) => this.bodyPart(p, depth + 1, tree))
        : isMultipart
        ? []
        : null;
    for (const { key, header } of this.bodyProperties) {
      if (header !== null) {
        out[key] = headerPropertyValue(this.headerFields(part), header);
        continue;
      }
      switch (key) {
        case "partId":
          out.partId = isMultipart ? null : partId(part);
          break;
        case "blobId":
          out.blobId = isMultipart ? null : partBlobId(this.emailBlobHash, part.section);
          break;
        case "size":
          out.size = this.size(part);
          break;
        case "headers":
          out.headers = this.headers(part);
          break;
        case "name":
          out.name = partName(part);
          break;
        case "type":
          out.type = `${part.type}/${part.subtype}`;
          break;
        case "charset":
          out.charset = partCharset(part);
          break;
        case "disposition":
          out.disposition = part.disposition;
          break;
        case "cid":
          out.cid = contentId(part.id);
          break;
        case "language":
          out.language = part.language === null ? null : [...part.language];
          break;
        case "location":
          out.location = part.location;
          break;
        case "subParts":
          out.subParts = subParts();
          break;
      }
    }
    if (tree && isMultipart && !("subParts" in out)) out.subParts = subParts();
    return out;
  }

  /** RFC 8621 4.2 fetchTextBodyValues, fetchHTMLBodyValues, fetchAllBodyValues. */
  private bodyValues(): Record<string, EmailBodyValue> {
    const { fetchTextBodyValues, fetchHTMLBodyValues, fetchAllBodyValues } = this.options;
    const chosen = new Map<string, MimePart>();
    const choose = (part: MimePart) => {
      if (part.type === "text") chosen.set(partId(part), part);
    };
    if (fetchAllBodyValues) {
      const stack = [this.root];
      while (stack.length > 0) {
        const part = stack.pop()!;
        if (part.type === "multipart") stack.push(...[...part.parts].reverse());
        else choose(part);
      }
    } else {
      if (fetchTextBodyValues) this.bodyParts().textBody.forEach(choose);
      if (fetchHTMLBodyValues) this.bodyParts().htmlBody.forEach(choose);
    }
    const maxBytes = Math.max(0, Math.floor(this.options.maxBodyValueBytes || 0));
    const values: Record<string, EmailBodyValue> = {};
    for (const [id, part] of chosen) values[id] = bodyValue(this.raw, part, maxBytes);
    return values;
  }
}

/**
 * The Email properties of RFC 8621 4.1 that depend on the message content, for the requested
 * `properties` (headers, header:…, the convenience header properties, bodyStructure, textBody,
 * htmlBody, attachments, bodyValues, hasAttachment, preview). Other names are left out; the
 * caller validates them. Never throws.
 *
 * @example
 * renderEmailProperties(raw, root, hash, ["subject", "textBody"], options);
 * // { subject: "Hello", textBody: [{ partId: "1", blobId: "Ph_1", type: "text/plain", ... }] }
 */
export function renderEmailProperties(
  raw: Uint8Array,
  root: MimePart,
  emailBlobHash: string,
  properties: string[],
  options: RenderOptions,
): Record<string, unknown> {
  return new EmailRenderer(raw, root, emailBlobHash, options).render(properties);
}
