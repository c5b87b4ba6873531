/**
 * Quota/get, /changes, /query and /queryChanges (RFC 9425): the account's storage quota.
 *
 * Implementation notes:
 * - An account has at most one Quota: its storage limit (principals.quota, octets, scope
 *   "account", counting Emails). An account without a limit (quota 0) has no Quota object at
 *   all, since a Quota needs a hardLimit (RFC 9425 3).
 * - The state is the account modseq, like every other type. `used` moves only with email
 *   changes, which bump the modseq, so /changes reports the quota updated whenever the modseq
 *   moved since the client's state. A limit changed by an administrator bumps nothing; a client
 *   sees the new limit at its next Quota/get.
 * - The account is read again for every call: the one the request authenticated with may be
 *   older than the emails this request (or another session) just added.
 */
import type { Account } from "../store/types.ts";
import {
  allowOnly,
  type Args,
  fail,
  isPlainObject,
  type MethodContext,
  MethodError,
  type MethodSpec,
  optionalBoolean,
  optionalUnsigned,
  requireAccount,
} from "./method.ts";
import type { Capability } from "./registry.ts";
import {
  currentState,
  parseState,
  pick,
  readGetArgs,
  selectProperties,
  standardQuery,
} from "./standard.ts";
import { evaluateFilter, readComparators, visitConditions } from "./filter.ts";

const QUOTA = "urn:ietf:params:jmap:quota";
/** The id of the account's storage quota: one per account, so a constant. */
const STORAGE_ID = "storage";

const PROPERTIES = [
  "id",
  "resourceType",
  "used",
  "hardLimit",
  "scope",
  "name",
  "types",
  "warnLimit",
  "softLimit",
  "description",
] as const;
const FILTERS = ["name", "scope", "resourceType", "type"];

export const capabilities: Capability[] = [{
  urn: QUOTA,
  session: () => ({}),
  account: () => ({}),
}];

/** The account's quota objects, freshly read: none when its storage is unlimited. */
async function quotas(ctx: MethodContext): Promise<Args[]> {
  const account: Account = await ctx.app.store.getAccountById(ctx.account.id) ?? ctx.account;
  if (account.quota <= 0) return [];
  return [{
    id: STORAGE_ID,
    resourceType: "octets",
    used: account.usedBytes,
    hardLimit: account.quota,
    scope: "account",
    name: `${account.address} storage`,
    types: ["Email"],
    description: `Mail stored by ${account.address}`,
  }];
}

async function get(args: Args, ctx: MethodContext): Promise<Args> {
  const { ids, properties } = readGetArgs(args, ctx);
  const selected = selectProperties(properties, PROPERTIES);
  const state = await currentState(ctx);
  const all = await quotas(ctx);
  const list: Args[] = [];
  const notFound: string[] = [];
  for (const id of ids ?? all.map((q) => q.id as string)) {
    const quota = all.find((q) => q.id === id);
    if (quota) list.push(pick(quota, selected));
    else notFound.push(id);
  }
  return { accountId: ctx.accountId, state, list, notFound };
}

/** Whether the client's state is the current one; cannotCalculateChanges for a foreign one. */
function isCurrent(since: unknown, name: string, state: string): boolean {
  if (typeof since !== "string") fail(`${name} must be a string`);
  const parsed = parseState(since);
  if (!parsed || parsed.below - 1 > Number(state)) {
    throw new MethodError("cannotCalculateChanges", "unknown state");
  }
  return parsed.skip === 0 && parsed.below - 1 === Number(state);
}

async function changes(args: Args, ctx: MethodContext): Promise<Args> {
  allowOnly(args, ["accountId", "sinceState", "maxChanges"]);
  requireAccount(args, ctx);
  if (optionalUnsigned(args, "maxChanges") === 0) fail("maxChanges must be positive");
  const newState = await currentState(ctx);
  const same = isCurrent(args.sinceState, "sinceState", newState);
  const updated = same ? [] : (await quotas(ctx)).map((q) => q.id as string);
  return {
    accountId: ctx.accountId,
    oldState: args.sinceState,
    newState,
    hasMoreChanges: false,
    created: [],
    updated,
    destroyed: [],
    updatedProperties: null,
  };
}

/** The sorted, filtered quota ids of a Quota/query. */
async function queryIds(args: Args, ctx: MethodContext): Promise<string[]> {
  const filter = args.filter ?? null;
  if (filter !== null && !isPlainObject(filter)) fail("filter must be an object");
  if (filter) {
    visitConditions(filter, (condition) => {
      for (const [key, value] of Object.entries(condition)) {
        if (!FILTERS.includes(key)) {
          throw new MethodError("unsupportedFilter", `unknown filter ${key}`);
        }
        if (typeof value !== "string") fail(`${key} must be a string`);
      }
    });
  }
  const comparators = readComparators(args.sort, ["name", "used"]);
  const matches = (quota: Args, condition: Args): boolean =>
    Object.entries(condition).every(([key, value]) => {
      if (key === "name") return (quota.name as string).includes(value as string);
      if (key === "type") return (quota.types as string[]).includes(value as string);
      return quota[key] === value;
    });
  const list = (await quotas(ctx)).filter((q) =>
    !filter || evaluateFilter(filter, (c) => matches(q, c))
  );
  list.sort((a, b) => {
    for (const { property, isAscending } of comparators) {
      const x = a[property];
      const y = b[property];
      const order = typeof x === "string"
        ? x.localeCompare(y as string)
        : (x as number) - (y as number);
      if (order !== 0) return isAscending ? order : -order;
    }
    return (a.id as string).localeCompare(b.id as string);
  });
  return list.map((q) => q.id as string);
}

async function query(args: Args, ctx: MethodContext): Promise<Args> {
  return await standardQuery(args, ctx, () => queryIds(args, ctx));
}

/** RFC 8620 5.6 over one object: once the state moved, the quota is removed and re-added. */
async function queryChanges(args: Args, ctx: MethodContext): Promise<Args> {
  allowOnly(args, [
    "accountId",
    "filter",
    "sort",
    "sinceQueryState",
    "maxChanges",
    "upToId",
    "calculateTotal",
  ]);
  requireAccount(args, ctx);
  const maxChanges = optionalUnsigned(args, "maxChanges");
  if (args.upToId !== undefined && args.upToId !== null && typeof args.upToId !== "string") {
    fail("upToId must be an id");
  }
  const newQueryState = await currentState(ctx);
  const same = isCurrent(args.sinceQueryState, "sinceQueryState", newQueryState);
  const ids = await queryIds(args, ctx);
  const removed = same ? [] : (await quotas(ctx)).map((q) => q.id as string);
  const added = same ? [] : ids.map((id, index) => ({ id, index }));
  if (maxChanges !== null && removed.length + added.length > maxChanges) {
    throw new MethodError("tooManyChanges");
  }
  return {
    accountId: ctx.accountId,
    oldQueryState: args.sinceQueryState,
    newQueryState,
    ...(optionalBoolean(args, "calculateTotal", false) ? { total: ids.length } : {}),
    removed,
    added,
  };
}

export const methods: Record<string, MethodSpec> = {
  "Quota/get": { capability: QUOTA, handler: get },
  "Quota/changes": { capability: QUOTA, handler: changes },
  "Quota/query": { capability: QUOTA, handler: query },
  "Quota/queryChanges": { capability: QUOTA, handler: queryChanges },
};
