/**
 * FETCH items read from a message's bytes and MIME tree, through the Dovecot-compatible
 * builders in src/imap/fetch/: ENVELOPE, BODY, BODYSTRUCTURE, BODY[section]<partial>, BINARY,
 * BINARY.SIZE, RFC822, RFC822.HEADER and RFC822.TEXT.
 */
import type { FetchAttribute, Section } from "./wire/parser.ts";
import { CommandFailure } from "./server.ts";
import { literalItem, type LoadedContent } from "./fetch_items.ts";
import { envelope } from "./fetch/envelope.ts";
import { bodyStructure } from "./fetch/bodystructure.ts";
import { binary, binarySize, section } from "./fetch/sections.ts";

const encoder = new TextEncoder();

function join(name: string, value: Uint8Array): Uint8Array {
  const head = encoder.encode(`${name} `);
  const out = new Uint8Array(head.length + value.length);
  out.set(head);
  out.set(value, head.length);
  return out;
}

export function contentItem(
  attribute: FetchAttribute,
  content: LoadedContent,
): Promise<string | Uint8Array> {
  const { raw, mime } = content;
  const whole = (text: Section["text"]) => section(raw, mime, { part: [], text, fields: [] }, null);
  switch (attribute.kind) {
    case "ENVELOPE":
      return Promise.resolve(join("ENVELOPE", envelope(raw, mime)));
    case "BODY":
      return Promise.resolve(join("BODY", bodyStructure(raw, mime, false)));
    case "BODYSTRUCTURE":
      return Promise.resolve(join("BODYSTRUCTURE", bodyStructure(raw, mime, true)));
    case "RFC822":
      return Promise.resolve(literalItem("RFC822", whole(null)));
    case "RFC822.HEADER":
      return Promise.resolve(literalItem("RFC822.HEADER", whole("HEADER")));
    case "RFC822.TEXT":
      return Promise.resolve(literalItem("RFC822.TEXT", whole("TEXT")));
    case "BODY[]": {
      const bytes = section(raw, mime, attribute.section, attribute.partial);
      const origin = attribute.partial ? `<${attribute.partial.offset}>` : "";
      return Promise.resolve(
        literalItem(`BODY[${sectionName(attribute.section)}]${origin}`, bytes),
      );
    }
    case "BINARY[]": {
      const result = binary(raw, mime, attribute.part);
      if (!result.ok) throw new CommandFailure("NO", result.text, result.code);
      let bytes = result.bytes;
      if (attribute.partial) {
        const { offset, length } = attribute.partial;
        bytes = bytes.subarray(offset, offset + length);
      }
      const origin = attribute.partial ? `<${attribute.partial.offset}>` : "";
      // RFC 3516 4.1: binary content goes as literal8 (~{n}) when it holds NUL.
      const name = `BINARY[${attribute.part.join(".")}]${origin}`;
      if (bytes.includes(0)) {
        const head = encoder.encode(`${name} ~{${bytes.length}}\r\n`);
        const out = new Uint8Array(head.length + bytes.length);
        out.set(head);
        out.set(bytes, head.length);
        return Promise.resolve(out);
      }
      return Promise.resolve(literalItem(name, bytes));
    }
    case "BINARY.SIZE": {
      const result = binarySize(raw, mime, attribute.part);
      if (!result.ok) throw new CommandFailure("NO", result.text, result.code);
      return Promise.resolve(`BINARY.SIZE[${attribute.part.join(".")}] ${result.size}`);
    }
    default:
      throw new CommandFailure("BAD", `${attribute.kind} cannot be fetched`);
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
