/**
 * The trace headers an SMTP server prepends on delivery: `Return-Path` (RFC 5321 4.4) and
 * `Received` (RFC 5321 4.4, protocol names from RFC 3848).
 */

export interface ReceivedInfo {
  /** The EHLO/HELO argument as the client sent it. */
  helo: string;
  /** The client's IP address (IPv4 dotted or IPv6 text). */
  remoteAddress: string;
  /** The client's verified reverse DNS name, when known. */
  reverseName?: string;
  /** Our host name. */
  hostname: string;
  /** "SMTP" for HELO, "ESMTP", "ESMTPS" (TLS), "ESMTPA"/"ESMTPSA" (authenticated). */
  protocol: "SMTP" | "ESMTP" | "ESMTPS" | "ESMTPA" | "ESMTPSA";
  /** The session id (logged with every line of the session). */
  id: string;
  /** Named in a `for` clause only when the message has exactly one recipient (privacy). */
  recipients: string[];
  date: Date;
}

// deno-lint-ignore no-control-regex
const UNSAFE = /[\x00-\x1f\x7f()\\]/g;

/**
 * A `Received:` header field, folded, ending in CRLF.
 *
 * @example
 * receivedHeader({ helo: "client.example", remoteAddress: "192.0.2.1", hostname: "mx.example.com",
 *   protocol: "ESMTPS", id: "abc", recipients: ["a@example.com"], date: new Date() })
 * // "Received: from client.example ([192.0.2.1])\r\n\tby mx.example.com with ESMTPS id abc\r\n\tfor <a@example.com>; Sat, 28 Nov 2026 16:19:20 +0000\r\n"
 */
export function receivedHeader(info: ReceivedInfo): string {
  const literal = addressLiteral(info.remoteAddress);
  const helo = info.helo.replace(UNSAFE, "?").replace(/\s+/g, "") || "unknown";
  const comment = info.reverseName ? `${info.reverseName} ${literal}` : literal;
  const forClause = info.recipients.length === 1 ? `\r\n\tfor <${info.recipients[0]}>` : "";
  return `Received: from ${helo} (${comment})\r\n\tby ${info.hostname} with ${info.protocol} id ${info.id}` +
    `${forClause}; ${rfc5322Date(info.date)}\r\n`;
}

/**
 * A `Return-Path:` header field for the envelope sender ("" for the null path), ending in CRLF.
 *
 * @example
 * returnPathHeader("a@example.com") // "Return-Path: <a@example.com>\r\n"
 */
export function returnPathHeader(sender: string): string {
  return `Return-Path: <${sender}>\r\n`;
}

function addressLiteral(ip: string): string {
  return ip.includes(":") ? `[IPv6:${ip}]` : `[${ip}]`;
}

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** RFC 5322 3.3 date-time in UTC, e.g. "Sat, 28 Nov 2026 16:19:20 +0000". */
export function rfc5322Date(date: Date, offsetMinutes = 0): string {
  const two = (n: number) => String(n).padStart(2, "0");
  const local = new Date(date.getTime() + offsetMinutes * 60_000);
  const sign = offsetMinutes < 0 ? "-" : "+";
  const zone = `${sign}${two(Math.floor(Math.abs(offsetMinutes) / 60))}${
    two(Math.abs(offsetMinutes) % 60)
  }`;
  return `${DAYS[local.getUTCDay()]}, ${local.getUTCDate()} ${MONTHS[local.getUTCMonth()]} ` +
    `${local.getUTCFullYear()} ${two(local.getUTCHours())}:${two(local.getUTCMinutes())}:` +
    `${two(local.getUTCSeconds())} ${zone}`;
}

/** `head` (header fields, each ending in CRLF) followed by the message bytes. */
export function prependHeaders(head: string, message: Uint8Array): Uint8Array {
  const bytes = new TextEncoder().encode(head);
  const out = new Uint8Array(bytes.length + message.length);
  out.set(bytes);
  out.set(message, bytes.length);
  return out;
}
