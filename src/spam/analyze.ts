/**
 * The facts the spam rules and the classifier read, computed once per message: header fields,
 * addresses, body text and HTML, links, attachments, image count and our own
 * Authentication-Results.
 *
 * Implementation notes:
 * - Total: whatever the bytes (malformed MIME, binary junk, unknown charsets), analyzeMessage
 *   returns facts and never throws. Every helper below is written to be total too.
 * - Cost is bounded by the caps, not by the message: a part body is decoded from a window of
 *   at most about four times the cap in encoded bytes, so a 50 MB message costs no more than a
 *   message at the caps. Caps: text 256 Ki chars, HTML 512 Ki chars, 500 links, 500 header
 *   fields (read from the first 256 KiB of the header), 200 attachments; at most 2000 `<a href>`
 *   tags are looked at.
 * - Body choice: the htmlBody list of RFC 8621 4.1.4 (text/html where there is an alternative,
 *   text/plain otherwise), which is what most readers see; spammers hide their payload in the
 *   HTML alternative and put innocent words in the plain one. facts.text is that body as text.
 * - Links are scanned without regexes over the document: `<a` tags are found with indexOf and
 *   the search for `</a` only moves forward, so the scan is linear even for hostile HTML.
 *   Plain-text URLs come from facts.text (http://, https://, www.) with one linear regex.
 * - Hosts are read by hand, not with `new URL`, so a Unicode host stays as written (the
 *   homograph checks need the letters) and nothing throws.
 * - Authentication-Results (RFC 8601): only the first field whose authserv-id equals ours is
 *   read. Fields with another id may have been added by anyone before the message reached us.
 */
import { bodyParts } from "../mail/text.ts";
import { decodeEntities, htmlToText } from "../mail/html.ts";
import { type MimePart, partText } from "../mail/mime.ts";
import {
  decodeEncodedWords,
  type EmailAddress,
  parseAddressList,
  parseHeaderFields,
  unfold,
} from "../mail/headers.ts";
import type { AttachmentFact, AuthFacts, Envelope, LinkFact, MessageFacts } from "./types.ts";

/** Caps on what analyzeMessage keeps of a message (characters, links, fields, attachments). */
export const MAX_TEXT_CHARS = 256 * 1024;
export const MAX_HTML_CHARS = 512 * 1024;
export const MAX_LINKS = 500;
export const MAX_HEADERS = 500;
export const MAX_ATTACHMENTS = 200;
/** Header bytes read at most; 500 fields fit easily. */
const MAX_HEADER_BYTES = 256 * 1024;
/** A single header value longer than this is cut (rules cap their input anyway). */
const MAX_HEADER_VALUE_CHARS = 16 * 1024;
/** Parts walked when counting images and attachments (the MIME parser has its own limit). */
const MAX_PARTS_WALKED = 5000;
const MAX_ANCHOR_TEXT_CHARS = 1024;
/** `<a href>` tags looked at, links or not (repeated hrefs are not links again). */
const MAX_ANCHORS_SCANNED = 4 * MAX_LINKS;
const MAX_URL_CHARS = 2048;

/**
 * Computes the facts of a message for the rules and the classifier. Never throws.
 *
 * @example
 * const facts = analyzeMessage(raw, parseMime(raw, limits), envelope, "mx.example.org");
 * facts.auth.dmarc; // "pass"
 */
export function analyzeMessage(
  raw: Uint8Array,
  mime: MimePart,
  envelope: Envelope,
  authservId: string,
): MessageFacts {
  const fields = readHeaderFields(raw, mime);
  const headers = fields.map((f) => ({ name: f.name, value: decodeHeaderValue(f.raw) }));
  const body = readBody(raw, mime);
  return {
    raw,
    mime,
    headers,
    subject: headers.find((h) => h.name === "subject")?.value ?? "",
    from: addressesOf(fields, "from"),
    replyTo: addressesOf(fields, "reply-to"),
    to: addressesOf(fields, "to"),
    text: body.text,
    html: body.html,
    links: collectLinks(body.html, body.text),
    attachments: collectAttachments(mime),
    images: countImages(mime),
    envelope,
    auth: readAuthResults(fields, authservId),
  };
}

interface RawField {
  /** Lower-cased. */
  name: string;
  /** Unfolded, not decoded. */
  raw: string;
}

function readHeaderFields(raw: Uint8Array, mime: MimePart): RawField[] {
  const start = Math.max(0, Math.min(mime.headerStart, raw.length));
  const end = Math.min(mime.headerEnd, start + MAX_HEADER_BYTES, raw.length);
  return parseHeaderFields(raw, start, end).slice(0, MAX_HEADERS).map((f) => ({
    name: f.name.toLowerCase(),
    raw: unfold(f.raw.slice(0, MAX_HEADER_VALUE_CHARS)),
  }));
}

function decodeHeaderValue(raw: string): string {
  return decodeEncodedWords(raw).trim();
}

function addressesOf(fields: RawField[], name: string): EmailAddress[] {
  const field = fields.find((f) => f.name === name);
  return field ? parseAddressList(field.raw) : [];
}

// ---------------------------------------------------------------------------------------------
// Body

interface BodyText {
  text: string;
  html: string;
}

function readBody(raw: Uint8Array, mime: MimePart): BodyText {
  const texts: string[] = [];
  const htmls: string[] = [];
  let textChars = 0;
  let htmlChars = 0;
  for (const part of bodyParts(mime).htmlBody) {
    if (part.type !== "text") continue;
    if (part.subtype === "html" && htmlChars < MAX_HTML_CHARS) {
      const html = boundedPartText(raw, part, MAX_HTML_CHARS - htmlChars);
      htmls.push(html);
      htmlChars += html.length;
      const text = htmlToText(html).slice(0, Math.max(0, MAX_TEXT_CHARS - textChars));
      texts.push(text);
      textChars += text.length;
    } else if (part.subtype === "plain" && textChars < MAX_TEXT_CHARS) {
      const text = boundedPartText(raw, part, MAX_TEXT_CHARS - textChars);
      texts.push(text);
      textChars += text.length;
    }
  }
  return {
    text: texts.join("\n").slice(0, MAX_TEXT_CHARS),
    html: htmls.join("\n").slice(0, MAX_HTML_CHARS),
  };
}

/** A part's text decoded from a bounded window of its body, cut to maxChars. */
function boundedPartText(raw: Uint8Array, part: MimePart, maxChars: number): string {
  const size = Math.max(0, part.bodyEnd - part.bodyStart);
  const window = Math.min(size, maxChars * 4 + 64);
  const limited = { ...part, bodyEnd: part.bodyStart + window };
  return partText(raw, limited).slice(0, maxChars);
}

// ---------------------------------------------------------------------------------------------
// Links

function collectLinks(html: string, text: string): LinkFact[] {
  const links: LinkFact[] = [];
  const seen = new Set<string>();
  /** Records a link; false once the list is full. */
  const add = (url: string, anchorText: string): boolean => {
    if (links.length >= MAX_LINKS) return false;
    if (url === "" || url.startsWith("#") || (anchorText === "" && seen.has(url))) return true;
    seen.add(url);
    links.push({ url, host: hostOf(url), text: anchorText });
    return links.length < MAX_LINKS;
  };
  scanAnchors(html, add);
  scanTextUrls(text, add);
  return links;
}

/** Calls add(href, anchorText) for each `<a href>` in order. Linear in the HTML's length. */
function scanAnchors(html: string, add: (url: string, text: string) => boolean): void {
  const lower = html.toLowerCase();
  let pos = 0;
  let close = -2; // index of the next "</a" at or after pos; -2: not searched yet, -1: none
  for (let scanned = 0; pos < lower.length && scanned < MAX_ANCHORS_SCANNED;) {
    const open = lower.indexOf("<a", pos);
    if (open < 0) return;
    const after = lower.charCodeAt(open + 2);
    const gt = lower.indexOf(">", open + 2);
    if (gt < 0) return;
    pos = gt + 1;
    if (!isTagNameEnd(after)) continue;
    const href = attributeValue(html.slice(open + 2, gt), "href");
    if (href === null) continue;
    scanned++;
    if (close !== -1 && close < pos) close = lower.indexOf("</a", pos);
    const textEnd = Math.min(close < 0 ? lower.length : close, pos + MAX_ANCHOR_TEXT_CHARS);
    const anchorText = htmlToText(html.slice(pos, textEnd));
    const url = decodeEntities(href).trim().slice(0, MAX_URL_CHARS);
    if (!add(url, anchorText.replace(/\s+/g, " "))) return;
  }
}

function isTagNameEnd(code: number): boolean {
  return code === 32 || code === 9 || code === 10 || code === 13 || code === 12 || code === 47;
}

/** The value of an attribute in the inside of a tag, or null. */
function attributeValue(tag: string, name: string): string | null {
  const lower = tag.toLowerCase();
  let from = 0;
  for (;;) {
    const at = lower.indexOf(name, from);
    if (at < 0) return null;
    from = at + name.length;
    if (at > 0 && !/[\s"'/]/.test(lower[at - 1])) continue;
    let i = from;
    while (i < tag.length && /\s/.test(tag[i])) i++;
    if (tag[i] !== "=") continue;
    i++;
    while (i < tag.length && /\s/.test(tag[i])) i++;
    return readAttributeValue(tag, i);
  }
}

function readAttributeValue(tag: string, i: number): string {
  const quote = tag[i];
  if (quote === '"' || quote === "'") {
    const end = tag.indexOf(quote, i + 1);
    return tag.slice(i + 1, end < 0 ? tag.length : end);
  }
  let end = i;
  while (end < tag.length && !/[\s>]/.test(tag[end])) end++;
  return tag.slice(i, end);
}

const TEXT_URL = /\b(?:https?:\/\/|www\.)[^\s<>"'`{}|\\^[\]]+/gi;

function scanTextUrls(text: string, add: (url: string, text: string) => boolean): void {
  TEXT_URL.lastIndex = 0;
  for (let m = TEXT_URL.exec(text); m !== null; m = TEXT_URL.exec(text)) {
    if (!add(trimTrailingPunctuation(m[0]).slice(0, MAX_URL_CHARS), "")) return;
  }
}

function trimTrailingPunctuation(url: string): string {
  let end = url.length;
  while (end > 0 && ".,;:!?)'\"".includes(url[end - 1])) end--;
  return url.slice(0, end);
}

/**
 * The lower-cased host of a URL as written: for http(s)/ftp URLs, scheme-relative "//" URLs and
 * "www." URLs; "" for anything else (mailto:, relative paths, garbage).
 *
 * @example
 * hostOf("HTTP://user@Example.COM:8080/x"); // "example.com"
 */
export function hostOf(url: string): string {
  let rest = url.trim();
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(rest);
  if (scheme) {
    const name = scheme[1].toLowerCase();
    if (name !== "http" && name !== "https" && name !== "ftp") return "";
    rest = rest.slice(scheme[0].length);
  } else if (!/^(?:\/\/|www\.)/i.test(rest)) {
    return "";
  }
  rest = rest.replace(/^[/\\]+/, "");
  const authority = rest.split(/[/?#\\]/, 1)[0];
  return hostOfAuthority(authority);
}

function hostOfAuthority(authority: string): string {
  let host = authority.slice(authority.lastIndexOf("@") + 1);
  if (host.startsWith("[")) {
    const end = host.indexOf("]");
    return (end < 0 ? host : host.slice(0, end + 1)).toLowerCase();
  }
  host = host.replace(/:[0-9]*$/, "");
  host = percentDecode(host).toLowerCase().replace(/\.+$/, "");
  return /[\s<>]/.test(host) ? "" : host;
}

function percentDecode(text: string): string {
  if (!text.includes("%")) return text;
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

// ---------------------------------------------------------------------------------------------
// Attachments and images

function collectAttachments(mime: MimePart): AttachmentFact[] {
  const found: AttachmentFact[] = [];
  const queue: MimePart[] = [mime];
  for (let q = 0; q < queue.length && found.length < MAX_ATTACHMENTS; q++) {
    for (const part of bodyParts(queue[q]).attachments) {
      if (found.length >= MAX_ATTACHMENTS) break;
      found.push(attachmentFact(part));
      if (part.message !== null && queue.length < MAX_ATTACHMENTS) queue.push(part.message);
    }
  }
  return found;
}

function attachmentFact(part: MimePart): AttachmentFact {
  const name = part.dispositionParams.filename ?? part.params.name ?? "";
  return {
    type: `${part.type}/${part.subtype}`,
    name: decodeEncodedWords(name).trim(),
    size: Math.max(0, part.bodyEnd - part.bodyStart),
  };
}

function countImages(mime: MimePart): number {
  let images = 0;
  const stack: MimePart[] = [mime];
  for (let walked = 0; stack.length > 0 && walked < MAX_PARTS_WALKED; walked++) {
    const part = stack.pop()!;
    if (part.type === "image") images++;
    for (const child of part.parts) stack.push(child);
    if (part.message !== null) stack.push(part.message);
  }
  return images;
}

// ---------------------------------------------------------------------------------------------
// Authentication-Results (RFC 8601)

function noAuth(): AuthFacts {
  return {
    spf: "none",
    spfDomain: null,
    dkim: [],
    dmarc: "none",
    dmarcDomain: null,
    arc: "none",
    iprev: "none",
  };
}

function readAuthResults(fields: RawField[], authservId: string): AuthFacts {
  const auth = noAuth();
  const ours = authservId.trim().toLowerCase();
  for (const field of fields) {
    if (field.name !== "authentication-results") continue;
    const segments = splitResinfo(withoutComments(field.raw));
    const id = (segments[0] ?? "").trim().split(/\s+/, 1)[0].toLowerCase();
    if (id !== ours || ours === "") continue;
    for (const segment of segments.slice(1)) applyResinfo(auth, segment);
    break;
  }
  return auth;
}

/** The value with RFC 5322 comments removed (quoted strings kept as they are). */
function withoutComments(value: string): string {
  let out = "";
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === "\\" && (quoted || depth > 0)) {
      if (depth === 0) out += value.slice(i, i + 2);
      i++;
    } else if (quoted) {
      out += c;
      if (c === '"') quoted = false;
    } else if (c === "(") depth++;
    else if (c === ")" && depth > 0) depth--;
    else if (depth === 0) {
      if (c === '"') quoted = true;
      out += c;
    }
  }
  return out;
}

/** Splits on ";" outside quoted strings. */
function splitResinfo(value: string): string[] {
  const segments: string[] = [];
  let current = "";
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === '"') quoted = !quoted;
    if (c === ";" && !quoted) {
      segments.push(current);
      current = "";
    } else current += c;
  }
  segments.push(current);
  return segments;
}

/** Reads one "method=result ptype.property=value ..." and records it. */
function applyResinfo(auth: AuthFacts, segment: string): void {
  const pairs = readPairs(segment);
  if (pairs.length === 0) return;
  const method = pairs[0].key.split("/", 1)[0];
  const result = pairs[0].value.toLowerCase();
  const property = (key: string) => pairs.find((p) => p.key === key)?.value ?? null;
  switch (method) {
    case "spf":
      auth.spf = result;
      auth.spfDomain = domainOf(property("smtp.mailfrom") ?? property("smtp.helo"));
      break;
    case "dkim":
      // mailauth (our verifier) writes the signing domain as header.i=@domain, not header.d.
      auth.dkim.push({
        result,
        domain: domainOf(property("header.d") ?? property("header.i")) ?? "",
      });
      break;
    case "dmarc":
      auth.dmarc = result;
      auth.dmarcDomain = domainOf(property("header.from"));
      break;
    case "arc":
      auth.arc = result;
      break;
    case "iprev":
      auth.iprev = result;
      break;
  }
}

/** "key=value" pairs of a resinfo; keys lower-cased, quotes removed from values. */
function readPairs(segment: string): { key: string; value: string }[] {
  const pairs: { key: string; value: string }[] = [];
  const PAIR = /([A-Za-z0-9._/-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s";]*)/g;
  for (let m = PAIR.exec(segment); m !== null; m = PAIR.exec(segment)) {
    let value = m[2];
    if (value.startsWith('"')) value = value.slice(1, -1).replace(/\\(.)/g, "$1");
    pairs.push({ key: m[1].toLowerCase(), value });
  }
  return pairs;
}

/** The domain of "user@domain" or "domain", lower-cased; null for nothing. */
function domainOf(value: string | null): string | null {
  if (value === null) return null;
  const domain = value.slice(value.lastIndexOf("@") + 1).trim().toLowerCase();
  return domain === "" ? null : domain;
}
