/**
 * The Content-* header fields of a MIME part (RFC 2045, RFC 2183, RFC 3282, RFC 2557) applied
 * to a MimePart under construction.
 *
 * Implementation notes:
 * - Only the first occurrence of each field counts (the caller keeps track).
 * - An unreadable Content-Type means text/plain (RFC 2045 5.2), keeping what parameters parse.
 */
import { latin1 } from "./charset.ts";
import { decodeEncodedWords } from "./encoded_words.ts";
import type { FieldSpan } from "./headers.ts";
import type { MimePart } from "./mime.ts";
import { parseParameterised } from "./params.ts";

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;

/** The lowercased name of a Content-* field, or null for any other field. */
export function contentFieldName(raw: Uint8Array, span: FieldSpan): string | null {
  const len = span.nameEnd - span.start;
  if (len < 10 || len > 30 || (raw[span.start] | 0x20) !== 0x63) return null;
  const name = latin1(raw.subarray(span.start, span.nameEnd)).toLowerCase();
  return name.startsWith("content-") ? name : null;
}

export function applyContentField(part: MimePart, name: string, value: string): void {
  switch (name) {
    case "content-type": {
      const { value: mediaType, params } = parseParameterised(value);
      const slash = mediaType.indexOf("/");
      const type = mediaType.slice(0, slash).toLowerCase();
      const subtype = mediaType.slice(slash + 1).toLowerCase();
      if (slash > 0 && TOKEN.test(type) && TOKEN.test(subtype)) {
        part.type = type;
        part.subtype = subtype;
        part.params = params;
      } else {
        // RFC 2045 5.2: an unreadable Content-Type means text/plain; keep what parameters we can.
        part.type = "text";
        part.subtype = "plain";
        part.params = { charset: "us-ascii", ...params };
      }
      break;
    }
    case "content-transfer-encoding":
      part.encoding = value.trim().split(/[\s(;]/)[0].toLowerCase() || "7bit";
      break;
    case "content-disposition": {
      const { value: disposition, params } = parseParameterised(value);
      part.disposition = disposition.toLowerCase() || null;
      part.dispositionParams = params;
      break;
    }
    case "content-id":
      part.id = value.trim() || null;
      break;
    case "content-description":
      part.description = decodeEncodedWords(value).trim();
      break;
    case "content-md5":
      part.md5 = value.trim() || null;
      break;
    case "content-language": {
      const tags = value.replace(/\([^()]*\)/g, " ").split(/[\s,]+/).filter((t) => t !== "");
      part.language = tags.length > 0 ? tags : null;
      break;
    }
    case "content-location":
      part.location = value.replace(/\s+/g, "") || null;
      break;
  }
}
