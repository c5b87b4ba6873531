/**
 * The standard methods of RFC 8620 5 as reusable pieces: argument checks for /get, the change
 * log walk of /changes, the create/update/destroy loop of /set with patch objects, and the
 * position/anchor/limit window of /query.
 *
 * Implementation notes:
 * - The state of every type is the account modseq ("42"). /changes may stop inside one modseq
 *   when a single commit changed more than maxChanges objects; the state it then returns is
 *   "43.k" (everything below 43 and the first k changes of 43 in (type, id) order), which only
 *   /changes of the same type understands. Any other state string is cannotCalculateChanges.
 * - An object created and destroyed since sinceState is left out of /changes altogether
 *   (RFC 8620 5.2); created then updated is reported as created only.
 */
import {
  allowOnly,
  type Args,
  fail,
  isPlainObject,
  type MethodContext,
  MethodError,
  optionalBoolean,
  optionalInt,
  optionalStringList,
  optionalUnsigned,
  requireAccount,
  type SetError,
  SetFailure,
} from "./method.ts";
import type { Change } from "../store/types.ts";

export async function currentState(ctx: MethodContext): Promise<string> {
  return String(await ctx.app.store.accountModseq(ctx.account.id));
}

/** Resolves "#creationId" references to ids created earlier in the request. */
export function resolveCreationId(ctx: MethodContext, id: string): string {
  if (!id.startsWith("#")) return id;
  return ctx.createdIds.get(id.slice(1)) ?? id;
}

export interface GetArgs {
  ids: string[] | null;
  properties: string[] | null;
}

/** Checks /get's arguments (plus `extra` names the method adds). */
export function readGetArgs(args: Args, ctx: MethodContext, extra: string[] = []): GetArgs {
  allowOnly(args, ["accountId", "ids", "properties", ...extra]);
  requireAccount(args, ctx);
  const ids = optionalStringList(args, "ids");
  if (ids && ids.length > ctx.limits.maxObjectsInGet) {
    throw new MethodError(
      "requestTooLarge",
      `at most ${ctx.limits.maxObjectsInGet} ids in one /get`,
    );
  }
  const properties = optionalStringList(args, "properties");
  return {
    ids: ids ? [...new Set(ids.map((id) => resolveCreationId(ctx, id)))] : null,
    properties,
  };
}

/** The requested properties (always with "id"), or invalidArguments for an unknown one. */
export function selectProperties(
  properties: string[] | null,
  known: readonly string[],
  defaults: readonly string[] = known,
  isExtra: (name: string) => boolean = () => false,
): string[] {
  const list = properties ?? [...defaults];
  for (const name of list) {
    if (!known.includes(name) && !isExtra(name)) fail(`unknown property ${name}`);
  }
  return list.includes("id") ? list : ["id", ...list];
}

export function pick(object: Args, properties: string[]): Args {
  const result: Args = {};
  for (const name of properties) if (name in object) result[name] = object[name];
  return result;
}

// ---- /changes ----

interface ParsedState {
  /** Everything with a modseq below this is included. */
  below: number;
  /** …and this many changes at modseq `below`. */
  skip: number;
}

export function parseState(state: string): ParsedState | null {
  const match = /^(0|[1-9][0-9]{0,15})(?:\.([1-9][0-9]{0,8}))?$/.exec(state);
  if (!match) return null;
  if (match[2] === undefined) return { below: Number(match[1]) + 1, skip: 0 };
  return { below: Number(match[1]), skip: Number(match[2]) };
}

export interface ChangesResult {
  oldState: string;
  newState: string;
  hasMoreChanges: boolean;
  created: number[];
  updated: number[];
  destroyed: number[];
}

/** Walks the change log of `types` from `sinceState` (RFC 8620 5.2). */
export async function changesSince(
  args: Args,
  ctx: MethodContext,
  types: string[],
  extra: string[] = [],
): Promise<ChangesResult> {
  allowOnly(args, ["accountId", "sinceState", "maxChanges", ...extra]);
  requireAccount(args, ctx);
  if (typeof args.sinceState !== "string") fail("sinceState must be a string");
  const maxChanges = optionalUnsigned(args, "maxChanges");
  if (maxChanges === 0) fail("maxChanges must be positive");
  const since = parseState(args.sinceState);
  const current = await ctx.app.store.accountModseq(ctx.account.id);
  if (!since || since.below - 1 > current) {
    throw new MethodError("cannotCalculateChanges", "unknown state");
  }
  const limit = maxChanges ?? 100_000;
  const status = new Map<number, { first: string; last: string }>();
  let newState = String(current);
  let hasMoreChanges = false;
  let after = since.below - 1;
  let skip = since.skip;
  let highest = current;
  // Each read starts at the first change of modseq after + 1; `skip` of that group were taken.
  while (true) {
    const size = skip + 5000;
    const batch = await ctx.app.store.changesOfTypes(ctx.account.id, types, after, size);
    let group = -1;
    let inGroup = 0;
    let stopped = false;
    for (const change of batch) {
      if (change.modseq !== group) {
        group = change.modseq;
        inGroup = 0;
      }
      inGroup++;
      if (change.modseq === after + 1 && inGroup <= skip) continue;
      const known = status.get(change.objectId);
      if (!known && status.size >= limit) {
        // Stop before the change that would exceed maxChanges distinct objects.
        hasMoreChanges = true;
        newState = inGroup === 1 ? String(change.modseq - 1) : `${change.modseq}.${inGroup - 1}`;
        stopped = true;
        break;
      }
      if (change.modseq > highest) highest = change.modseq;
      if (known) known.last = change.change;
      else status.set(change.objectId, { first: change.change, last: change.change });
    }
    if (stopped || batch.length < size) break;
    const lastModseq = batch[batch.length - 1].modseq;
    skip = batch.filter((change) => change.modseq === lastModseq).length;
    after = lastModseq - 1;
  }
  if (!hasMoreChanges) newState = String(highest);
  const created: number[] = [];
  const updated: number[] = [];
  const destroyed: number[] = [];
  for (const [id, { first, last }] of status) {
    if (first === "created") {
      if (last !== "destroyed") created.push(id);
    } else if (last === "destroyed") destroyed.push(id);
    else updated.push(id);
  }
  return {
    oldState: args.sinceState,
    newState,
    hasMoreChanges,
    created,
    updated,
    destroyed,
  };
}

/** A whole /changes response for `types`, ids made by `toId` (RFC 8620 5.2). */
export async function changesResponse(
  args: Args,
  ctx: MethodContext,
  types: string[],
  toId: (objectId: number) => string,
  extra: Args = {},
): Promise<Args> {
  const result = await changesSince(args, ctx, types);
  return {
    accountId: ctx.accountId,
    oldState: result.oldState,
    newState: result.newState,
    hasMoreChanges: result.hasMoreChanges,
    created: result.created.map(toId),
    updated: result.updated.map(toId),
    destroyed: result.destroyed.map(toId),
    ...extra,
  };
}

// ---- /set ----

export interface SetHandlers {
  /** Returns the new id and the server-set properties to report; throws SetFailure. */
  create?(creationId: string, object: Args): Promise<{ id: string; properties: Args }>;
  /** Applies an update; returns server-changed properties or null. Throws SetFailure. */
  update?(id: string, patch: Args): Promise<Args | null>;
  destroy?(id: string): Promise<void>;
  /** Runs after every create, update and destroy (e.g. to publish one change event). */
  done?(): Promise<void> | void;
}

/** The /set loop (RFC 8620 5.3): ifInState, creates, then updates, then destroys. */
export async function standardSet(
  args: Args,
  ctx: MethodContext,
  handlers: SetHandlers,
  extra: string[] = [],
): Promise<Args> {
  allowOnly(args, ["accountId", "ifInState", "create", "update", "destroy", ...extra]);
  requireAccount(args, ctx);
  const create = args.create ?? null;
  const update = args.update ?? null;
  const destroy = args.destroy ?? null;
  if (create !== null && !isPlainObject(create)) fail("create must be an object");
  if (update !== null && !isPlainObject(update)) fail("update must be an object");
  if (
    destroy !== null && (!Array.isArray(destroy) || destroy.some((id) => typeof id !== "string"))
  ) {
    fail("destroy must be a list of ids");
  }
  const count = Object.keys(create ?? {}).length + Object.keys(update ?? {}).length +
    (destroy as string[] | null ?? []).length;
  if (count > ctx.limits.maxObjectsInSet) {
    throw new MethodError(
      "requestTooLarge",
      `at most ${ctx.limits.maxObjectsInSet} changes in one /set`,
    );
  }
  const oldState = await currentState(ctx);
  if (args.ifInState !== undefined && args.ifInState !== null) {
    if (typeof args.ifInState !== "string") fail("ifInState must be a string");
    if (args.ifInState !== oldState) throw new MethodError("stateMismatch");
  }
  const response: Args = { accountId: ctx.accountId, oldState };
  const created: Args = {};
  const notCreated: Record<string, SetError> = {};
  const updated: Args = {};
  const notUpdated: Record<string, SetError> = {};
  const destroyed: string[] = [];
  const notDestroyed: Record<string, SetError> = {};
  try {
    for (const [creationId, object] of Object.entries(create ?? {})) {
      try {
        if (!handlers.create) throw new SetFailure({ type: "forbidden" });
        if (!isPlainObject(object)) throw new SetFailure({ type: "invalidProperties" });
        const result = await handlers.create(creationId, object);
        ctx.createdIds.set(creationId, result.id);
        created[creationId] = { id: result.id, ...result.properties };
      } catch (error) {
        notCreated[creationId] = setError(error);
      }
    }
    for (const [rawId, patch] of Object.entries(update ?? {})) {
      const id = resolveCreationId(ctx, rawId);
      try {
        if (!handlers.update) throw new SetFailure({ type: "forbidden" });
        if (!isPlainObject(patch)) throw new SetFailure({ type: "invalidPatch" });
        updated[id] = await handlers.update(id, patch);
      } catch (error) {
        notUpdated[id] = setError(error);
      }
    }
    for (const rawId of (destroy as string[] | null) ?? []) {
      const id = resolveCreationId(ctx, rawId);
      try {
        if (!handlers.destroy) throw new SetFailure({ type: "forbidden" });
        await handlers.destroy(id);
        destroyed.push(id);
      } catch (error) {
        notDestroyed[id] = setError(error);
      }
    }
  } finally {
    await handlers.done?.();
  }
  response.newState = await currentState(ctx);
  const orNull = (value: Args) => Object.keys(value).length ? value : null;
  response.created = orNull(created);
  response.updated = orNull(updated);
  response.destroyed = destroyed.length ? destroyed : null;
  response.notCreated = orNull(notCreated);
  response.notUpdated = orNull(notUpdated);
  response.notDestroyed = orNull(notDestroyed);
  return response;
}

function setError(error: unknown): SetError {
  if (error instanceof SetFailure) {
    const result: SetError = { type: error.error.type };
    for (const [key, value] of Object.entries(error.error)) {
      if (value !== undefined) result[key] = value;
    }
    return result;
  }
  throw error;
}

/**
 * Applies a PatchObject (RFC 8620 5.3) to a copy of `object`: each key is a JSON Pointer
 * (without the leading "/"); null removes. Throws SetFailure invalidPatch.
 */
export function applyPatch(object: Args, patch: Args): Args {
  const result = structuredClone(object);
  const paths = Object.keys(patch);
  for (const path of paths) {
    if (paths.some((other) => other !== path && other.startsWith(`${path}/`))) {
      throw new SetFailure({ type: "invalidPatch", description: `${path} overlaps another path` });
    }
    const tokens = path.split("/").map((t) => t.replaceAll("~1", "/").replaceAll("~0", "~"));
    let target: Args = result;
    for (const token of tokens.slice(0, -1)) {
      const next = target[token];
      if (!isPlainObject(next)) {
        throw new SetFailure({
          type: "invalidPatch",
          description: `${path} does not point into an object`,
        });
      }
      target = next;
    }
    const last = tokens[tokens.length - 1];
    if (patch[path] === null) delete target[last];
    else target[last] = patch[path];
  }
  return result;
}

// ---- /query ----

export interface QueryWindow {
  ids: string[];
  position: number;
  total?: number;
  limit?: number;
}

/** Applies position or anchor + anchorOffset, and limit (RFC 8620 5.5). */
export function queryWindow(all: string[], args: Args, maxLimit: number): QueryWindow {
  let position = optionalInt(args, "position", 0);
  const anchorOffset = optionalInt(args, "anchorOffset", 0);
  const limitArg = optionalUnsigned(args, "limit");
  const anchor = args.anchor;
  if (anchor !== undefined && anchor !== null && typeof anchor !== "string") {
    fail("anchor must be an id");
  }
  if (typeof anchor === "string") {
    const index = all.indexOf(anchor);
    if (index === -1) throw new MethodError("anchorNotFound");
    position = Math.max(0, index + anchorOffset);
  } else if (position < 0) {
    position = Math.max(0, all.length + position);
  }
  let limit = limitArg ?? maxLimit;
  let limited = false;
  if (limit > maxLimit) {
    limit = maxLimit;
    limited = true;
  }
  const result: QueryWindow = {
    ids: all.slice(position, position + limit),
    position: Math.min(position, all.length),
  };
  if (limited || limitArg === null && all.length - position > maxLimit) result.limit = limit;
  return result;
}

// ---- /queryChanges ----

export interface QueryChangesOptions {
  /** Change-log types whose changes can move an object in or out of the results. */
  types: string[];
  toId(objectId: number): string;
  /** Arguments the type's /query adds (collapseThreads, sortAsTree, ...). */
  extra: string[];
  /** The full, sorted result ids of the query now. */
  current(): Promise<string[]>;
  /** The result ids that may have moved, from the changes (default: the changed objects). */
  affected?(changes: Change[]): Promise<Set<string>>;
}

/**
 * /queryChanges (RFC 8620 5.6) from the change log: every object changed since the old state
 * is reported removed, and those now in the results are added back at their index. The RFC
 * allows removed to name ids that were not in the old results; a client applying removed then
 * added always ends with the current results.
 */
export async function queryChangesOf(
  args: Args,
  ctx: MethodContext,
  options: QueryChangesOptions,
): Promise<Args> {
  allowOnly(args, [
    "accountId",
    "filter",
    "sort",
    "sinceQueryState",
    "maxChanges",
    "upToId",
    "calculateTotal",
    ...options.extra,
  ]);
  requireAccount(args, ctx);
  if (typeof args.sinceQueryState !== "string") fail("sinceQueryState must be a string");
  const maxChanges = optionalUnsigned(args, "maxChanges");
  if (args.upToId !== undefined && args.upToId !== null && typeof args.upToId !== "string") {
    fail("upToId must be an id");
  }
  const since = parseState(args.sinceQueryState);
  const newState = await currentState(ctx);
  if (!since || since.skip !== 0 || since.below - 1 > Number(newState)) {
    throw new MethodError("cannotCalculateChanges", "unknown query state");
  }
  const cap = 50_000;
  const changes = await ctx.app.store.changesOfTypes(
    ctx.account.id,
    options.types,
    since.below - 1,
    cap + 1,
  );
  if (changes.length > cap) throw new MethodError("cannotCalculateChanges", "too many changes");
  const affected = options.affected
    ? await options.affected(changes)
    : new Set(changes.map((change) => options.toId(change.objectId)));
  const ids = await options.current();
  const removed = [...affected];
  const added: { id: string; index: number }[] = [];
  ids.forEach((id, index) => {
    if (affected.has(id)) added.push({ id, index });
  });
  if (maxChanges !== null && removed.length + added.length > maxChanges) {
    throw new MethodError("tooManyChanges");
  }
  return {
    accountId: ctx.accountId,
    oldQueryState: args.sinceQueryState,
    newQueryState: newState,
    ...(args.calculateTotal === true ? { total: ids.length } : {}),
    removed,
    added,
  };
}

/**
 * A whole /query (RFC 8620 5.5) for a type whose results fit in memory: the arguments checked,
 * `ids` computes the full sorted result, the window and total applied.
 */
export async function standardQuery(
  args: Args,
  ctx: MethodContext,
  ids: () => Promise<string[]>,
  extra: string[] = [],
): Promise<Args> {
  allowOnly(args, [
    "accountId",
    "filter",
    "sort",
    "position",
    "anchor",
    "anchorOffset",
    "limit",
    "calculateTotal",
    ...extra,
  ]);
  requireAccount(args, ctx);
  const queryState = await currentState(ctx);
  const all = await ids();
  const window = queryWindow(all, args, ctx.limits.maxObjectsInGet);
  return {
    accountId: ctx.accountId,
    queryState,
    canCalculateChanges: true,
    position: window.position,
    ids: window.ids,
    ...(optionalBoolean(args, "calculateTotal", false) ? { total: all.length } : {}),
    ...(window.limit !== undefined ? { limit: window.limit } : {}),
  };
}
