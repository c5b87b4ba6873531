/**
 * Mailbox/get, /changes, /set, /query and /queryChanges (RFC 8621 2).
 *
 * Implementation notes:
 * - The hierarchy is the store's (parent ids), shared with IMAP, whose separator is "/": a name
 *   containing "/" is refused (invalidProperties), so every JMAP mailbox is reachable by IMAP.
 * - The inbox cannot be renamed, moved, given another role or destroyed (IMAP's RENAME INBOX
 *   moves messages instead; JMAP has no such meaning), and its myRights say so.
 * - Roles are those the store knows (inbox, sent, drafts, junk, trash, archive); each once.
 * - Counts come from JmapCaches (recomputed when the account modseq moved).
 */
import { StoreError } from "../store/types.ts";
import type { MailboxRole, MailboxSummary } from "../store/types.ts";
import {
  type Args,
  fail,
  invalidProperties,
  isPlainObject,
  type MethodContext,
  MethodError,
  type MethodSpec,
  optionalBoolean,
  SetFailure,
} from "./method.ts";
import {
  changesResponse,
  currentState,
  pick,
  queryChangesOf,
  readGetArgs,
  resolveCreationId,
  selectProperties,
  standardQuery,
  standardSet,
} from "./standard.ts";
import { fromJmapId, toJmapId } from "./ids.ts";
import { evaluateFilter, readComparators } from "./filter.ts";

const MAIL = "urn:ietf:params:jmap:mail";

const PROPERTIES = [
  "id",
  "name",
  "parentId",
  "role",
  "sortOrder",
  "totalEmails",
  "unreadEmails",
  "totalThreads",
  "unreadThreads",
  "myRights",
  "isSubscribed",
] as const;

const ROLES: readonly MailboxRole[] = ["inbox", "sent", "drafts", "junk", "trash", "archive"];
const SERVER_SET = [
  "id",
  "totalEmails",
  "unreadEmails",
  "totalThreads",
  "unreadThreads",
  "myRights",
];

function rights(mailbox: MailboxSummary): Args {
  const isInbox = mailbox.role === "inbox";
  return {
    mayReadItems: true,
    mayAddItems: true,
    mayRemoveItems: true,
    maySetSeen: true,
    maySetKeywords: true,
    mayCreateChild: true,
    mayRename: !isInbox,
    mayDelete: !isInbox,
    maySubmit: true,
  };
}

async function mailboxObjects(ctx: MethodContext): Promise<Map<string, Args>> {
  const [mailboxes, counts] = await Promise.all([
    ctx.app.store.listMailboxes(ctx.account.id, { counts: false }),
    ctx.caches.mailboxCounts(ctx.account.id),
  ]);
  const objects = new Map<string, Args>();
  for (const mailbox of mailboxes) {
    const count = counts.get(mailbox.id);
    const id = toJmapId("mailbox", mailbox.id);
    objects.set(id, {
      id,
      name: mailbox.name,
      parentId: mailbox.parentId === 0 ? null : toJmapId("mailbox", mailbox.parentId),
      role: mailbox.role,
      sortOrder: mailbox.sortOrder,
      totalEmails: count?.totalEmails ?? 0,
      unreadEmails: count?.unreadEmails ?? 0,
      totalThreads: count?.totalThreads ?? 0,
      unreadThreads: count?.unreadThreads ?? 0,
      myRights: rights(mailbox),
      isSubscribed: mailbox.subscribed,
    });
  }
  return objects;
}

async function get(args: Args, ctx: MethodContext): Promise<Args> {
  const { ids, properties } = readGetArgs(args, ctx);
  const selected = selectProperties(properties, PROPERTIES);
  const state = await currentState(ctx);
  const objects = await mailboxObjects(ctx);
  const list: Args[] = [];
  const notFound: string[] = [];
  for (const id of ids ?? objects.keys()) {
    const object = objects.get(id);
    if (object) list.push(pick(object, selected));
    else notFound.push(id);
  }
  return { accountId: ctx.accountId, state, list, notFound };
}

async function changes(args: Args, ctx: MethodContext): Promise<Args> {
  return await changesResponse(args, ctx, ["Mailbox"], (n) => toJmapId("mailbox", n), {
    updatedProperties: null,
  });
}

function checkName(name: unknown): string {
  if (
    typeof name !== "string" || name.length === 0 || [...name].length > 255 ||
    name.includes("/") || [...name].some((c) => c.charCodeAt(0) < 0x20 || c === "\x7f") ||
    name.trim() !== name
  ) {
    throw invalidProperties(
      ["name"],
      'a name is 1-255 characters, without "/", control characters or surrounding spaces',
    );
  }
  return name;
}

function checkRole(role: unknown): MailboxRole | null {
  if (role === null) return null;
  if (typeof role !== "string" || !ROLES.includes(role as MailboxRole)) {
    throw invalidProperties(["role"], `role must be one of ${ROLES.join(", ")} or null`);
  }
  return role as MailboxRole;
}

async function set(args: Args, ctx: MethodContext): Promise<Args> {
  const onDestroyRemoveEmails = optionalBoolean(args, "onDestroyRemoveEmails", false);
  const store = ctx.app.store;
  const accountId = ctx.account.id;
  let changed = false;
  const pathOf = async (mailboxId: number): Promise<string> => {
    const all = await store.listMailboxes(accountId, { counts: false });
    const found = all.find((m) => m.id === mailboxId);
    if (!found) throw invalidProperties(["parentId"], "no such parent mailbox");
    return found.path;
  };
  const parentOf = (value: unknown): number => {
    if (value === null || value === undefined) return 0;
    if (typeof value !== "string") throw invalidProperties(["parentId"]);
    const id = fromJmapId("mailbox", resolveCreationId(ctx, value));
    if (id === null) throw invalidProperties(["parentId"], "no such parent mailbox");
    return id;
  };
  const storeFailure = (error: unknown, property: string): never => {
    if (error instanceof StoreError) {
      if (error.code === "conflict") {
        throw invalidProperties([property], error.message);
      }
      if (error.code === "invalid") throw invalidProperties([property], error.message);
      if (error.code === "not_found") throw new SetFailure({ type: "notFound" });
    }
    throw error;
  };
  return await standardSet(args, ctx, {
    create: async (_creationId, object) => {
      for (const key of Object.keys(object)) {
        if (!(PROPERTIES as readonly string[]).includes(key) || key === "id") {
          throw invalidProperties([key], `${key} cannot be set`);
        }
        if (SERVER_SET.includes(key)) throw invalidProperties([key], `${key} is set by the server`);
      }
      const name = checkName(object.name);
      const role = object.role === undefined ? null : checkRole(object.role);
      const parentId = parentOf(object.parentId);
      const path = parentId === 0 ? name : `${await pathOf(parentId)}/${name}`;
      if (object.sortOrder !== undefined && !isUnsigned(object.sortOrder)) {
        throw invalidProperties(["sortOrder"]);
      }
      if (object.isSubscribed !== undefined && typeof object.isSubscribed !== "boolean") {
        throw invalidProperties(["isSubscribed"]);
      }
      let created;
      try {
        created = await store.createMailbox(accountId, path, role);
      } catch (error) {
        storeFailure(
          error,
          error instanceof StoreError && error.message.includes("role") ? "role" : "name",
        );
      }
      changed = true;
      if (object.sortOrder !== undefined || object.isSubscribed !== undefined) {
        await store.updateMailbox(accountId, created!.id, {
          sortOrder: object.sortOrder as number | undefined,
          subscribed: object.isSubscribed as boolean | undefined,
        });
      }
      const id = toJmapId("mailbox", created!.id);
      return {
        id,
        properties: {
          ...(object.sortOrder === undefined ? { sortOrder: 0 } : {}),
          ...(object.isSubscribed === undefined ? { isSubscribed: true } : {}),
          ...(object.role === undefined ? { role: null } : {}),
          ...(object.parentId === undefined ? { parentId: null } : {}),
          totalEmails: 0,
          unreadEmails: 0,
          totalThreads: 0,
          unreadThreads: 0,
          myRights: rights({ role } as MailboxSummary),
        },
      };
    },
    update: async (rawId, patch) => {
      const mailboxId = fromJmapId("mailbox", rawId);
      const all = await store.listMailboxes(accountId, { counts: false });
      const current = all.find((m) => m.id === mailboxId);
      if (!current) throw new SetFailure({ type: "notFound" });
      const objects = await mailboxObjects(ctx);
      const before = objects.get(rawId)!;
      for (const [key, value] of Object.entries(patch)) {
        if (!(PROPERTIES as readonly string[]).includes(key)) {
          throw invalidProperties([key], `unknown property ${key}`);
        }
        if (SERVER_SET.includes(key) && JSON.stringify(value) !== JSON.stringify(before[key])) {
          throw invalidProperties([key], `${key} is set by the server`);
        }
      }
      const name = patch.name === undefined ? current.name : checkName(patch.name);
      const parentId = patch.parentId === undefined ? current.parentId : parentOf(patch.parentId);
      const role = patch.role === undefined ? undefined : checkRole(patch.role);
      if (patch.sortOrder !== undefined && !isUnsigned(patch.sortOrder)) {
        throw invalidProperties(["sortOrder"]);
      }
      if (patch.isSubscribed !== undefined && typeof patch.isSubscribed !== "boolean") {
        throw invalidProperties(["isSubscribed"]);
      }
      if (current.role === "inbox") {
        if (name !== current.name || parentId !== current.parentId) {
          throw new SetFailure({
            type: "forbidden",
            description: "the inbox cannot be renamed or moved",
          });
        }
        if (role !== undefined && role !== "inbox") {
          throw invalidProperties(["role"], "the inbox keeps its role");
        }
      }
      if (name !== current.name || parentId !== current.parentId) {
        if (
          parentId !== 0 && (parentId === current.id || isDescendant(all, parentId, current.id))
        ) {
          throw invalidProperties(["parentId"], "a mailbox cannot be moved under itself");
        }
        const path = parentId === 0 ? name : `${await pathOf(parentId)}/${name}`;
        try {
          await store.renameMailbox(accountId, current.id, path);
        } catch (error) {
          storeFailure(error, patch.name !== undefined ? "name" : "parentId");
        }
        changed = true;
      }
      if (
        (role !== undefined && role !== current.role) ||
        (patch.sortOrder !== undefined && patch.sortOrder !== current.sortOrder) ||
        (patch.isSubscribed !== undefined && patch.isSubscribed !== current.subscribed)
      ) {
        try {
          await store.updateMailbox(accountId, current.id, {
            role,
            sortOrder: patch.sortOrder as number | undefined,
            subscribed: patch.isSubscribed as boolean | undefined,
          });
        } catch (error) {
          storeFailure(error, "role");
        }
        changed = true;
      }
      return null;
    },
    destroy: async (rawId) => {
      const mailboxId = fromJmapId("mailbox", rawId);
      const all = await store.listMailboxes(accountId, { counts: false });
      const current = all.find((m) => m.id === mailboxId);
      if (!current) throw new SetFailure({ type: "notFound" });
      if (current.role === "inbox") {
        throw new SetFailure({ type: "forbidden", description: "the inbox cannot be destroyed" });
      }
      if (all.some((m) => m.parentId === current.id)) {
        throw new SetFailure({ type: "mailboxHasChild" });
      }
      const counts = await ctx.caches.mailboxCounts(accountId);
      if ((counts.get(current.id)?.totalEmails ?? 0) > 0 && !onDestroyRemoveEmails) {
        throw new SetFailure({ type: "mailboxHasEmail" });
      }
      await store.deleteMailbox(accountId, current.id);
      changed = true;
    },
    done: async () => {
      if (!changed) return;
      ctx.app.bus.publish({
        accountId,
        types: ["Mailbox", "Email", "Thread"],
        modseq: await store.accountModseq(accountId),
      });
    },
  }, ["onDestroyRemoveEmails"]);
}

function isUnsigned(value: unknown): boolean {
  return Number.isSafeInteger(value) && (value as number) >= 0 && (value as number) < 2 ** 31;
}

function isDescendant(all: MailboxSummary[], id: number, ancestor: number): boolean {
  const byId = new Map(all.map((m) => [m.id, m]));
  let current = byId.get(id);
  for (let depth = 0; current && depth < 1000; depth++) {
    if (current.parentId === ancestor) return true;
    current = byId.get(current.parentId);
  }
  return false;
}

const FILTERS = ["parentId", "name", "role", "hasAnyRole", "isSubscribed"];

function matches(object: Args, condition: Args): boolean {
  for (const [key, value] of Object.entries(condition)) {
    switch (key) {
      case "parentId":
        if (value !== null && typeof value !== "string") fail("parentId must be an id or null");
        if (object.parentId !== value) return false;
        break;
      case "name":
        if (typeof value !== "string") fail("name must be a string");
        if (!(object.name as string).toLowerCase().includes(value.toLowerCase())) return false;
        break;
      case "role":
        if (value !== null && typeof value !== "string") fail("role must be a string or null");
        if (object.role !== value) return false;
        break;
      case "hasAnyRole":
        if (typeof value !== "boolean") fail("hasAnyRole must be a boolean");
        if ((object.role !== null) !== value) return false;
        break;
      case "isSubscribed":
        if (typeof value !== "boolean") fail("isSubscribed must be a boolean");
        if (object.isSubscribed !== value) return false;
        break;
      default:
        throw new MethodError("unsupportedFilter", `unknown filter ${key}`);
    }
  }
  return true;
}

/** The sorted, filtered mailbox ids of a Mailbox/query. */
async function queryIds(args: Args, ctx: MethodContext): Promise<string[]> {
  const objects = [...(await mailboxObjects(ctx)).values()];
  const filter = args.filter ?? null;
  if (filter !== null && !isPlainObject(filter)) fail("filter must be an object");
  const comparators = readComparators(args.sort, ["name", "sortOrder", "parentId"]);
  const filterAsTree = optionalBoolean(args, "filterAsTree", false);
  const sortAsTree = optionalBoolean(args, "sortAsTree", false);
  for (const key of Object.keys(filter ?? {})) {
    if (!["operator", "conditions", ...FILTERS].includes(key)) {
      throw new MethodError("unsupportedFilter", `unknown filter ${key}`);
    }
  }
  const compare = (a: Args, b: Args): number => {
    for (const { property, isAscending } of comparators) {
      const x = a[property] as string | number | null;
      const y = b[property] as string | number | null;
      let order = 0;
      if (typeof x === "string" && typeof y === "string") order = x.localeCompare(y);
      else order = (x as number ?? -1) - (y as number ?? -1);
      if (order !== 0) return isAscending ? order : -order;
    }
    return (a.id as string).localeCompare(b.id as string);
  };
  const passes = new Map(
    objects.map((
      o,
    ) => [o.id as string, filter ? evaluateFilter(filter, (c) => matches(o, c)) : true]),
  );
  let list = objects.filter((o) => passes.get(o.id as string));
  if (filterAsTree) {
    // A mailbox whose parent does not pass is left out too (RFC 8621 2.3).
    const byId = new Map(objects.map((o) => [o.id as string, o]));
    const chainPasses = (o: Args): boolean => {
      for (let p = o.parentId as string | null, d = 0; p && d < 1000; d++) {
        if (!passes.get(p)) return false;
        p = byId.get(p)?.parentId as string | null;
      }
      return true;
    };
    list = list.filter(chainPasses);
  }
  if (!sortAsTree) return list.sort(compare).map((o) => o.id as string);
  const children = new Map<string | null, Args[]>();
  const present = new Set(list.map((o) => o.id as string));
  for (const o of list) {
    const parent = present.has(o.parentId as string) ? o.parentId as string : null;
    children.set(parent, [...(children.get(parent) ?? []), o]);
  }
  const out: string[] = [];
  const visit = (parent: string | null, depth: number) => {
    if (depth > 1000) return;
    for (const o of (children.get(parent) ?? []).sort(compare)) {
      out.push(o.id as string);
      visit(o.id as string, depth + 1);
    }
  };
  visit(null, 0);
  return out;
}

async function query(args: Args, ctx: MethodContext): Promise<Args> {
  return await standardQuery(args, ctx, () => queryIds(args, ctx), ["sortAsTree", "filterAsTree"]);
}

async function queryChanges(args: Args, ctx: MethodContext): Promise<Args> {
  return await queryChangesOf(args, ctx, {
    types: ["Mailbox"],
    toId: (n) => toJmapId("mailbox", n),
    extra: ["sortAsTree", "filterAsTree"],
    current: () => queryIds(args, ctx),
  });
}

export const mailboxMethods: Record<string, MethodSpec> = {
  "Mailbox/get": { capability: MAIL, handler: get },
  "Mailbox/changes": { capability: MAIL, handler: changes },
  "Mailbox/set": { capability: MAIL, handler: set },
  "Mailbox/query": { capability: MAIL, handler: query },
  "Mailbox/queryChanges": { capability: MAIL, handler: queryChanges },
};
