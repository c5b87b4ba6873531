/**
 * Text extraction from a parsed MIME tree, for the JMAP preview and the full-text index.
 *
 * Implementation notes:
 * - The body parts are chosen with the algorithm of RFC 8621 4.1.4 (textBody, htmlBody,
 *   attachments), so the preview matches what a JMAP client shows as the body.
 * - Attached messages (message/rfc822 in the attachments) are indexed too, after the main body,
 *   in document order; they do not count towards the preview.
 * - The text is capped at maxTextBytes UTF-8 bytes; parts are decoded from a bounded slice so a
 *   50 MB text attachment costs no more than the cap. Never throws.
 */
import { partText } from "./decode.ts";
import { htmlToText } from "./html.ts";
import type { MimePart } from "./mime.ts";

export interface ExtractedText {
  text: string;
  preview: string;
  hasAttachment: boolean;
}

export interface BodyParts {
  textBody: MimePart[];
  htmlBody: MimePart[];
  attachments: MimePart[];
}

const PREVIEW_CHARS = 256;
const DEFAULT_MAX_TEXT_BYTES = 1024 * 1024;
/** Multipart nesting deeper than this is not walked (the parser's depth limit is lower). */
const MAX_WALK_DEPTH = 4096;

function isInlineMedia(part: MimePart): boolean {
  return part.type === "image" || part.type === "audio" || part.type === "video";
}

function fileName(part: MimePart): string | undefined {
  return part.dispositionParams.filename ?? part.params.name;
}

function walk(
  parts: MimePart[],
  multipartType: string,
  inAlternative: boolean,
  html: MimePart[] | null,
  text: MimePart[] | null,
  attachments: MimePart[],
  depth: number,
): void {
  const textLength = text ? text.length : -1;
  const htmlLength = html ? html.length : -1;
  parts.forEach((part, i) => {
    const mediaType = `${part.type}/${part.subtype}`;
    const isInline = part.disposition !== "attachment" &&
      (mediaType === "text/plain" || mediaType === "text/html" || isInlineMedia(part)) &&
      (i === 0 ||
        (multipartType !== "related" && (isInlineMedia(part) || fileName(part) === undefined)));
    if (part.type === "multipart") {
      if (depth < MAX_WALK_DEPTH) {
        const sub = part.subtype;
        walk(
          part.parts,
          sub,
          inAlternative || sub === "alternative",
          html,
          text,
          attachments,
          depth + 1,
        );
      }
    } else if (isInline) {
      if (multipartType === "alternative") {
        if (mediaType === "text/plain") text?.push(part);
        else if (mediaType === "text/html") html?.push(part);
        else attachments.push(part);
        return;
      } else if (inAlternative) {
        if (mediaType === "text/plain") html = null;
        if (mediaType === "text/html") text = null;
      }
      text?.push(part);
      html?.push(part);
      if ((!text || !html) && isInlineMedia(part)) attachments.push(part);
    } else {
      attachments.push(part);
    }
  });
  if (multipartType === "alternative" && text && html) {
    if (textLength === text.length && htmlLength !== html.length) {
      for (let i = htmlLength; i < html.length; i++) text.push(html[i]);
    }
    if (htmlLength === html.length && textLength !== text.length) {
      for (let i = textLength; i < text.length; i++) html.push(text[i]);
    }
  }
}

/**
 * The textBody, htmlBody and attachments lists of RFC 8621 4.1.4 for a message root.
 *
 * @example
 * bodyParts(root).attachments.map((p) => p.section); // ["2"]
 */
export function bodyParts(root: MimePart): BodyParts {
  const textBody: MimePart[] = [];
  const htmlBody: MimePart[] = [];
  const attachments: MimePart[] = [];
  walk([root], "mixed", false, htmlBody, textBody, attachments, 0);
  return { textBody, htmlBody, attachments };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function bodyAsText(raw: Uint8Array, part: MimePart, budget: number): string {
  const isHtml = part.subtype === "html";
  // Encoded bytes needed for `budget` bytes of text, with room for markup and encodings.
  const window = Math.min(part.bodyEnd - part.bodyStart, budget * (isHtml ? 32 : 8) + 64);
  const limited = { ...part, bodyEnd: part.bodyStart + Math.max(0, window) };
  const text = partText(raw, limited);
  return isHtml ? htmlToText(text) : text;
}

function truncateUtf8(text: string, maxBytes: number): string {
  if (text.length * 3 <= maxBytes) return text;
  const bytes = encoder.encode(text);
  if (bytes.length <= maxBytes) return text;
  return decoder.decode(bytes.subarray(0, maxBytes)).replace(/\ufffd$/, "");
}

function collapse(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  const chars = Array.from(flat.slice(0, PREVIEW_CHARS * 2));
  return chars.length > PREVIEW_CHARS ? chars.slice(0, PREVIEW_CHARS).join("") : chars.join("");
}

/**
 * Text for the preview and the full-text index, from the parsed tree (no second parse).
 *
 * @example
 * const { preview, hasAttachment } = extractText(raw, parseMime(raw, limits));
 */
export function extractText(
  raw: Uint8Array,
  root: MimePart,
  options: { maxTextBytes?: number } = {},
): ExtractedText {
  const maxBytes = Math.max(0, options.maxTextBytes ?? DEFAULT_MAX_TEXT_BYTES);
  const pieces: string[] = [];
  let used = 0;
  let preview = "";
  let hasAttachment = false;
  const queue: MimePart[] = [root];
  for (let q = 0; q < queue.length; q++) {
    const { textBody, attachments } = bodyParts(queue[q]);
    const main: string[] = [];
    for (const part of textBody) {
      if (part.type !== "text" || (part.subtype !== "plain" && part.subtype !== "html")) continue;
      const budget = maxBytes - used;
      const text = used < maxBytes || q === 0 ? bodyAsText(raw, part, Math.max(budget, 4096)) : "";
      if (q === 0) main.push(text);
      if (used < maxBytes && text) {
        const piece = truncateUtf8(text, budget);
        pieces.push(piece);
        used += encoder.encode(piece).length + 1;
      }
    }
    if (q === 0) {
      preview = collapse(main.join(" "));
      hasAttachment = attachments.some((p) => p.disposition !== "inline");
    }
    for (const part of attachments) if (part.message) queue.push(part.message);
  }
  return { text: pieces.join("\n"), preview, hasAttachment };
}
