/**
 * FETCH items read from a message's bytes and MIME tree: RFC822, RFC822.HEADER, RFC822.TEXT,
 * BODY[section]<partial> (RFC 9051 6.4.5 section numbering, through `findSection`).
 * ENVELOPE, BODY and BODYSTRUCTURE come from src/imap/fetch/ (byte-compatible with Dovecot).
 */
import type { FetchAttribute, Section } from "./wire/parser.ts";
import { findSection, type MimePart } from "../mail/mime.ts";
import { CommandFailure } from "./server.ts";
import { literalItem, type LoadedContent } from "./fetch_items.ts";

export function contentItem(
  attribute: FetchAttribute,
  content: LoadedContent,
): Promise<string | Uint8Array> {
  const { raw, mime } = content;
  switch (attribute.kind) {
    case "RFC822":
      return Promise.resolve(literalItem("RFC822", raw));
    case "RFC822.HEADER":
      return Promise.resolve(
        literalItem("RFC822.HEADER", raw.subarray(mime.headerStart, mime.headerEnd)),
      );
    case "RFC822.TEXT":
      return Promise.resolve(
        literalItem("RFC822.TEXT", raw.subarray(mime.bodyStart, mime.bodyEnd)),
      );
    case "BODY[]": {
      const bytes = sectionBytes(raw, mime, attribute.section);
      const name = `BODY[${sectionName(attribute.section)}]`;
      if (!attribute.partial) return Promise.resolve(literalItem(name, bytes));
      const { offset, length } = attribute.partial;
      return Promise.resolve(
        literalItem(`${name}<${offset}>`, bytes.subarray(offset, offset + length)),
      );
    }
    default:
      throw new CommandFailure("BAD", `${attribute.kind} is not supported yet`);
  }
}

export function sectionName(section: Section): string {
  const parts = section.part.join(".");
  if (!section.text) return parts;
  const text = section.text.startsWith("HEADER.FIELDS")
    ? `${section.text} (${section.fields.map((f) => f.toUpperCase()).join(" ")})`
    : section.text;
  return parts ? `${parts}.${text}` : text;
}

/** The octets of a section; an absent part is empty (RFC 9051 6.4.5). */
export function sectionBytes(raw: Uint8Array, root: MimePart, section: Section): Uint8Array {
  const empty = new Uint8Array(0);
  const part = findSection(root, section.part.join("."));
  if (!part) return empty;
  // The message whose header/text is meant: the root, or the one a message/rfc822 part holds.
  const message = section.part.length === 0 ? part : part.message;
  switch (section.text) {
    case null:
      return section.part.length === 0
        ? raw.subarray(part.headerStart, part.bodyEnd)
        : raw.subarray(part.bodyStart, part.bodyEnd);
    case "MIME":
      return raw.subarray(part.headerStart, part.headerEnd);
    case "TEXT":
      return message ? raw.subarray(message.bodyStart, message.bodyEnd) : empty;
    case "HEADER":
      return message ? raw.subarray(message.headerStart, message.headerEnd) : empty;
    case "HEADER.FIELDS":
    case "HEADER.FIELDS.NOT":
      return message
        ? selectFields(
          raw.subarray(message.headerStart, message.headerEnd),
          section.fields,
          section.text === "HEADER.FIELDS.NOT",
        )
        : empty;
  }
}

/** The header fields named (or, with `not`, all others), original bytes, then CRLF. */
function selectFields(header: Uint8Array, names: string[], not: boolean): Uint8Array {
  const wanted = new Set(names.map((n) => n.toLowerCase()));
  const text = new TextDecoder("latin1").decode(header);
  const fields = text.replace(/\r\n$/, "").split(/\r\n(?![ \t])/);
  let out = "";
  for (const field of fields) {
    if (field === "") continue;
    const colon = field.indexOf(":");
    const name = (colon === -1 ? field : field.slice(0, colon)).trim().toLowerCase();
    if (wanted.has(name) !== not) out += `${field}\r\n`;
  }
  out += "\r\n";
  return Uint8Array.from(out, (c) => c.charCodeAt(0));
}
