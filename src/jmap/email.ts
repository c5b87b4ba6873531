/**
 * Email/get and Email/changes (RFC 8621 4.2, 4.3); Email/query in email_query.ts, Email/set,
 * /import, /copy and /parse in email_set.ts.
 *
 * Implementation notes:
 * - Properties stored at ingest (dates, size, threading, addresses, subject, preview,
 *   hasAttachment) are answered from the row; the message file is read only when a property
 *   needs the bytes (headers, header:*, body parts and values), once per email.
 * - Address and id header properties are null when the message has no such field; the row
 *   keeps an empty list for both "absent" and "empty", so those come from the bytes when the
 *   client also asked for a body property and from the row otherwise.
 */
import type { JmapEmailRecord } from "../store/types.ts";
import type { MimePart } from "../mail/mime.ts";
import {
  type Args,
  fail,
  type MethodContext,
  MethodError,
  type MethodSpec,
  optionalBoolean,
  optionalStringList,
  optionalUnsigned,
} from "./method.ts";
import { changesResponse, currentState, readGetArgs } from "./standard.ts";
import { blobId, fromJmapId, toJmapId } from "./ids.ts";
import {
  DEFAULT_BODY_PROPERTIES,
  isHeaderProperty,
  parseHeaderProperty,
  renderEmailProperties,
} from "./email_render.ts";

export const MAIL = "urn:ietf:params:jmap:mail";

const METADATA = [
  "id",
  "blobId",
  "threadId",
  "mailboxIds",
  "keywords",
  "size",
  "receivedAt",
] as const;
const STORED_HEADERS = [
  "messageId",
  "inReplyTo",
  "references",
  "sender",
  "from",
  "to",
  "cc",
  "bcc",
  "replyTo",
  "subject",
  "sentAt",
  "hasAttachment",
  "preview",
] as const;
const BODY = ["bodyStructure", "bodyValues", "textBody", "htmlBody", "attachments", "headers"];

export const EMAIL_PROPERTIES: readonly string[] = [...METADATA, ...STORED_HEADERS, ...BODY];

const DEFAULT_PROPERTIES = [
  ...METADATA,
  ...STORED_HEADERS,
  "bodyValues",
  "textBody",
  "htmlBody",
  "attachments",
];

/** Email/parse's default (RFC 8621 4.9): Email/get's, less what only a stored email has. */
export const PARSE_DEFAULT_PROPERTIES: readonly string[] = DEFAULT_PROPERTIES.filter(
  (name) => !(METADATA as readonly string[]).includes(name),
);

const BODY_PART_PROPERTIES = [
  "partId",
  "blobId",
  "size",
  "headers",
  "name",
  "type",
  "charset",
  "disposition",
  "cid",
  "language",
  "location",
  "subParts",
];

/** Email/get's extra arguments, checked. */
export function readBodyArgs(args: Args) {
  const bodyProperties = optionalStringList(args, "bodyProperties");
  for (const name of bodyProperties ?? []) {
    if (!BODY_PART_PROPERTIES.includes(name) && !isHeaderProperty(name)) {
      fail(`unknown body property ${name}`);
    }
  }
  return {
    bodyProperties: bodyProperties ?? [...DEFAULT_BODY_PROPERTIES],
    fetchTextBodyValues: optionalBoolean(args, "fetchTextBodyValues", false),
    fetchHTMLBodyValues: optionalBoolean(args, "fetchHTMLBodyValues", false),
    fetchAllBodyValues: optionalBoolean(args, "fetchAllBodyValues", false),
    maxBodyValueBytes: optionalUnsigned(args, "maxBodyValueBytes") ?? 0,
  };
}

/** Checks a property list of Email/get (or Email/parse); header:* forms included. */
export function checkEmailProperties(properties: string[]): void {
  for (const name of properties) {
    if (EMAIL_PROPERTIES.includes(name)) continue;
    if (name.toLowerCase().startsWith("header:")) {
      if (!parseHeaderProperty(name)) fail(`bad header property ${name}`);
      continue;
    }
    fail(`unknown property ${name}`);
  }
}

function addresses(list: { name: string | null; email: string }[]) {
  return list.length ? list.map((a) => ({ name: a.name ?? null, email: a.email })) : null;
}

/** The properties answered from the stored row. */
function fromRecord(email: JmapEmailRecord, name: string): unknown {
  switch (name) {
    case "id":
      return toJmapId("email", email.id);
    case "blobId":
      return blobId(email.blobHash);
    case "threadId":
      return toJmapId("thread", email.threadId);
    case "mailboxIds":
      return Object.fromEntries(email.mailboxIds.map((id) => [toJmapId("mailbox", id), true]));
    case "keywords":
      return Object.fromEntries(email.keywords.map((k) => [k, true]));
    case "size":
      return email.size;
    case "receivedAt":
      return utcDate(email.receivedAt);
    case "messageId":
      return email.messageId ? [email.messageId] : null;
    case "inReplyTo":
      return email.inReplyTo.length ? email.inReplyTo : null;
    case "references":
      return email.references.length ? email.references : null;
    case "sender":
    case "from":
    case "to":
    case "cc":
    case "bcc":
    case "replyTo":
      return addresses(email[name]);
    case "subject":
      return email.subject;
    case "sentAt":
      return email.sentAt ? utcDate(email.sentAt) : null;
    case "hasAttachment":
      return email.hasAttachment;
    case "preview":
      return email.preview;
  }
  return undefined;
}

/** RFC 8620 UTCDate: "2014-10-30T06:12:00Z" (no fractional seconds). */
export function utcDate(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

async function get(args: Args, ctx: MethodContext): Promise<Args> {
  const { ids, properties } = readGetArgs(args, ctx, [
    "bodyProperties",
    "fetchTextBodyValues",
    "fetchHTMLBodyValues",
    "fetchAllBodyValues",
    "maxBodyValueBytes",
  ]);
  const body = readBodyArgs(args);
  const selected = properties ?? DEFAULT_PROPERTIES;
  checkEmailProperties(selected);
  const wanted = selected.includes("id") ? selected : ["id", ...selected];
  const state = await currentState(ctx);
  let emailIds: number[];
  if (ids === null) {
    const listing = await ctx.caches.listing(ctx.account.id);
    if (listing.entries.length > ctx.limits.maxObjectsInGet) {
      throw new MethodError(
        "requestTooLarge",
        "too many emails to list; use Email/query",
      );
    }
    emailIds = listing.entries.map((e) => e.id);
  } else {
    emailIds = ids.map((id) => fromJmapId("email", id)).filter((id) => id !== null) as number[];
  }
  const fromBytes = wanted.filter((name) =>
    BODY.includes(name) || name.toLowerCase().startsWith("header:")
  );
  // Header convenience properties come from the bytes too when those are read anyway.
  const bytesNeeded = fromBytes.length > 0;
  const records = new Map(
    (await ctx.app.store.jmapEmails(ctx.account.id, emailIds, { mime: bytesNeeded }))
      .map((r) => [r.id, r]),
  );
  const list: Args[] = [];
  const notFound: string[] = [];
  for (const id of ids ?? emailIds.map((n) => toJmapId("email", n))) {
    const record = records.get(fromJmapId("email", id) ?? -1);
    if (!record) {
      notFound.push(id);
      continue;
    }
    const object: Args = {};
    for (const name of wanted) {
      const value = fromRecord(record, name);
      if (value !== undefined) object[name] = value;
    }
    if (bytesNeeded) {
      const raw = await ctx.app.blobs.get(record.blobHash);
      const root = JSON.parse(record.mime) as MimePart;
      const rendered = renderEmailProperties(
        raw,
        root,
        record.blobHash,
        wanted.filter((name) =>
          !(METADATA as readonly string[]).includes(name) && name !== "hasAttachment" &&
          name !== "preview"
        ),
        body,
      );
      Object.assign(object, rendered);
    }
    list.push(object);
  }
  return { accountId: ctx.accountId, state, list, notFound };
}

async function changes(args: Args, ctx: MethodContext): Promise<Args> {
  return await changesResponse(args, ctx, ["Email"], (n) => toJmapId("email", n));
}

export const emailMethods: Record<string, MethodSpec> = {
  "Email/get": { capability: MAIL, handler: get },
  "Email/changes": { capability: MAIL, handler: changes },
};
