/**
 * Email/query and Email/queryChanges (RFC 8621 4.4, 4.5).
 *
 * Implementation notes:
 * - Queries run over the account's in-memory listing (caches.ts): mailboxes, keywords, dates,
 *   sizes and threads are tested per entry without SQL. Conditions that need text (text, from,
 *   to, cc, bcc, subject, body, header) are answered first as id sets by the store (full-text
 *   index, header LIKE) or, for other header fields, by reading message headers; the entry
 *   test then only looks the id up.
 * - The listing keeps, per sort key, the entries presorted (built once per listing version):
 *   a query sorted by receivedAt, sentAt or size walks that order and stops as soon as the
 *   window is full unless a total or an anchor is asked for. That is what makes the usual
 *   "newest 50 of a mailbox" query cost the window, not the mailbox.
 * - Ties are broken by id in the direction of the last comparator, so results are stable.
 * - The default sort (none given) is receivedAt descending, what mail clients show.
 * - collapseThreads keeps the first email of each thread in sort order (RFC 8621 4.4.3).
 */
import type { EmailListEntry, SearchFields } from "../store/types.ts";
import { type AccountListing, receivedInIdOrder, sortedIds } from "./caches.ts";
import {
  allowOnly,
  type Args,
  fail,
  isPlainObject,
  type MethodContext,
  MethodError,
  type MethodSpec,
  optionalBoolean,
  requireAccount,
} from "./method.ts";
import { currentState, queryChangesOf, queryWindow, resolveCreationId } from "./standard.ts";
import { type Comparator, evaluateFilter, readComparators, visitConditions } from "./filter.ts";
import { fromJmapId, toJmapId } from "./ids.ts";
import { MAIL } from "./email.ts";
import { parseHeaderFields, unfold } from "../mail/headers.ts";
import { decodeEncodedWords } from "../mail/headers.ts";
import type { MimePart } from "../mail/mime.ts";

const CONDITIONS = [
  "inMailbox",
  "inMailboxOtherThan",
  "before",
  "after",
  "minSize",
  "maxSize",
  "allInThreadHaveKeyword",
  "someInThreadHaveKeyword",
  "noneInThreadHaveKeyword",
  "hasKeyword",
  "notKeyword",
  "hasAttachment",
  "text",
  "from",
  "to",
  "cc",
  "bcc",
  "subject",
  "body",
  "header",
];

const SORTS = [
  "receivedAt",
  "sentAt",
  "size",
  "from",
  "to",
  "subject",
  "hasKeyword",
  "allInThreadHaveKeyword",
  "someInThreadHaveKeyword",
];

const TEXT_CONDITIONS = ["text", "from", "to", "cc", "bcc", "subject", "body", "header"];
const MAX_HEADER_SCAN = 100_000;
/** Results beyond this are not returned in one window (the client pages with position). */
const MAX_LIMIT = 10_000;

interface Prepared {
  /** Condition object → ids matching its text-based part. */
  textSets: Map<Args, IdSet>;
  mailboxes: Map<Args, { in?: number | null; notIn?: Set<number> }>;
  threads: Map<number, EmailListEntry[]>;
}

const KEYWORD = /^[\x21-\x7e]{1,255}$/;

function checkKeyword(value: unknown, name: string): string {
  if (typeof value !== "string" || !KEYWORD.test(value) || /[()\]{%*"\\]/.test(value)) {
    fail(`${name} must be a keyword`);
  }
  return value.toLowerCase();
}

function checkDate(value: unknown, name: string): number {
  if (typeof value !== "string" || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(value)) {
    fail(`${name} must be a UTCDate`);
  }
  const time = Date.parse(value);
  if (Number.isNaN(time)) fail(`${name} must be a UTCDate`);
  return time;
}

function checkUnsigned(value: unknown, name: string): number {
  if (!Number.isSafeInteger(value) || (value as number) < 0) fail(`${name} must be an UnsignedInt`);
  return value as number;
}

/** Validates one FilterCondition (types and names), so errors come before any work. */
export function checkCondition(condition: Args): void {
  for (const [key, value] of Object.entries(condition)) {
    if (!CONDITIONS.includes(key)) {
      throw new MethodError("unsupportedFilter", `unknown filter condition ${key}`);
    }
    switch (key) {
      case "inMailbox":
        if (typeof value !== "string") fail("inMailbox must be an id");
        break;
      case "inMailboxOtherThan":
        if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) {
          fail("inMailboxOtherThan must be a list of ids");
        }
        break;
      case "before":
      case "after":
        checkDate(value, key);
        break;
      case "minSize":
      case "maxSize":
        checkUnsigned(value, key);
        break;
      case "allInThreadHaveKeyword":
      case "someInThreadHaveKeyword":
      case "noneInThreadHaveKeyword":
      case "hasKeyword":
      case "notKeyword":
        checkKeyword(value, key);
        break;
      case "hasAttachment":
        if (typeof value !== "boolean") fail("hasAttachment must be a boolean");
        break;
      case "header":
        if (
          !Array.isArray(value) || value.length < 1 || value.length > 2 ||
          value.some((v) => typeof v !== "string") || !/^[\x21-\x39\x3b-\x7e]+$/.test(value[0])
        ) {
          fail("header must be [name] or [name, value]");
        }
        break;
      default:
        if (typeof value !== "string") fail(`${key} must be a string`);
    }
  }
}

/** Matches every id: the text set of a condition whose text the caller drives itself. */
const EVERY_ID: IdSet = {
  has: () => true,
  size: Infinity,
  [Symbol.iterator]: () => [][Symbol.iterator](),
};

async function prepare(
  filter: Args | null,
  listing: AccountListing,
  ctx: MethodContext,
  driven: Args | null = null,
): Promise<Prepared> {
  const prepared: Prepared = { textSets: new Map(), mailboxes: new Map(), threads: new Map() };
  if (!filter) return prepared;
  const conditions: Args[] = [];
  visitConditions(filter, (condition) => {
    checkCondition(condition);
    conditions.push(condition);
  });
  let needThreads = false;
  for (const condition of conditions) {
    if (
      "allInThreadHaveKeyword" in condition || "someInThreadHaveKeyword" in condition ||
      "noneInThreadHaveKeyword" in condition
    ) {
      needThreads = true;
    }
    const mailboxes: { in?: number | null; notIn?: Set<number> } = {};
    if (typeof condition.inMailbox === "string") {
      mailboxes.in = fromJmapId("mailbox", resolveCreationId(ctx, condition.inMailbox));
    }
    if (Array.isArray(condition.inMailboxOtherThan)) {
      mailboxes.notIn = new Set(
        (condition.inMailboxOtherThan as string[]).map((id) =>
          fromJmapId("mailbox", resolveCreationId(ctx, id)) ?? -1
        ),
      );
    }
    prepared.mailboxes.set(condition, mailboxes);
    if (condition === driven) {
      prepared.textSets.set(condition, EVERY_ID);
    } else if (TEXT_CONDITIONS.some((key) => key in condition)) {
      prepared.textSets.set(condition, await textMatches(condition, listing, ctx));
    }
  }
  if (needThreads) prepared.threads = threadsOf(listing);
  return prepared;
}

function threadsOf(listing: AccountListing): Map<number, EmailListEntry[]> {
  const threads = new Map<number, EmailListEntry[]>();
  for (const entry of listing.entries) {
    const list = threads.get(entry.threadId);
    if (list) list.push(entry);
    else threads.set(entry.threadId, [entry]);
  }
  return threads;
}

/** What a text condition yields: a JS Set, or a bitmap over the listing's ids (FTS results). */
interface IdSet {
  has(id: number): boolean;
  readonly size: number;
  [Symbol.iterator](): Iterator<number>;
}

/** Ids as a bitmap plus their list: membership without hashing, for 100,000-id results. */
class IdBits implements IdSet {
  readonly #bits: Uint8Array;
  constructor(readonly ids: number[], maxId: number) {
    this.#bits = new Uint8Array(maxId + 1);
    for (const id of ids) this.#bits[id] = 1;
  }
  has(id: number): boolean {
    return this.#bits[id] === 1;
  }
  get size(): number {
    return this.ids.length;
  }
  [Symbol.iterator](): Iterator<number> {
    return this.ids[Symbol.iterator]();
  }
}

function intersect(a: IdSet | null, b: IdSet): IdSet {
  if (a === null) return b;
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  const out = new Set<number>();
  for (const id of small) if (large.has(id)) out.add(id);
  return out;
}

const ASCII = /^[\x20-\x7e]*$/;

/** Ids matching every text-based property of one condition (they are ANDed, RFC 8621 4.4.1). */
async function textMatches(
  condition: Args,
  listing: AccountListing,
  ctx: MethodContext,
): Promise<IdSet> {
  const store = ctx.app.store;
  const accountId = ctx.account.id;
  let result: IdSet | null = null;
  for (const key of TEXT_CONDITIONS) {
    if (!(key in condition)) continue;
    let matched: IdSet;
    if (key === "text" || key === "body") {
      const candidates = await store.fullTextCandidates(
        key === "text" ? null : "body",
        condition[key] as string,
      );
      const maxId = listing.entries.length ? listing.entries[listing.entries.length - 1].id : 0;
      const own = candidates === null
        ? listing.entries.map((entry) => entry.id)
        : candidates.filter((id) => id <= maxId && listing.byId.has(id));
      matched = new IdBits(own, maxId);
    } else if (key === "header") {
      matched = await headerMatches(condition.header as string[], listing, ctx, result);
    } else {
      const needle = (condition[key] as string).trim();
      const field = key as "from" | "to" | "cc" | "bcc" | "subject";
      if (ASCII.test(needle)) {
        matched = await store.headerContains(accountId, field, needle);
      } else {
        matched = await fieldContains(field, needle, listing, ctx, result);
      }
    }
    result = intersect(result, matched);
    if (result.size === 0) break;
  }
  return result ?? new Set();
}

/** Non-ASCII substring search over the stored header fields (case-insensitive). */
async function fieldContains(
  field: "from" | "to" | "cc" | "bcc" | "subject",
  needle: string,
  listing: AccountListing,
  ctx: MethodContext,
  within: IdSet | null,
): Promise<Set<number>> {
  const ids = within ? [...within] : listing.entries.map((e) => e.id);
  const lower = needle.toLowerCase();
  const out = new Set<number>();
  for (let i = 0; i < ids.length; i += 1000) {
    for (const fields of await ctx.app.store.searchFields(ctx.account.id, ids.slice(i, i + 1000))) {
      const text = field === "subject"
        ? fields.subject
        : fields[field].map((a) => `${a.name ?? ""} <${a.email}>`).join(", ");
      if (text.toLowerCase().includes(lower)) out.add(fields.id);
    }
  }
  return out;
}

/** header: [name] (present) or [name, value] (a field of that name contains value). */
async function headerMatches(
  header: string[],
  listing: AccountListing,
  ctx: MethodContext,
  within: IdSet | null,
): Promise<Set<number>> {
  const name = header[0].toLowerCase();
  const value = header[1]?.toLowerCase();
  const ids = within ? [...within] : listing.entries.map((e) => e.id);
  if (ids.length > MAX_HEADER_SCAN) {
    throw new MethodError(
      "unsupportedFilter",
      `a header filter alone scans too many messages; combine it with another condition`,
    );
  }
  const out = new Set<number>();
  for (let i = 0; i < ids.length; i += 200) {
    const records = await ctx.app.store.jmapEmails(ctx.account.id, ids.slice(i, i + 200));
    for (const record of records) {
      const root = JSON.parse(record.mime) as MimePart;
      const raw = await ctx.app.blobs.get(record.blobHash).catch(() => null);
      if (!raw) continue;
      const fields = parseHeaderFields(raw, root.headerStart, root.headerEnd);
      const hit = fields.some((field) =>
        field.name.toLowerCase() === name &&
        (value === undefined ||
          decodeEncodedWords(unfold(field.raw)).toLowerCase().includes(value))
      );
      if (hit) out.add(record.id);
    }
  }
  return out;
}

function testCondition(entry: EmailListEntry, condition: Args, prepared: Prepared): boolean {
  const mailboxes = prepared.mailboxes.get(condition);
  if (mailboxes?.in !== undefined) {
    if (mailboxes.in === null || !entry.mailboxIds.includes(mailboxes.in)) return false;
  }
  if (mailboxes?.notIn && !entry.mailboxIds.some((id) => !mailboxes.notIn!.has(id))) {
    return false;
  }
  if (
    condition.before !== undefined && entry.receivedAt >= Date.parse(condition.before as string)
  ) {
    return false;
  }
  if (condition.after !== undefined && entry.receivedAt < Date.parse(condition.after as string)) {
    return false;
  }
  if (condition.minSize !== undefined && entry.size < (condition.minSize as number)) return false;
  if (condition.maxSize !== undefined && entry.size >= (condition.maxSize as number)) return false;
  if (
    condition.hasKeyword !== undefined &&
    !entry.keywords.includes((condition.hasKeyword as string).toLowerCase())
  ) {
    return false;
  }
  if (
    condition.notKeyword !== undefined &&
    entry.keywords.includes((condition.notKeyword as string).toLowerCase())
  ) {
    return false;
  }
  if (condition.hasAttachment !== undefined && entry.hasAttachment !== condition.hasAttachment) {
    return false;
  }
  for (
    const key of ["allInThreadHaveKeyword", "someInThreadHaveKeyword", "noneInThreadHaveKeyword"]
  ) {
    if (condition[key] === undefined) continue;
    const keyword = (condition[key] as string).toLowerCase();
    const thread = prepared.threads.get(entry.threadId) ?? [entry];
    const having = thread.filter((e) => e.keywords.includes(keyword)).length;
    if (key === "allInThreadHaveKeyword" && having !== thread.length) return false;
    if (key === "someInThreadHaveKeyword" && having === 0) return false;
    if (key === "noneInThreadHaveKeyword" && having !== 0) return false;
  }
  const text = prepared.textSets.get(condition);
  if (text && !text.has(entry.id)) return false;
  return true;
}

// ---- sorting ----

type Key = number | string;

function addressKey(list: { name: string | null; email: string }[]): string {
  const first = list[0];
  return first ? (first.name || first.email).toLowerCase() : "";
}

async function sortKeys(
  comparators: Comparator[],
  entries: EmailListEntry[],
  listing: AccountListing,
  ctx: MethodContext,
): Promise<((e: EmailListEntry) => Key)[]> {
  const needFields = comparators.some((c) => ["from", "to", "subject"].includes(c.property));
  let fields = new Map<number, SearchFields>();
  if (needFields) {
    const ids = entries.map((e) => e.id);
    for (let i = 0; i < ids.length; i += 1000) {
      for (const f of await ctx.app.store.searchFields(ctx.account.id, ids.slice(i, i + 1000))) {
        fields.set(f.id, f);
      }
    }
  } else {
    fields = new Map();
  }
  let threads: Map<number, EmailListEntry[]> | null = null;
  const threadsNow = () => threads ??= threadsOf(listing);
  return comparators.map((c) => {
    const keyword = c.keyword?.toLowerCase() ?? "";
    switch (c.property) {
      case "receivedAt":
        return (e) => e.receivedAt;
      case "sentAt":
        return (e) => e.sentAt ?? e.receivedAt;
      case "size":
        return (e) => e.size;
      case "from":
        return (e) => addressKey(fields.get(e.id)?.from ?? []);
      case "to":
        return (e) => addressKey(fields.get(e.id)?.to ?? []);
      case "subject":
        return (e) => (fields.get(e.id)?.baseSubject ?? "").toLowerCase();
      case "hasKeyword":
        return (e) => e.keywords.includes(keyword) ? 1 : 0;
      case "allInThreadHaveKeyword":
        return (e) =>
          (threadsNow().get(e.threadId) ?? [e]).every((t) => t.keywords.includes(keyword)) ? 1 : 0;
      default: // someInThreadHaveKeyword
        return (e) =>
          (threadsNow().get(e.threadId) ?? [e]).some((t) => t.keywords.includes(keyword)) ? 1 : 0;
    }
  });
}

export interface EmailQuery {
  filter: Args | null;
  comparators: Comparator[];
  collapseThreads: boolean;
}

export function readEmailQuery(args: Args): EmailQuery {
  const filter = args.filter ?? null;
  if (filter !== null && !isPlainObject(filter)) fail("filter must be an object");
  const comparators = readComparators(args.sort, SORTS);
  for (const c of comparators) {
    if (["hasKeyword", "allInThreadHaveKeyword", "someInThreadHaveKeyword"].includes(c.property)) {
      if (c.keyword === undefined) fail(`sorting by ${c.property} needs a keyword`);
      checkKeyword(c.keyword, "keyword");
    }
  }
  return {
    filter: filter as Args | null,
    comparators: comparators.length
      ? comparators
      : [{ property: "receivedAt", isAscending: false, collation: "i;unicode-casemap" }],
    collapseThreads: optionalBoolean(args, "collapseThreads", false),
  };
}

/**
 * The query's results in order; `enough` stops the walk once that many are found (only when
 * the order is a presorted one and nothing needs the full list).
 */
/**
 * The condition a full-text walk can drive: the filter itself or a direct AND member, with one
 * text-like key and that key `text` or `body` (its other keys are tested per email as usual).
 */
function drivingCondition(filter: Args | null): { condition: Args; key: "text" | "body" } | null {
  if (!filter) return null;
  const candidates = "operator" in filter
    ? (filter.operator === "AND" && Array.isArray(filter.conditions) ? filter.conditions : [])
    : [filter];
  for (const condition of candidates as Args[]) {
    if (!isPlainObject(condition) || "operator" in condition) continue;
    const textKeys = TEXT_CONDITIONS.filter((key) => key in condition);
    if (textKeys.length !== 1 || (textKeys[0] !== "text" && textKeys[0] !== "body")) continue;
    if (typeof condition[textKeys[0]] !== "string") continue;
    return { condition, key: textKeys[0] };
  }
  return null;
}

export async function runEmailQuery(
  query: EmailQuery,
  ctx: MethodContext,
  enough = Infinity,
): Promise<{ ids: number[]; complete: boolean }> {
  const listing = await ctx.caches.listing(ctx.account.id);
  const [first] = query.comparators;
  // "Newest (or oldest) first, the first page" of a full-text search: walk the index's matches
  // in id order and stop when the page is full, instead of collecting every match (100,000 for
  // a common word). Exact only when arrival order is receivedAt order, which is checked.
  const driver = enough < Infinity && query.comparators.length === 1 &&
      first.property === "receivedAt"
    ? drivingCondition(query.filter)
    : null;
  if (driver && receivedInIdOrder(listing)) {
    const found = await walkFullText(query, ctx, listing, driver, enough, !first.isAscending);
    if (found) return found;
  }
  const prepared = await prepare(query.filter, listing, ctx);
  const passes = query.filter
    ? (e: EmailListEntry) => evaluateFilter(query.filter!, (c) => testCondition(e, c, prepared))
    : () => true;
  const seenThreads = new Set<number>();
  const keep = (e: EmailListEntry) => {
    if (!query.collapseThreads) return true;
    if (seenThreads.has(e.threadId)) return false;
    seenThreads.add(e.threadId);
    return true;
  };
  if (
    query.comparators.length === 1 &&
    (first.property === "receivedAt" || first.property === "sentAt" || first.property === "size")
  ) {
    const sorted = sortedIds(listing, first.property);
    const ids: number[] = [];
    const step = first.isAscending ? 1 : -1;
    for (
      let i = first.isAscending ? 0 : sorted.length - 1;
      i >= 0 && i < sorted.length;
      i += step
    ) {
      const entry = listing.byId.get(sorted[i]);
      if (!entry) continue;
      if (passes(entry) && keep(entry)) {
        ids.push(entry.id);
        if (ids.length >= enough) return { ids, complete: false };
      }
    }
    return { ids, complete: true };
  }
  const matched = listing.entries.filter(passes);
  const keys = await sortKeys(query.comparators, matched, listing, ctx);
  const last = query.comparators[query.comparators.length - 1];
  const decorated = matched.map((e) => ({ e, k: keys.map((key) => key(e)) }));
  decorated.sort((a, b) => {
    for (let i = 0; i < keys.length; i++) {
      const x = a.k[i];
      const y = b.k[i];
      if (x === y) continue;
      const order = x < y ? -1 : 1;
      return query.comparators[i].isAscending ? order : -order;
    }
    return last.isAscending ? a.e.id - b.e.id : b.e.id - a.e.id;
  });
  return { ids: decorated.filter((d) => keep(d.e)).map((d) => d.e.id), complete: true };
}

async function walkFullText(
  query: EmailQuery,
  ctx: MethodContext,
  listing: AccountListing,
  driver: { condition: Args; key: "text" | "body" },
  enough: number,
  descending: boolean,
): Promise<{ ids: number[]; complete: boolean } | null> {
  const prepared = await prepare(query.filter, listing, ctx, driver.condition);
  const seenThreads = new Set<number>();
  const ids: number[] = [];
  let from = descending ? Number.MAX_SAFE_INTEGER : 0;
  for (let size = 200;; size = Math.min(size * 4, 20_000)) {
    const page = await ctx.app.store.fullTextPage(
      driver.key === "text" ? null : "body",
      driver.condition[driver.key] as string,
      from,
      size,
      descending,
    );
    if (page === null) return null; // nothing indexable: the ordinary path
    for (const id of page) {
      const entry = listing.byId.get(id);
      if (!entry) continue; // another account's, or not in this listing yet
      if (!evaluateFilter(query.filter!, (c) => testCondition(entry, c, prepared))) continue;
      if (query.collapseThreads) {
        if (seenThreads.has(entry.threadId)) continue;
        seenThreads.add(entry.threadId);
      }
      ids.push(id);
      if (ids.length >= enough) return { ids, complete: false };
    }
    if (page.length < size) return { ids, complete: true };
    from = page[page.length - 1];
  }
}

async function query(args: Args, ctx: MethodContext): Promise<Args> {
  allowOnly(args, [
    "accountId",
    "filter",
    "sort",
    "position",
    "anchor",
    "anchorOffset",
    "limit",
    "calculateTotal",
    "collapseThreads",
  ]);
  requireAccount(args, ctx);
  const parsed = readEmailQuery(args);
  const calculateTotal = optionalBoolean(args, "calculateTotal", false);
  const state = await currentState(ctx);
  // Validate the window arguments before doing the work.
  queryWindow([], { ...args, anchor: undefined }, MAX_LIMIT);
  const position = typeof args.position === "number" ? args.position : 0;
  const limit = typeof args.limit === "number" ? Math.min(args.limit, MAX_LIMIT) : MAX_LIMIT;
  const early = !calculateTotal && (args.anchor === undefined || args.anchor === null) &&
    position >= 0;
  const { ids } = await runEmailQuery(parsed, ctx, early ? position + limit : Infinity);
  const all = ids.map((id) => toJmapId("email", id));
  const window = queryWindow(all, args, MAX_LIMIT);
  return {
    accountId: ctx.accountId,
    queryState: state,
    canCalculateChanges: true,
    position: window.position,
    ids: window.ids,
    ...(calculateTotal ? { total: all.length } : {}),
    ...(window.limit !== undefined ? { limit: window.limit } : {}),
    // RFC 8621 4.4: the response repeats the collapseThreads that was used.
    collapseThreads: parsed.collapseThreads,
  };
}

async function queryChanges(args: Args, ctx: MethodContext): Promise<Args> {
  const parsed = readEmailQuery(args);
  return await queryChangesOf(args, ctx, {
    types: parsed.collapseThreads ? ["Email", "Thread"] : ["Email"],
    toId: (n) => toJmapId("email", n),
    extra: ["collapseThreads"],
    current: async () => (await runEmailQuery(parsed, ctx)).ids.map((id) => toJmapId("email", id)),
    affected: async (changes) => {
      const affected = new Set<string>();
      const threads = new Set<number>();
      const listing = await ctx.caches.listing(ctx.account.id);
      for (const change of changes) {
        if (change.type === "Thread") {
          threads.add(change.objectId);
          continue;
        }
        affected.add(toJmapId("email", change.objectId));
        const entry = listing.byId.get(change.objectId);
        if (entry && parsed.collapseThreads) threads.add(entry.threadId);
      }
      if (threads.size) {
        for (const entry of listing.entries) {
          if (threads.has(entry.threadId)) affected.add(toJmapId("email", entry.id));
        }
      }
      return affected;
    },
  });
}

export const emailQueryMethods: Record<string, MethodSpec> = {
  "Email/query": { capability: MAIL, handler: query },
  "Email/queryChanges": { capability: MAIL, handler: queryChanges },
};
