/**
 * Email/set, Email/import, Email/copy and Email/parse (RFC 8621 4.6–4.9).
 *
 * Implementation notes:
 * - Creates and imports go through the one message path (MessagePath.ingest): the same limits,
 *   parsing, threading, full-text indexing and durability as SMTP delivery and IMAP APPEND,
 *   and the same change event, so IMAP IDLE sees a JMAP-created message at once.
 * - Updates accept whole `keywords`/`mailboxIds` objects or per-key patches
 *   ("keywords/$seen": true|null). Per-key patches become add/remove changes in the store, so a
 *   concurrent IMAP STORE of another flag is not undone by a stale read.
 * - Keyword and mailbox changes that express a spam judgement (into or out of the Junk
 *   mailbox, $junk, $notjunk; out of Junk into Trash is a deletion, not a judgement) are
 *   published with `training`, as IMAP does.
 * - Email/copy copies between accounts; with one account per login, a copy from the same
 *   account is invalidArguments (RFC 8620 5.4) and any other account is fromAccountNotFound.
 */
import { IngestError } from "../mail/ingest.ts";
import { parseMime } from "../mail/mime.ts";
import type { EmailUpdate, KeywordChange } from "../store/types.ts";
import {
  allowOnly,
  type Args,
  fail,
  invalidProperties,
  isPlainObject,
  type MethodContext,
  MethodError,
  type MethodSpec,
  requireAccount,
  type SetError,
  SetFailure,
} from "./method.ts";
import { currentState, resolveCreationId, standardSet } from "./standard.ts";
import { blobId, fromJmapId, toJmapId } from "./ids.ts";
import { readBlob } from "./blob_access.ts";
import { buildEmail } from "./email_build.ts";
import { checkEmailProperties, MAIL, PARSE_DEFAULT_PROPERTIES, readBodyArgs } from "./email.ts";
import { renderEmailProperties } from "./email_render.ts";
import { sha256Hex } from "../store/blobs.ts";

const KEYWORD = /^[\x21-\x7e]{1,255}$/;
const FORBIDDEN_KEYWORD = /[()\]{%*"\\]/;

function keywordOk(keyword: string): boolean {
  return KEYWORD.test(keyword) && !FORBIDDEN_KEYWORD.test(keyword);
}

function readKeywords(value: unknown, property: string): string[] {
  if (!isPlainObject(value)) throw invalidProperties([property], "keywords is a map to true");
  const keywords: string[] = [];
  for (const [keyword, flag] of Object.entries(value)) {
    if (flag !== true || !keywordOk(keyword)) {
      throw invalidProperties([property], `bad keyword ${keyword}`);
    }
    keywords.push(keyword.toLowerCase());
  }
  return keywords;
}

function readMailboxIds(ctx: MethodContext, value: unknown, property: string): number[] {
  if (!isPlainObject(value)) throw invalidProperties([property], "mailboxIds is a map to true");
  const ids: number[] = [];
  for (const [raw, flag] of Object.entries(value)) {
    const id = fromJmapId("mailbox", resolveCreationId(ctx, raw));
    if (flag !== true || id === null) throw invalidProperties([property], `bad mailbox id ${raw}`);
    ids.push(id);
  }
  return ids;
}

function readReceivedAt(value: unknown): Date | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || Number.isNaN(Date.parse(value))) {
    throw invalidProperties(["receivedAt"]);
  }
  return new Date(value);
}

async function checkMailboxes(ctx: MethodContext, ids: number[], property: string) {
  if (ids.length === 0) throw invalidProperties([property], "an email needs a mailbox");
  const known = new Set(
    (await ctx.app.store.listMailboxes(ctx.account.id, { counts: false })).map((m) => m.id),
  );
  if (ids.some((id) => !known.has(id))) throw invalidProperties([property], "no such mailbox");
}

/** Ingests bytes for the account; maps limit and quota refusals to SetErrors. */
async function ingest(
  ctx: MethodContext,
  bytes: Uint8Array,
  target: { mailboxIds: number[]; keywords: string[]; receivedAt?: Date },
): Promise<Args> {
  try {
    const stored = await ctx.app.messages.ingest(bytes, {
      accountId: ctx.account.id,
      mailboxIds: target.mailboxIds,
      keywords: target.keywords,
      receivedAt: target.receivedAt,
    });
    return {
      id: toJmapId("email", stored.id),
      blobId: blobId(stored.blobHash),
      threadId: toJmapId("thread", stored.threadId),
      size: stored.size,
    };
  } catch (error) {
    if (error instanceof IngestError) {
      if (error.code === "quota") throw new SetFailure({ type: "overQuota" });
      if (error.code === "too_large") {
        throw new SetFailure({ type: "tooLarge", description: error.message });
      }
      if (error.code === "not_found") throw invalidProperties(["mailboxIds"], error.message);
      throw new SetFailure({ type: "invalidEmail", description: error.message });
    }
    throw error;
  }
}

function domainOf(address: string): string {
  return address.slice(address.lastIndexOf("@") + 1);
}

/** Builds an update from a patch of keywords/mailboxIds (whole or per key). */
function readUpdate(ctx: MethodContext, emailId: number, patch: Args): EmailUpdate {
  const keywords: KeywordChange = {};
  const mailboxes: { set?: number[]; add?: number[]; remove?: number[] } = {};
  let touchesKeywords = false;
  let touchesMailboxes = false;
  for (const [path, value] of Object.entries(patch)) {
    if (path === "keywords") {
      keywords.set = readKeywords(value, path);
      touchesKeywords = true;
    } else if (path.startsWith("keywords/")) {
      const keyword = path.slice(9).replaceAll("~1", "/").replaceAll("~0", "~");
      if (!keywordOk(keyword) || (value !== true && value !== null)) {
        throw invalidProperties([path]);
      }
      (value === true ? (keywords.add ??= []) : (keywords.remove ??= [])).push(
        keyword.toLowerCase(),
      );
      touchesKeywords = true;
    } else if (path === "mailboxIds") {
      mailboxes.set = readMailboxIds(ctx, value, path);
      touchesMailboxes = true;
    } else if (path.startsWith("mailboxIds/")) {
      const id = fromJmapId(
        "mailbox",
        resolveCreationId(ctx, path.slice(11).replaceAll("~1", "/").replaceAll("~0", "~")),
      );
      if (id === null || (value !== true && value !== null)) {
        throw invalidProperties([path], "no such mailbox");
      }
      (value === true ? (mailboxes.add ??= []) : (mailboxes.remove ??= [])).push(id);
      touchesMailboxes = true;
    } else {
      const property = path.split("/")[0];
      throw invalidProperties([property], `${property} cannot be changed`);
    }
  }
  if (keywords.set && (keywords.add || keywords.remove)) {
    throw new SetFailure({ type: "invalidPatch", description: "keywords patched two ways" });
  }
  if (mailboxes.set && (mailboxes.add || mailboxes.remove)) {
    throw new SetFailure({ type: "invalidPatch", description: "mailboxIds patched two ways" });
  }
  return {
    emailId,
    ...(touchesKeywords ? { keywords } : {}),
    ...(touchesMailboxes ? { mailboxes } : {}),
  };
}

async function set(args: Args, ctx: MethodContext): Promise<Args> {
  const store = ctx.app.store;
  const accountId = ctx.account.id;
  let changed = false;
  const training = { spam: [] as number[], ham: [] as number[] };
  let roles: { junk: number | null; trash: number | null } | undefined;
  const special = async () => {
    if (roles === undefined) {
      const mailboxes = await store.listMailboxes(accountId, { counts: false });
      roles = {
        junk: mailboxes.find((m) => m.role === "junk")?.id ?? null,
        trash: mailboxes.find((m) => m.role === "trash")?.id ?? null,
      };
    }
    return roles;
  };
  return await standardSet(args, ctx, {
    create: async (_creationId, object) => {
      const mailboxIds = readMailboxIds(ctx, object.mailboxIds ?? {}, "mailboxIds");
      await checkMailboxes(ctx, mailboxIds, "mailboxIds");
      const keywords = object.keywords === undefined
        ? []
        : readKeywords(object.keywords, "keywords");
      const receivedAt = readReceivedAt(object.receivedAt);
      const bytes = await buildEmail({
        object,
        readBlob: (id) => readBlob(ctx.app, accountId, id),
        domain: domainOf(ctx.account.address),
      });
      const { id, ...properties } = await ingest(ctx, bytes, { mailboxIds, keywords, receivedAt });
      return { id: id as string, properties };
    },
    update: async (id, patch) => {
      const emailId = fromJmapId("email", id);
      if (emailId === null) throw new SetFailure({ type: "notFound" });
      const update = readUpdate(ctx, emailId, patch);
      const before = update.mailboxes
        ? (await store.jmapEmails(accountId, [emailId]))[0]?.mailboxIds
        : undefined;
      const result = await store.updateEmails(accountId, [update]);
      if (result.notFound.length) throw new SetFailure({ type: "notFound" });
      const invalid = result.invalid[0];
      if (invalid) throw invalidProperties([invalid.property], invalid.message);
      if (result.modseq) changed = true;
      const { junk: junkMailbox, trash } = await special();
      const added = update.keywords?.add ?? update.keywords?.set ?? [];
      if (added.includes("$junk")) training.spam.push(emailId);
      if (added.includes("$notjunk")) training.ham.push(emailId);
      if (junkMailbox !== null && before && update.mailboxes) {
        // Where it is now follows from where it was and the patch; no second read.
        const { set, add = [], remove = [] } = update.mailboxes;
        const isIn = (id: number) =>
          !remove.includes(id) && ((set ?? before).includes(id) || add.includes(id));
        const wasJunk = before.includes(junkMailbox);
        const isJunk = isIn(junkMailbox);
        if (!wasJunk && isJunk) training.spam.push(emailId);
        // Out of Junk is ham, except into Trash: that is how clients delete junk.
        const trashed = trash !== null && isIn(trash);
        if (wasJunk && !isJunk && !trashed) training.ham.push(emailId);
      }
      return null;
    },
    destroy: async (id) => {
      const emailId = fromJmapId("email", id);
      if (emailId === null) throw new SetFailure({ type: "notFound" });
      const { destroyed } = await store.destroyEmails(accountId, [emailId]);
      if (destroyed.length === 0) throw new SetFailure({ type: "notFound" });
      changed = true;
    },
    done: async () => {
      if (!changed) return;
      const judged = training.spam.length > 0 || training.ham.length > 0;
      ctx.app.bus.publish({
        accountId,
        types: ["Email", "Mailbox", "Thread"],
        modseq: await store.accountModseq(accountId),
        ...(judged ? { training } : {}),
      });
    },
  });
}

async function importEmails(args: Args, ctx: MethodContext): Promise<Args> {
  allowOnly(args, ["accountId", "ifInState", "emails"]);
  requireAccount(args, ctx);
  if (!isPlainObject(args.emails)) fail("emails must be an object");
  const entries = Object.entries(args.emails);
  if (entries.length > ctx.limits.maxObjectsInSet) {
    throw new MethodError("requestTooLarge", `at most ${ctx.limits.maxObjectsInSet} emails`);
  }
  const oldState = await currentState(ctx);
  if (args.ifInState !== undefined && args.ifInState !== null) {
    if (typeof args.ifInState !== "string") fail("ifInState must be a string");
    if (args.ifInState !== oldState) throw new MethodError("stateMismatch");
  }
  const created: Record<string, Args> = {};
  const notCreated: Record<string, SetError> = {};
  for (const [creationId, object] of entries) {
    try {
      if (!isPlainObject(object)) throw invalidProperties([]);
      for (const key of Object.keys(object)) {
        if (!["blobId", "mailboxIds", "keywords", "receivedAt"].includes(key)) {
          throw invalidProperties([key]);
        }
      }
      if (typeof object.blobId !== "string") throw invalidProperties(["blobId"]);
      const mailboxIds = readMailboxIds(ctx, object.mailboxIds ?? {}, "mailboxIds");
      await checkMailboxes(ctx, mailboxIds, "mailboxIds");
      const keywords = object.keywords === undefined
        ? []
        : readKeywords(object.keywords, "keywords");
      const receivedAt = readReceivedAt(object.receivedAt);
      const blob = await readBlob(ctx.app, ctx.account.id, resolveCreationId(ctx, object.blobId));
      if (!blob) throw new SetFailure({ type: "blobNotFound", notFound: [object.blobId] });
      const result = await ingest(ctx, blob.bytes, { mailboxIds, keywords, receivedAt });
      ctx.createdIds.set(creationId, result.id as string);
      created[creationId] = result;
    } catch (error) {
      if (!(error instanceof SetFailure)) throw error;
      notCreated[creationId] = Object.fromEntries(
        Object.entries(error.error).filter(([, v]) => v !== undefined),
      ) as SetError;
    }
  }
  return {
    accountId: ctx.accountId,
    oldState,
    newState: await currentState(ctx),
    created: Object.keys(created).length ? created : null,
    notCreated: Object.keys(notCreated).length ? notCreated : null,
  };
}

function copy(args: Args, ctx: MethodContext): Promise<Args> {
  if (typeof args.fromAccountId !== "string") fail("fromAccountId must be a string");
  requireAccount(args, ctx);
  if (args.fromAccountId === ctx.accountId) {
    fail("fromAccountId must differ from accountId (RFC 8620 5.4)");
  }
  throw new MethodError("fromAccountNotFound");
}

async function parse(args: Args, ctx: MethodContext): Promise<Args> {
  allowOnly(args, [
    "accountId",
    "blobIds",
    "properties",
    "bodyProperties",
    "fetchTextBodyValues",
    "fetchHTMLBodyValues",
    "fetchAllBodyValues",
    "maxBodyValueBytes",
  ]);
  requireAccount(args, ctx);
  const blobIds = args.blobIds;
  if (!Array.isArray(blobIds) || blobIds.some((id) => typeof id !== "string")) {
    fail("blobIds must be a list of ids");
  }
  if (blobIds.length > ctx.limits.maxObjectsInGet) {
    throw new MethodError("requestTooLarge", `at most ${ctx.limits.maxObjectsInGet} blobs`);
  }
  const properties = args.properties === undefined || args.properties === null
    ? PARSE_DEFAULT_PROPERTIES
    : args.properties;
  if (!Array.isArray(properties) || properties.some((p) => typeof p !== "string")) {
    fail("properties must be a list of strings");
  }
  checkEmailProperties(properties as string[]);
  const body = readBodyArgs(args);
  const parsed: Record<string, Args> = {};
  const notParsable: string[] = [];
  const notFound: string[] = [];
  const limits = ctx.app.messages.limits;
  for (const id of blobIds as string[]) {
    const blob = await readBlob(ctx.app, ctx.account.id, resolveCreationId(ctx, id));
    if (!blob) {
      notFound.push(id);
      continue;
    }
    let root;
    try {
      if (blob.bytes.length > limits.maxMessageSize) throw new Error("too large");
      root = parseMime(blob.bytes, {
        maxHeaderSize: limits.maxHeaderSize,
        maxDepth: limits.maxMimeDepth,
        maxParts: limits.maxMimeParts,
      });
    } catch {
      notParsable.push(id);
      continue;
    }
    const hash = sha256Hex(blob.bytes);
    const object: Args = {};
    for (const name of properties as string[]) {
      if (["id", "mailboxIds", "keywords", "receivedAt", "threadId"].includes(name)) {
        object[name] = null;
      } else if (name === "blobId") object.blobId = id;
      else if (name === "size") object.size = blob.bytes.length;
    }
    const rendered = renderEmailProperties(
      blob.bytes,
      root,
      hash,
      (properties as string[]).filter((p) =>
        !["id", "blobId", "size", "mailboxIds", "keywords", "receivedAt", "threadId"].includes(p)
      ),
      body,
    );
    parsed[id] = { ...object, ...rendered };
  }
  return {
    accountId: ctx.accountId,
    parsed: Object.keys(parsed).length ? parsed : null,
    notParsable: notParsable.length ? notParsable : null,
    notFound: notFound.length ? notFound : null,
  };
}

export const emailSetMethods: Record<string, MethodSpec> = {
  "Email/set": { capability: MAIL, handler: set },
  "Email/import": { capability: MAIL, handler: importEmails },
  "Email/copy": { capability: MAIL, handler: copy },
  "Email/parse": { capability: MAIL, handler: parse },
};
