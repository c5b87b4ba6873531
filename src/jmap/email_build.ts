/**
 * Builds the message bytes of an Email/set create (RFC 8621 4.6): header properties in any
 * form, and the body from bodyStructure or from textBody/htmlBody/attachments with bodyValues
 * and uploaded blobs.
 *
 * Implementation notes:
 * - Every rule of RFC 8621 4.6 that makes a create invalid is a SetFailure with the offending
 *   property names: server-set properties given, bodyStructure together with the body lists,
 *   more than one textBody or htmlBody part or of the wrong type, a Content-Transfer-Encoding
 *   header, a body value marked truncated or with an encoding problem, a header given twice.
 * - textBody + htmlBody become multipart/alternative; attachments wrap the body in
 *   multipart/mixed (inline ones with a cid beside an HTML body in multipart/related).
 * - Date and Message-ID are added when the client gives none.
 */
import {
  composeMessage,
  type ComposePart,
  encodeText,
  formatAddresses,
  formatGroups,
} from "../mail/compose.ts";
import { rfc5322Date } from "../smtp/received.ts";
import { type Args, invalidProperties, isPlainObject, SetFailure } from "./method.ts";
import { parseHeaderProperty } from "./email_render.ts";
import type { BlobContent } from "./blob_access.ts";

const SERVER_SET = ["id", "blobId", "threadId", "size", "hasAttachment", "preview"];
const CONVENIENCE: Record<string, { header: string; form: string }> = {
  messageId: { header: "Message-ID", form: "MessageIds" },
  inReplyTo: { header: "In-Reply-To", form: "MessageIds" },
  references: { header: "References", form: "MessageIds" },
  sender: { header: "Sender", form: "Addresses" },
  from: { header: "From", form: "Addresses" },
  to: { header: "To", form: "Addresses" },
  cc: { header: "Cc", form: "Addresses" },
  bcc: { header: "Bcc", form: "Addresses" },
  replyTo: { header: "Reply-To", form: "Addresses" },
  subject: { header: "Subject", form: "Text" },
  sentAt: { header: "Date", form: "Date" },
};
const META = ["mailboxIds", "keywords", "receivedAt"];
const BODY = ["bodyStructure", "textBody", "htmlBody", "attachments", "bodyValues", "headers"];

export type BlobReader = (blobId: string) => Promise<BlobContent | null>;

/** Renders one header value given in `form` (RFC 8621 4.1.2) as raw header text. */
function renderValue(value: unknown, form: string, property: string): string {
  const bad = () => invalidProperties([property], `${property} has the wrong type`);
  switch (form) {
    case "Raw":
      if (typeof value !== "string") throw bad();
      return value.replace(/^ /, "").replace(/\r?\n(?![ \t])/g, "\r\n ");
    case "Text":
      if (typeof value !== "string") throw bad();
      return encodeText(value);
    case "Addresses":
      return formatAddresses(addresses(value, bad));
    case "GroupedAddresses": {
      if (!Array.isArray(value)) throw bad();
      return formatGroups(value.map((group) => {
        if (!isPlainObject(group)) throw bad();
        if (group.name !== null && typeof group.name !== "string") throw bad();
        return { name: group.name as string | null, addresses: addresses(group.addresses, bad) };
      }));
    }
    case "MessageIds":
      if (
        !Array.isArray(value) || value.some((id) => typeof id !== "string" || /[<>\s]/.test(id))
      ) {
        throw bad();
      }
      return (value as string[]).map((id) => `<${id}>`).join(" ");
    case "Date": {
      if (typeof value !== "string" || Number.isNaN(Date.parse(value))) throw bad();
      // The client's offset is kept in the header (RFC 8621 4.1.2.4 Date form).
      const zone = /([+-])(\d\d):(\d\d)$/.exec(value);
      const offset = zone
        ? (zone[1] === "-" ? -1 : 1) * (Number(zone[2]) * 60 + Number(zone[3]))
        : 0;
      return rfc5322Date(new Date(value), offset);
    }
    case "URLs":
      if (!Array.isArray(value) || value.some((u) => typeof u !== "string" || /[<>\s]/.test(u))) {
        throw bad();
      }
      return (value as string[]).map((u) => `<${u}>`).join(", ");
  }
  throw bad();
}

function addresses(value: unknown, bad: () => SetFailure) {
  if (!Array.isArray(value)) throw bad();
  return value.map((a) => {
    if (
      !isPlainObject(a) || typeof a.email !== "string" ||
      (a.name !== undefined && a.name !== null && typeof a.name !== "string") ||
      /[\s<>]/.test(a.email)
    ) {
      throw bad();
    }
    return { name: (a.name as string | null | undefined) ?? null, email: a.email };
  });
}

/** Header fields from `headers` and header:* / convenience properties of an object. */
function collectHeaders(object: Args, allowContent: boolean, where: string): [string, string][] {
  const fields: [string, string][] = [];
  const seen = new Set<string>();
  const add = (name: string, value: string, property: string) => {
    const lower = name.toLowerCase();
    if (lower.startsWith("content-") && !allowContent) {
      throw invalidProperties([property], `${name} is set per body part`);
    }
    if (lower === "content-transfer-encoding") {
      throw invalidProperties([property], "Content-Transfer-Encoding is chosen by the server");
    }
    if (seen.has(lower)) throw invalidProperties([property], `${name} is given twice`);
    fields.push([name, value]);
  };
  const names = new Set<string>();
  for (const [key, value] of Object.entries(object)) {
    const convenience = CONVENIENCE[key];
    if (convenience) {
      if (value === null) continue;
      add(convenience.header, renderValue(value, convenience.form, key), key);
      names.add(convenience.header.toLowerCase());
      continue;
    }
    if (!key.toLowerCase().startsWith("header:")) continue;
    const parsed = parseHeaderProperty(key);
    if (!parsed) throw invalidProperties([key], `bad header property in ${where}`);
    if (value === null) continue;
    if (parsed.all) {
      if (!Array.isArray(value)) throw invalidProperties([key]);
      for (const item of value) add(parsed.name, renderValue(item, parsed.form, key), key);
    } else {
      add(parsed.name, renderValue(value, parsed.form, key), key);
    }
    names.add(parsed.name.toLowerCase());
  }
  for (const name of names) seen.add(name);
  if (object.headers !== undefined) {
    if (!Array.isArray(object.headers)) throw invalidProperties(["headers"]);
    for (const header of object.headers) {
      if (
        !isPlainObject(header) || typeof header.name !== "string" ||
        typeof header.value !== "string" || !/^[\x21-\x39\x3b-\x7e]+$/.test(header.name)
      ) {
        throw invalidProperties(["headers"]);
      }
      if (names.has(header.name.toLowerCase())) {
        throw invalidProperties(["headers"], `${header.name} is also given as a property`);
      }
      fields.push([header.name, renderValue(header.value, "Raw", "headers")]);
    }
  }
  return fields;
}

interface BuildInput {
  object: Args;
  readBlob: BlobReader;
  /** The right-hand side of a generated Message-ID (the account's domain). */
  domain: string;
}

/** The message bytes for an Email/set create object. Throws SetFailure. */
export async function buildEmail({ object, readBlob, domain }: BuildInput): Promise<Uint8Array> {
  for (const key of Object.keys(object)) {
    if (SERVER_SET.includes(key)) throw invalidProperties([key], `${key} is set by the server`);
    if (
      !META.includes(key) && !BODY.includes(key) && !(key in CONVENIENCE) &&
      !key.toLowerCase().startsWith("header:")
    ) {
      throw invalidProperties([key], `unknown property ${key}`);
    }
  }
  const headers = collectHeaders(object, false, "the email");
  const bodyValues = object.bodyValues ?? {};
  if (!isPlainObject(bodyValues)) throw invalidProperties(["bodyValues"]);
  for (const [partId, value] of Object.entries(bodyValues)) {
    if (!isPlainObject(value) || typeof value.value !== "string") {
      throw invalidProperties([`bodyValues/${partId}`]);
    }
    if (value.isTruncated === true || value.isEncodingProblem === true) {
      throw invalidProperties([`bodyValues/${partId}`], "a body value must be whole and clean");
    }
  }
  const usedValues = new Set<string>();
  const leaf = async (part: unknown, property: string): Promise<ComposePart> => {
    if (!isPlainObject(part)) throw invalidProperties([property]);
    if (part.subParts !== undefined && part.subParts !== null) {
      throw invalidProperties([property], "only bodyStructure parts may have subParts");
    }
    const partHeaders = collectHeaders(
      Object.fromEntries(
        Object.entries(part).filter(([k]) =>
          k === "headers" || k.toLowerCase().startsWith("header:")
        ),
      ),
      false,
      property,
    );
    const given = typeof part.type === "string" ? part.type.toLowerCase() : null;
    if (given !== null && !/^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(given)) {
      throw invalidProperties([`${property}/type`]);
    }
    const common = {
      headers: partHeaders,
      charset: typeof part.charset === "string" ? part.charset : null,
      disposition: typeof part.disposition === "string" ? part.disposition.toLowerCase() : null,
      name: typeof part.name === "string" ? part.name : null,
      cid: typeof part.cid === "string" ? part.cid : null,
      language: Array.isArray(part.language) ? part.language as string[] : null,
      location: typeof part.location === "string" ? part.location : null,
    };
    if (typeof part.partId === "string") {
      if (part.blobId !== undefined && part.blobId !== null) {
        throw invalidProperties([property], "a part has a partId or a blobId, not both");
      }
      const value = (bodyValues as Record<string, { value: string }>)[part.partId];
      if (!value) throw invalidProperties([`${property}/partId`], "no body value for the partId");
      if (usedValues.has(part.partId)) {
        throw invalidProperties([`${property}/partId`], "a body value is used once");
      }
      usedValues.add(part.partId);
      const type = given ?? "text/plain";
      if (!type.startsWith("text/")) {
        throw invalidProperties([`${property}/type`], "a partId part is text");
      }
      if (common.charset && common.charset.toLowerCase() !== "utf-8") {
        throw invalidProperties([`${property}/charset`], "text parts are written in UTF-8");
      }
      return { ...common, type, text: value.value, charset: "utf-8" };
    }
    if (typeof part.blobId === "string") {
      const blob = await readBlob(part.blobId);
      if (!blob) throw new SetFailure({ type: "blobNotFound", notFound: [part.blobId] });
      return {
        ...common,
        type: given ?? blob.type ?? "application/octet-stream",
        bytes: blob.bytes,
        charset: null,
      };
    }
    throw invalidProperties([property], "a part needs a partId or a blobId");
  };
  let root: ComposePart;
  const hasLists = ["textBody", "htmlBody", "attachments"].some((k) =>
    object[k] !== undefined && object[k] !== null
  );
  if (object.bodyStructure !== undefined && object.bodyStructure !== null) {
    if (hasLists) {
      throw invalidProperties(["bodyStructure"], "bodyStructure or the body lists, not both");
    }
    const walk = async (part: unknown, path: string, depth: number): Promise<ComposePart> => {
      if (depth > 20) throw invalidProperties([path], "the body structure nests too deep");
      if (!isPlainObject(part)) throw invalidProperties([path]);
      if (Array.isArray(part.subParts)) {
        const type = typeof part.type === "string" ? part.type.toLowerCase() : "multipart/mixed";
        if (!type.startsWith("multipart/")) {
          throw invalidProperties([`${path}/type`], "a part with subParts is multipart");
        }
        const parts: ComposePart[] = [];
        for (let i = 0; i < part.subParts.length; i++) {
          parts.push(await walk(part.subParts[i], `${path}/subParts/${i}`, depth + 1));
        }
        return {
          type,
          parts,
          headers: collectHeaders(
            Object.fromEntries(
              Object.entries(part).filter(([k]) =>
                k === "headers" || k.toLowerCase().startsWith("header:")
              ),
            ),
            false,
            path,
          ),
        };
      }
      return await leaf(part, path);
    };
    root = await walk(object.bodyStructure, "bodyStructure", 0);
  } else {
    const list = (key: string): unknown[] => {
      const value = object[key];
      if (value === undefined || value === null) return [];
      if (!Array.isArray(value)) throw invalidProperties([key]);
      return value;
    };
    const textList = list("textBody");
    const htmlList = list("htmlBody");
    if (textList.length > 1) throw invalidProperties(["textBody"], "at most one text part");
    if (htmlList.length > 1) throw invalidProperties(["htmlBody"], "at most one HTML part");
    const text = textList.length ? await leaf(textList[0], "textBody/0") : null;
    const html = htmlList.length ? await leaf(htmlList[0], "htmlBody/0") : null;
    if (text && text.type !== "text/plain") {
      throw invalidProperties(["textBody"], "textBody is text/plain");
    }
    if (html && html.type !== "text/html") {
      throw invalidProperties(["htmlBody"], "htmlBody is text/html");
    }
    const attachments: ComposePart[] = [];
    const attachmentList = list("attachments");
    for (let i = 0; i < attachmentList.length; i++) {
      attachments.push(await leaf(attachmentList[i], `attachments/${i}`));
    }
    let body: ComposePart = text && html
      ? { type: "multipart/alternative", parts: [text, html] }
      : text ?? html ?? { type: "text/plain", text: "", charset: "utf-8" };
    const related = attachments.filter((a) => a.cid && a.disposition === "inline");
    const mixed = attachments.filter((a) => !related.includes(a));
    if (html && related.length) {
      const htmlPart = text ? { type: "multipart/alternative", parts: [text, html] } : html;
      body = { type: "multipart/related", parts: [htmlPart, ...related] };
    } else {
      mixed.unshift(...related);
    }
    root = mixed.length ? { type: "multipart/mixed", parts: [body, ...mixed] } : body;
  }
  for (const partId of Object.keys(bodyValues)) {
    if (!usedValues.has(partId)) {
      throw invalidProperties([`bodyValues/${partId}`], "no part uses this body value");
    }
  }
  const lower = new Set(headers.map(([name]) => name.toLowerCase()));
  if (!lower.has("date")) headers.push(["Date", rfc5322Date(new Date())]);
  if (!lower.has("message-id")) headers.push(["Message-ID", `<${crypto.randomUUID()}@${domain}>`]);
  // The root part's own header fields (from bodyStructure) go with the message header.
  return composeMessage(headers, root);
}
