/**
 * Writing messages (RFC 5322, RFC 2045–2047, RFC 2231): header fields with encoded words and
 * folding, address lists, and a MIME tree with transfer encodings chosen from the content.
 *
 * Implementation notes:
 * - Output is CRLF throughout, header lines folded near 78 characters and never over 998.
 * - Text is UTF-8: 7bit when every line is ASCII and short, quoted-printable otherwise; other
 *   content is base64 in 76-character lines.
 * - Non-ASCII in unstructured text and display names becomes RFC 2047 "B" encoded words of at
 *   most 75 characters, split on character boundaries; file names use RFC 2231 (filename*).
 * - Boundaries are random and checked against the content they enclose.
 */

const encoder = new TextEncoder();

export interface ComposeAddress {
  name: string | null;
  email: string;
}

export interface ComposeGroup {
  name: string | null;
  addresses: ComposeAddress[];
}

/** A MIME part to write: a leaf with content, or a multipart with parts. */
export interface ComposePart {
  /** "text/plain", "multipart/alternative", ... */
  type: string;
  /** Extra header fields of the part ([name, raw value]), written before Content-*. */
  headers?: [string, string][];
  /** For text/*: the text (line ends normalised to CRLF). */
  text?: string;
  /** For other leaves: the bytes. */
  bytes?: Uint8Array;
  charset?: string | null;
  disposition?: string | null;
  name?: string | null;
  cid?: string | null;
  language?: string[] | null;
  location?: string | null;
  parts?: ComposePart[];
}

const SPECIALS = /[()<>[\]:;@\\,."]/;

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7e) return false;
  return true;
}

/** RFC 2047 B-encoded words for `text`, each at most 75 characters. */
export function encodedWords(text: string): string[] {
  const words: string[] = [];
  let chunk = "";
  const flush = () => {
    if (chunk) words.push(`=?UTF-8?B?${base64(encoder.encode(chunk))}?=`);
    chunk = "";
  };
  for (const char of text) {
    // 45 bytes of UTF-8 make 60 base64 characters: 72 with the =?UTF-8?B??= wrapper.
    if (encoder.encode(chunk + char).length > 45) flush();
    chunk += char;
  }
  flush();
  return words;
}

/** Unstructured header text (Subject, Comments): as is when ASCII, else encoded words. */
export function encodeText(text: string): string {
  const clean = text.replace(/[\r\n]+/g, " ");
  return isAscii(clean) ? clean : encodedWords(clean).join(" ");
}

/** A display name as a phrase: atom, quoted string, or encoded words. */
export function encodePhrase(name: string): string {
  const clean = name.replace(/[\r\n]+/g, " ").trim();
  if (!isAscii(clean)) return encodedWords(clean).join(" ");
  if (!SPECIALS.test(clean)) return clean;
  return `"${clean.replace(/(["\\])/g, "\\$1")}"`;
}

export function formatAddress(address: ComposeAddress): string {
  const email = address.email.replace(/[\r\n<>]/g, "");
  return address.name ? `${encodePhrase(address.name)} <${email}>` : email;
}

export function formatAddresses(list: ComposeAddress[]): string {
  return list.map(formatAddress).join(", ");
}

export function formatGroups(groups: ComposeGroup[]): string {
  return groups.map((group) =>
    group.name === null
      ? formatAddresses(group.addresses)
      : `${encodePhrase(group.name)}: ${formatAddresses(group.addresses)};`
  ).join(", ");
}

/** A header field "Name: value" folded at spaces to stay near 78 characters per line. */
export function headerLine(name: string, value: string): string {
  const words = `${name}: ${value}`.split(" ");
  const lines: string[] = [];
  let line = "";
  for (const word of words) {
    if (line && line.length + 1 + word.length > 78) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  lines.push(line);
  // A single word longer than 998 cannot be folded: cut it (only a broken input does this).
  return lines.map((l) => l.slice(0, 998)).join("\r\n ");
}

export function base64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

function base64Lines(bytes: Uint8Array): string {
  const text = base64(bytes);
  const lines: string[] = [];
  for (let i = 0; i < text.length; i += 76) lines.push(text.slice(i, i + 76));
  return lines.join("\r\n");
}

/** Quoted-printable (RFC 2045 6.7) of UTF-8 text with CRLF line ends. */
export function quotedPrintable(text: string): string {
  const out: string[] = [];
  for (const line of text.split("\r\n")) {
    const bytes = encoder.encode(line);
    let current = "";
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i];
      const last = i === bytes.length - 1;
      let piece: string;
      if ((b === 32 || b === 9) && !last) piece = String.fromCharCode(b);
      else if (b >= 33 && b <= 126 && b !== 61) piece = String.fromCharCode(b);
      else piece = `=${b.toString(16).toUpperCase().padStart(2, "0")}`;
      if (current.length + piece.length > 75) {
        out.push(`${current}=`);
        current = "";
      }
      current += piece;
    }
    out.push(current);
  }
  return out.join("\r\n");
}

function utf8(bytes: Uint8Array): string | null {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
}

function normaliseLines(text: string): string {
  return text.replace(/\r\n|\r|\n/g, "\r\n");
}

function paramValue(value: string): string {
  return /^[\x21-\x7e]+$/.test(value) && !/[()<>@,;:\\"/[\]?=]/.test(value)
    ? value
    : `"${value.replace(/(["\\])/g, "\\$1")}"`;
}

/** name="value", or name*=UTF-8''… for non-ASCII (RFC 2231). */
function param(name: string, value: string): string {
  if (isAscii(value)) return `${name}=${paramValue(value)}`;
  const encoded = [...encoder.encode(value)].map((b) =>
    /[A-Za-z0-9!#$&+.^_`|~-]/.test(String.fromCharCode(b))
      ? String.fromCharCode(b)
      : `%${b.toString(16).toUpperCase().padStart(2, "0")}`
  ).join("");
  return `${name}*=UTF-8''${encoded}`;
}

function boundaryFor(): string {
  const random = crypto.getRandomValues(new Uint8Array(18));
  return `=_${base64(random).replace(/[+/=]/g, "x")}`;
}

/** The header lines and body of one part (no trailing CRLF after the body). */
function writePart(part: ComposePart): { header: string[]; body: string } {
  const header: string[] = [];
  for (const [name, value] of part.headers ?? []) header.push(headerLine(name, value));
  const [mediaType, mediaSubtype] = part.type.toLowerCase().split("/");
  if (mediaType === "multipart") {
    const children = (part.parts ?? []).map(writePart);
    const texts = children.map((c) => `${c.header.join("\r\n")}\r\n\r\n${c.body}`);
    let boundary = boundaryFor();
    while (texts.some((t) => t.includes(boundary))) boundary = boundaryFor();
    header.push(headerLine("Content-Type", `${part.type}; boundary="${boundary}"`));
    const body = texts.map((t) => `--${boundary}\r\n${t}\r\n`).join("") + `--${boundary}--`;
    return { header, body };
  }
  // A type given with parameters ("text/calendar; method=REQUEST") keeps them as written.
  let contentType = part.type.includes(";")
    ? part.type.trim()
    : `${mediaType}/${mediaSubtype ?? "octet-stream"}`;
  let encoding: string;
  let body: string;
  if (part.text !== undefined) {
    const text = normaliseLines(part.text);
    contentType += `; charset=${part.charset ?? "utf-8"}`;
    const plain = isAscii(text) && text.split("\r\n").every((l) => l.length <= 998) &&
      !text.includes("\0");
    encoding = plain ? "7bit" : "quoted-printable";
    body = plain ? text : quotedPrintable(text);
  } else if (mediaType === "message" && part.bytes && utf8(part.bytes) !== null) {
    // An attached message is written as is (RFC 2046 5.2.1: 7bit or 8bit only); one that is
    // not UTF-8 falls through to base64, which keeps its bytes.
    body = normaliseLines(utf8(part.bytes)!);
    encoding = isAscii(body) ? "7bit" : "8bit";
  } else {
    encoding = "base64";
    body = base64Lines(part.bytes ?? new Uint8Array(0));
  }
  if (part.name) contentType += `; ${param("name", part.name)}`;
  header.push(headerLine("Content-Type", contentType));
  header.push(`Content-Transfer-Encoding: ${encoding}`);
  if (part.disposition || part.name) {
    const disposition = part.disposition ?? "attachment";
    header.push(
      headerLine(
        "Content-Disposition",
        part.name ? `${disposition}; ${param("filename", part.name)}` : disposition,
      ),
    );
  }
  if (part.cid) header.push(`Content-ID: <${part.cid.replace(/[<>\r\n]/g, "")}>`);
  if (part.language?.length) header.push(`Content-Language: ${part.language.join(", ")}`);
  if (part.location) header.push(headerLine("Content-Location", part.location));
  return { header, body };
}

/**
 * A whole message: the top-level header fields, then MIME-Version and the root part's
 * Content-* fields, the empty line and the body.
 *
 * @example
 * composeMessage([["Subject", encodeText("Hi")]], { type: "text/plain", text: "Hello" });
 */
export function composeMessage(headers: [string, string][], root: ComposePart): Uint8Array {
  const lines = headers.map(([name, value]) => headerLine(name, value));
  lines.push("MIME-Version: 1.0");
  const { header, body } = writePart(root);
  // A leaf body is written as given (a text without a final line end stays so when read back);
  // a multipart ends with its close delimiter line.
  const end = root.type.toLowerCase().startsWith("multipart/") ? "\r\n" : "";
  return encoder.encode(`${[...lines, ...header].join("\r\n")}\r\n\r\n${body}${end}`);
}
