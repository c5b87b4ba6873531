/**
 * Delivery Status Notifications: the multipart/report message (RFC 6522) the queue sends back to
 * an envelope sender, with a human-readable part, a message/delivery-status part (RFC 3464) and
 * the returned message or its header (RFC 3461 4.3 RET); RFC 6533 types when it is
 * internationalized.
 *
 * Implementation notes:
 * - Pure: bytes and fields in, bytes out. Only the Date default, the boundary and the Message-ID
 *   token are not determined by the input.
 * - The original's bytes are never altered: the returned header or message is copied verbatim
 *   and the CRLF before the next delimiter belongs to the delimiter (RFC 2046 5.1.1), so the
 *   part body is exactly those bytes. The boundary is drawn again until it occurs in no part.
 * - Every line we generate ends in CRLF and is at most 998 octets (RFC 5322 2.1.1). Header and
 *   delivery-status fields are folded before whitespace near 78 octets; a run without
 *   whitespace longer than 998 octets is cut and continued on a new line.
 * - Values that came from outside (remote replies, addresses, ENVID) lose their control
 *   characters, so a hostile reply cannot add fields. In message/delivery-status non-ASCII
 *   becomes "?"; the RFC 6533 global types carry UTF-8 as is.
 * - The RFC 6533 types are used when the original's header has 8-bit octets or the envelope
 *   (sender, a recipient or an ORCPT) is non-ASCII: the message travelled with SMTPUTF8.
 * - Transport: a part carrying 8-bit octets is labelled `Content-Transfer-Encoding: 8bit`, and so
 *   is the multipart around it (RFC 2045 6.4). The queue must send such a DSN with BODY=8BITMIME
 *   (RFC 6152), and with SMTPUTF8 when `to` is non-ASCII. The text part is quoted-printable when
 *   it is not ASCII, so a DSN for a 7-bit message stays 7-bit.
 */
import { rfc5322Date } from "./received.ts";

export type DsnAction = "failed" | "delayed" | "delivered" | "relayed" | "expanded";

export interface DsnRecipient {
  /** The recipient address as the queue tried it (Final-Recipient: rfc822;...). */
  address: string;
  /** The ORCPT, address xtext-decoded, e.g. "rfc822;a+b@b.example" (RFC 3461 4.2), if any. */
  originalRecipient?: string;
  action: DsnAction;
  /** Enhanced status code, e.g. "5.1.1", "4.4.1", "2.0.0" (RFC 3463). */
  status: string;
  /** Host that gave the reply (Remote-MTA: dns;host). */
  remoteMta?: string;
  /** The remote SMTP reply, possibly multi-line joined with "\n" (Diagnostic-Code: smtp; ...). */
  diagnostic?: string;
  lastAttempt?: Date;
  willRetryUntil?: Date;
}

export interface DsnInput {
  /** Our host name: Reporting-MTA, the From (MAILER-DAEMON@host) and the Message-ID domain. */
  reportingMta: string;
  /** Envelope sender being notified (the To: header). Never the null path. */
  to: string;
  /** ENVID from MAIL FROM, already decoded from xtext (RFC 3461 4.4). */
  envelopeId?: string;
  arrivalDate: Date;
  recipients: DsnRecipient[];
  /** The original message as queued (CRLF line ends). */
  original: Uint8Array;
  /** RFC 3461 RET: FULL returns the whole message, HDRS (the default) only its header. */
  ret?: "FULL" | "HDRS";
  /** Messages larger than this are returned as headers only even with RET=FULL (default 1 MiB). */
  maxReturnSize?: number;
  date?: Date;
  /** Source of the random tokens in the boundary and Message-ID (default: 16 random bytes, hex). */
  randomToken?: () => string;
}

const CRLF = "\r\n";
/** RFC 5322 2.1.1: the hard limit, without the CRLF. */
const MAX_LINE = 998;
/** RFC 5322 2.1.1: the recommended limit we fold at when whitespace allows. */
const FOLD_AT = 78;
const TEXT_WIDTH = 76;
const DEFAULT_MAX_RETURN_SIZE = 1024 * 1024;

const encoder = new TextEncoder();

/**
 * The complete DSN message (header + body, CRLF line ends), ready to queue with a null sender.
 * When it contains 8-bit octets (see the module notes) the queue must relay it with
 * BODY=8BITMIME; the original's bytes are returned unaltered.
 *
 * @example
 * const dsn = buildDsn({
 *   reportingMta: "mx.example.com", to: "alice@example.com", arrivalDate: new Date(),
 *   recipients: [{ address: "bob@example.net", action: "failed", status: "5.1.1",
 *     remoteMta: "mx.example.net", diagnostic: "550 5.1.1 No such user" }],
 *   original: bytes,
 * });
 */
export function buildDsn(input: DsnInput): Uint8Array {
  if (input.to === "") throw new Error("buildDsn: no DSN is sent to the null reverse-path");
  if (input.recipients.length === 0) throw new Error("buildDsn: no recipients to report");
  const randomToken = input.randomToken ?? defaultToken;
  const original = input.original;
  const header = original.subarray(0, headerBlockEnd(original));
  const maxReturnSize = input.maxReturnSize ?? DEFAULT_MAX_RETURN_SIZE;
  const tooBig = input.ret === "FULL" && original.length > maxReturnSize;
  const returnFull = input.ret === "FULL" && !tooBig;
  const global = hasEightBit(header) || !isAscii(input.to) ||
    input.recipients.some((r) =>
      !isAscii(r.address) || !isAscii(originalRecipientValue(r.originalRecipient ?? ""))
    );

  // RFC 6522 3: text, then the report, then the returned content; RFC 6533 3, 5, 6 for global.
  const text = humanReadable(input, returnFull, tooBig);
  const report = encoder.encode(deliveryStatus(input, global));
  const textFields = [
    "Content-Type: text/plain; charset=utf-8",
    "Content-Description: Notification",
  ];
  if (!isAscii(text)) textFields.push("Content-Transfer-Encoding: quoted-printable");
  const parts: BodyPart[] = [
    bodyPart(textFields, encoder.encode(isAscii(text) ? text : quotedPrintable(text))),
    bodyPart([
      `Content-Type: message/${global ? "global-delivery-status" : "delivery-status"}`,
      "Content-Description: Delivery report",
    ], report),
    bodyPart([
      `Content-Type: ${returnedType(returnFull, global)}`,
      `Content-Description: ${returnFull ? "Returned message" : "Returned message header"}`,
    ], returnFull ? original : header),
  ];

  let boundary = `postern-dsn-${randomToken()}`;
  while (parts.some((part) => includesBytes(part.body, encoder.encode(boundary)))) {
    boundary = `postern-dsn-${randomToken()}`;
  }
  const anyEightBit = parts.some((part) => part.eightBit);
  const date = input.date ?? new Date();
  const mta = headerSafe(input.reportingMta, false);
  const messageHeader = [
    `From: "Mail Delivery System" <MAILER-DAEMON@${mta}>`,
    ...foldField("To", `<${headerSafe(input.to, true)}>`),
    `Subject: ${subject(input.recipients)}`,
    `Date: ${rfc5322Date(date)}`,
    `Message-ID: <${randomToken()}@${mta}>`,
    "MIME-Version: 1.0",
    "Auto-Submitted: auto-replied", // RFC 3834 5
    "Content-Type: multipart/report; report-type=delivery-status;",
    `\tboundary="${boundary}"`,
    ...(anyEightBit ? ["Content-Transfer-Encoding: 8bit"] : []),
    "",
    "This is a MIME-encapsulated delivery status notification (RFC 3464).",
    "",
  ].join(CRLF);

  const chunks: Uint8Array[] = [encoder.encode(messageHeader)];
  for (const part of parts) {
    chunks.push(encoder.encode(`--${boundary}${CRLF}${part.header}${CRLF}`), part.body);
    chunks.push(encoder.encode(CRLF)); // belongs to the next delimiter
  }
  chunks.push(encoder.encode(`--${boundary}--${CRLF}`));
  return concat(chunks);
}

function humanReadable(input: DsnInput, returnFull: boolean, tooBig: boolean): string {
  const actions = new Set(input.recipients.map((r) => r.action));
  const lines = [
    `This is the mail delivery system at ${headerSafe(input.reportingMta, true)}.`,
    "",
  ];
  if (actions.has("failed")) {
    lines.push("Your message could not be delivered to one or more recipients.", "");
  }
  if (actions.has("delayed")) {
    lines.push(
      "Delivery of your message to one or more recipients has been delayed. The mail system " +
        "will keep trying; you do not need to send the message again yet.",
      "",
    );
  }
  if (actions.has("delivered") || actions.has("relayed") || actions.has("expanded")) {
    lines.push("This is a report on the delivery of your message, as you requested.", "");
  }
  for (const recipient of input.recipients) {
    lines.push(`<${headerSafe(recipient.address, true)}>: ${actionText(recipient)}`);
    if (recipient.diagnostic !== undefined) {
      const server = recipient.remoteMta
        ? `The mail server ${headerSafe(recipient.remoteMta, true)}`
        : "The remote server";
      lines.push(`    ${server} replied:`);
      for (const line of replyLines(recipient.diagnostic, true)) lines.push(`    ${line}`);
    }
    if (recipient.lastAttempt) {
      lines.push(`    Last attempt: ${rfc5322Date(recipient.lastAttempt)}`);
    }
    if (recipient.action === "delayed" && recipient.willRetryUntil) {
      lines.push(`    Retries end: ${rfc5322Date(recipient.willRetryUntil)}`);
    }
    lines.push("");
  }
  if (returnFull) lines.push("Your message is attached.");
  else if (tooBig) {
    lines.push("Your message was too large to return in full; its header is attached.");
  } else lines.push("The header of your message is attached.");
  return lines.flatMap((line) => wrapText(line)).map((line) => line + CRLF).join("");
}

function actionText(recipient: DsnRecipient): string {
  const status = statusCode(recipient);
  switch (recipient.action) {
    case "failed":
      return `delivery failed permanently (${status})`;
    case "delayed":
      return `not delivered yet, still trying (${status})`;
    case "delivered":
      return `delivered (${status})`;
    case "relayed":
      return `relayed to a system that does not report delivery (${status})`;
    case "expanded":
      return `delivered to a list or alias that forwards it further (${status})`;
  }
}

/** RFC 3464 2.2 per-message fields, then 2.3 per-recipient fields, groups apart by empty lines. */
function deliveryStatus(input: DsnInput, global: boolean): string {
  const groups: string[][] = [];
  const perMessage = foldField("Reporting-MTA", `dns; ${headerSafe(input.reportingMta, global)}`);
  if (input.envelopeId !== undefined) {
    perMessage.push(...foldField("Original-Envelope-Id", headerSafe(input.envelopeId, global)));
  }
  perMessage.push(`Arrival-Date: ${rfc5322Date(input.arrivalDate)}`);
  groups.push(perMessage);
  for (const recipient of input.recipients) {
    const fields: string[] = [];
    if (recipient.originalRecipient !== undefined) {
      const value = originalRecipientValue(recipient.originalRecipient);
      fields.push(...foldField("Original-Recipient", headerSafe(value, global)));
    }
    // RFC 6533 3: the utf-8 address type for addresses that are not ASCII.
    const type = isAscii(recipient.address) ? "rfc822" : "utf-8";
    fields.push(
      ...foldField("Final-Recipient", `${type}; ${headerSafe(recipient.address, global)}`),
    );
    fields.push(`Action: ${recipient.action}`, `Status: ${statusCode(recipient)}`);
    if (recipient.remoteMta) {
      fields.push(...foldField("Remote-MTA", `dns; ${headerSafe(recipient.remoteMta, global)}`));
    }
    if (recipient.diagnostic !== undefined) {
      const reply = replyLines(recipient.diagnostic, global);
      if (reply.length > 0) {
        fields.push(...foldField("Diagnostic-Code", `smtp; ${reply.join("\n")}`));
      }
    }
    if (recipient.lastAttempt) {
      fields.push(`Last-Attempt-Date: ${rfc5322Date(recipient.lastAttempt)}`);
    }
    // RFC 3464 2.3.9: only for delayed recipients.
    if (recipient.action === "delayed" && recipient.willRetryUntil) {
      fields.push(`Will-Retry-Until: ${rfc5322Date(recipient.willRetryUntil)}`);
    }
    groups.push(fields);
  }
  return groups.map((fields) => fields.map((line) => line + CRLF).join("")).join(CRLF);
}

/**
 * The Original-Recipient value (RFC 3464 2.3.1) for an ORCPT given decoded, as the SMTP
 * parser and the queue keep it ("rfc822;bob+lunch@example.net"); no type is taken as rfc822.
 */
function originalRecipientValue(orcpt: string): string {
  const semicolon = orcpt.indexOf(";");
  if (semicolon < 0) return `rfc822; ${orcpt.trim()}`;
  let type = orcpt.slice(0, semicolon).trim();
  const address = orcpt.slice(semicolon + 1).trim();
  if (!isAscii(address) && type.toLowerCase() === "rfc822") type = "utf-8";
  return `${type}; ${address}`;
}

/** The recipient's status if it is an RFC 3463 code, else the generic one for its action. */
function statusCode(recipient: DsnRecipient): string {
  if (/^[245]\.\d{1,3}\.\d{1,3}$/.test(recipient.status)) return recipient.status;
  return recipient.action === "failed"
    ? "5.0.0"
    : recipient.action === "delayed"
    ? "4.0.0"
    : "2.0.0";
}

function subject(recipients: DsnRecipient[]): string {
  if (recipients.some((r) => r.action === "failed")) return "Undelivered Mail Returned to Sender";
  if (recipients.some((r) => r.action === "delayed")) return "Delayed Mail (still being retried)";
  return "Successful Mail Delivery Report";
}

function returnedType(returnFull: boolean, global: boolean): string {
  if (returnFull) return global ? "message/global" : "message/rfc822";
  return global ? "message/global-headers" : "text/rfc822-headers";
}

interface BodyPart {
  /** Header fields, each ending in CRLF. */
  header: string;
  body: Uint8Array;
  eightBit: boolean;
}

/** A body part, labelled 8bit when its body has 8-bit octets (RFC 2045 6.2). */
function bodyPart(fields: string[], body: Uint8Array): BodyPart {
  const eightBit = hasEightBit(body);
  if (eightBit) fields.push("Content-Transfer-Encoding: 8bit");
  return { header: fields.map((field) => field + CRLF).join(""), body, eightBit };
}

/** The lines of a (possibly multi-line) SMTP reply, cleaned, without empty lines. */
function replyLines(reply: string, allowUtf8: boolean): string[] {
  return reply.split(/\r\n|\r|\n/).map((line) => headerSafe(line, allowUtf8)).filter((l) =>
    l !== ""
  );
}

/** Control characters (CR and LF included) and runs of whitespace become one space. */
function headerSafe(value: string, allowUtf8: boolean): string {
  // deno-lint-ignore no-control-regex
  let safe = value.replace(/[\x00-\x20\x7f]+/g, " ").trim();
  if (!allowUtf8) safe = safe.replace(/[\u0080-\u{10ffff}]/gu, "?");
  return safe;
}

/**
 * A header or delivery-status field as lines without CRLF. Each "\n"-separated line of the value
 * starts a continuation line of its own; long lines are folded before whitespace near FOLD_AT
 * octets and cut at MAX_LINE octets when there is none.
 */
function foldField(name: string, value: string): string[] {
  const logical = value.split("\n");
  const out: string[] = [];
  logical.forEach((line, i) => {
    if (i === 0) out.push(...foldLine(`${name}: ${line}`, name.length + 2));
    else out.push(...foldLine(` ${line}`, 1));
  });
  return out;
}

/** Folds before a space after index `minCut` (never right after the field name or indent). */
function foldLine(line: string, minCut: number): string[] {
  const out: string[] = [];
  let rest = line;
  let min = minCut;
  while (utf8Length(rest) > FOLD_AT) {
    const soft = prefixFitting(rest, FOLD_AT);
    const hard = prefixFitting(rest, MAX_LINE);
    let cut = rest.lastIndexOf(" ", soft);
    if (cut <= min) {
      cut = rest.indexOf(" ", Math.max(soft, min + 1));
      if (cut < 0 || cut > hard) cut = -1;
    }
    if (cut > 0) {
      out.push(rest.slice(0, cut));
      rest = rest.slice(cut);
      min = 1;
    } else if (utf8Length(rest) > MAX_LINE) {
      out.push(rest.slice(0, hard));
      rest = " " + rest.slice(hard);
      min = 1;
    } else {
      break;
    }
  }
  out.push(rest);
  return out;
}

/** A line of the text part wrapped at spaces near TEXT_WIDTH, continued with the same indent. */
function wrapText(line: string): string[] {
  const indent = /^ */.exec(line)![0];
  const out: string[] = [];
  let rest = line;
  while (utf8Length(rest) > TEXT_WIDTH) {
    const soft = prefixFitting(rest, TEXT_WIDTH);
    let cut = rest.lastIndexOf(" ", soft);
    if (cut <= indent.length) cut = rest.indexOf(" ", soft);
    if (cut < 0 || cut > prefixFitting(rest, MAX_LINE)) {
      if (utf8Length(rest) <= MAX_LINE) break;
      cut = prefixFitting(rest, MAX_LINE - indent.length);
      out.push(rest.slice(0, cut));
      rest = indent + rest.slice(cut);
      continue;
    }
    out.push(rest.slice(0, cut));
    rest = indent + rest.slice(cut + 1);
  }
  out.push(rest);
  return out;
}

/** RFC 2045 6.7, lines of at most 76 characters; the CRLFs of the text stay hard line breaks. */
function quotedPrintable(text: string): string {
  const out: string[] = [];
  for (const line of text.split(CRLF)) {
    const octets = encoder.encode(line);
    let current = "";
    octets.forEach((octet, i) => {
      const last = i === octets.length - 1;
      const literal = (octet >= 0x21 && octet <= 0x7e && octet !== 0x3d) ||
        ((octet === 0x20 || octet === 0x09) && !last);
      const token = literal ? String.fromCharCode(octet) : "=" + hex2(octet);
      if (current.length + token.length > 75) {
        out.push(current + "=");
        current = "";
      }
      current += token;
    });
    out.push(current);
  }
  return out.join(CRLF);
}

/** The string index of the longest prefix of at most maxOctets UTF-8 octets (whole code points). */
function prefixFitting(value: string, maxOctets: number): number {
  let octets = 0;
  let index = 0;
  for (const char of value) {
    const code = char.codePointAt(0)!;
    const size = code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
    if (octets + size > maxOctets) break;
    octets += size;
    index += char.length;
  }
  return index;
}

function utf8Length(value: string): number {
  return isAscii(value) ? value.length : encoder.encode(value).length;
}

/**
 * Where the original's header fields end: after the line end of the last field, before the
 * empty line (the whole message if it has none).
 */
function headerBlockEnd(message: Uint8Array): number {
  let lineStart = 0;
  while (lineStart < message.length) {
    if (message[lineStart] === 0x0a) return lineStart;
    if (message[lineStart] === 0x0d && message[lineStart + 1] === 0x0a) return lineStart;
    const lf = message.indexOf(0x0a, lineStart);
    if (lf < 0) return message.length;
    lineStart = lf + 1;
  }
  return message.length;
}

function hasEightBit(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] >= 0x80) return true;
  return false;
}

function isAscii(value: string): boolean {
  // deno-lint-ignore no-control-regex
  return /^[\x00-\x7f]*$/.test(value);
}

function includesBytes(haystack: Uint8Array, needle: Uint8Array): boolean {
  let at = haystack.indexOf(needle[0]);
  while (at >= 0 && at + needle.length <= haystack.length) {
    let i = 1;
    while (i < needle.length && haystack[at + i] === needle[i]) i++;
    if (i === needle.length) return true;
    at = haystack.indexOf(needle[0], at + 1);
  }
  return false;
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

function hex2(octet: number): string {
  return octet.toString(16).toUpperCase().padStart(2, "0");
}

function defaultToken(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), hex2).join("").toLowerCase();
}
