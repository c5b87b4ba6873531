/**
 * Where Dovecot ends a part's body, when that differs from the stored MIME tree.
 *
 * Implementation notes:
 * - The tree gives the line end before a boundary delimiter to the delimiter (RFC 2046 5.1.1).
 *   Dovecot does too, except when the line before the delimiter is itself the close delimiter
 *   of a nested multipart ("--inner--\r\n--outer"): that line end then stays in the inner
 *   multipart, and so in every part ending with it (the message/rfc822 around it too). Clients
 *   see it in BODY[n] of multipart and message/rfc822 parts and in the size and line count of
 *   a message/rfc822 part in BODYSTRUCTURE.
 * - When the message in a message/rfc822 part has no empty line ending its header, Dovecot
 *   reads the line end before the delimiter as the end of that header, and it stays in the
 *   part. The same holds for a message/rfc822 part in base64 or quoted-printable, which the
 *   tree does not parse but Dovecot reads as a header.
 */
import type { MimePart } from "../../mail/mime.ts";

const encoder = new TextEncoder();

function eolAt(raw: Uint8Array, at: number): number {
  if (raw[at] === 13) return raw[at + 1] === 10 ? 2 : 1;
  return raw[at] === 10 ? 1 : 0;
}

function lastLineStart(raw: Uint8Array, start: number, end: number): number {
  let p = end;
  while (p > start && raw[p - 1] !== 10 && raw[p - 1] !== 13) p--;
  return p;
}

function isCloseDelimiter(raw: Uint8Array, part: MimePart): boolean {
  const boundary = part.params.boundary;
  if (!boundary) return false;
  const from = lastLineStart(raw, part.bodyStart, part.bodyEnd);
  let to = part.bodyEnd;
  while (to > from && (raw[to - 1] === 32 || raw[to - 1] === 9)) to--;
  const b = encoder.encode(boundary);
  if (to - from !== b.length + 4) return false;
  if (raw[from] !== 45 || raw[from + 1] !== 45 || raw[to - 1] !== 45 || raw[to - 2] !== 45) {
    return false;
  }
  for (let i = 0; i < b.length; i++) if (raw[from + 2 + i] !== b[i]) return false;
  return true;
}

function hasEmptyLine(raw: Uint8Array, start: number, end: number): boolean {
  let lineStart = start;
  for (let p = start; p < end; p++) {
    if (raw[p] !== 13 && raw[p] !== 10) continue;
    if (p === lineStart) return true;
    p += eolAt(raw, p) - 1;
    lineStart = p + 1;
  }
  return false;
}

/** The encapsulated message's header has no empty line and ends where the part ends. */
function headerRunsToEnd(raw: Uint8Array, message: MimePart, end: number): boolean {
  return message.headerEnd === end && message.bodyStart === message.bodyEnd &&
    !hasEmptyLine(raw, message.headerStart, end);
}

/** The end (exclusive) of the part's body as Dovecot sees it. */
export function dovecotBodyEnd(raw: Uint8Array, part: MimePart): number {
  const end = part.bodyEnd;
  if (part.parts.length > 0) {
    if (isCloseDelimiter(raw, part)) return end + eolAt(raw, end);
    return Math.max(end, dovecotBodyEnd(raw, part.parts[part.parts.length - 1]));
  }
  if (part.type === "message" && part.subtype === "rfc822") {
    const message = part.message;
    if (message !== null && !headerRunsToEnd(raw, message, end)) {
      return Math.max(end, dovecotBodyEnd(raw, message));
    }
    // A header with no empty line before the delimiter takes the delimiter's line end.
    if (end > part.bodyStart && (message !== null || !hasEmptyLine(raw, part.bodyStart, end))) {
      return end + eolAt(raw, end);
    }
  }
  return end;
}
