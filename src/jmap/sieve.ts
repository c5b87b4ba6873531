/**
 * SieveScript/get, /changes, /set, /query, /queryChanges and /validate (RFC 9661): the
 * account's Sieve scripts over JMAP, the same ones ManageSieve lists (src/sieve/scripts.ts).
 *
 * Implementation notes:
 * - One store: a script written here shows in LISTSCRIPTS and the other way round. Every
 *   write goes through `SieveScripts`, so names, sizes, the script count and the compile check
 *   follow the same rules as PUTSCRIPT; a script that does not compile is never stored.
 * - Ids are "S" + the store row id, which survives renames and is never reused (the store picks
 *   ids above every one its change log names). The store logs each write as a "SieveScript"
 *   change with its own modseq, so /changes sees ManageSieve's writes too.
 * - Content travels as blobs (RFC 9661 2.1): blobId is "B" + SHA-256 of the UTF-8 content.
 *   /get makes the content an upload of the account when it is not one any more (expired, or
 *   written over ManageSieve), so the download endpoint serves it by that blobId.
 * - onSuccessActivateScript / onSuccessDeactivateScript run only when every create, update
 *   and destroy succeeded; the isActive changes they make are reported in `updated`
 *   (RFC 9661 2.2).
 */
import type { Config } from "../config/schema.ts";
import { NOTIFY_METHODS } from "../sieve/extensions.ts";
import { SUPPORTED_EXTENSIONS } from "../sieve/extensions.ts";
import { scriptChecker } from "../sieve/managesieve/checker.ts";
import { MAX_SCRIPT_NAME_CHARACTERS, type ScriptFailure, SieveScripts } from "../sieve/scripts.ts";
import type { SieveScriptEntry } from "../store/types.ts";
import { sha256Hex } from "../store/blobs.ts";
import { readBlob, storeUpload } from "./blob_access.ts";
import { evaluateFilter, readComparators, visitConditions } from "./filter.ts";
import { blobId as toBlobId } from "./ids.ts";
import {
  allowOnly,
  type Args,
  fail,
  invalidProperties,
  isPlainObject,
  type MethodContext,
  MethodError,
  type MethodSpec,
  optionalBoolean,
  requireAccount,
  type SetError,
  SetFailure,
} from "./method.ts";
import type { Capability } from "./registry.ts";
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

export const SIEVE = "urn:ietf:params:jmap:sieve";
const SIEVE_TYPE = "SieveScript";
const PROPERTIES = ["id", "name", "blobId", "isActive"] as const;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

export const capabilities: Capability[] = [{
  urn: SIEVE,
  session: () => ({}),
  // RFC 9661 2: the limits of [sieve]; a name of 128 octets is at most 128 characters.
  account: (_limits, config: Config) => ({
    implementation: "Postern",
    maxSizeScriptName: MAX_SCRIPT_NAME_CHARACTERS,
    maxSizeScript: config.sieve.max_script_size,
    maxNumberScripts: config.sieve.max_scripts,
    maxNumberRedirects: config.sieve.max_redirects,
    sieveExtensions: [...SUPPORTED_EXTENSIONS],
    notificationMethods: NOTIFY_METHODS.length > 0 ? [...NOTIFY_METHODS] : null,
    externalLists: null,
  }),
}];

function scriptsOf(ctx: MethodContext): SieveScripts {
  const { sieve } = ctx.app.loaded.config;
  return new SieveScripts(
    ctx.app.store,
    { maxScriptSize: sieve.max_script_size, maxScripts: sieve.max_scripts },
    scriptChecker({ maxSize: sieve.max_script_size, maxNesting: sieve.max_nesting_depth }),
  );
}

function toId(rowId: number): string {
  return `S${rowId}`;
}

function fromId(id: string): number | null {
  const match = /^S([1-9][0-9]{0,15})$/.exec(id);
  return match ? Number(match[1]) : null;
}

/** The blobId of `content`, made readable by the account as an upload when it is not. */
async function contentBlobId(ctx: MethodContext, content: string): Promise<string> {
  const bytes = encoder.encode(content);
  const hash = sha256Hex(bytes);
  if (!await ctx.app.store.accountHasBlob(ctx.account.id, hash)) {
    await storeUpload(ctx.app, ctx.limits.uploadTtl, ctx.account.id, bytes, "application/sieve");
  }
  return toBlobId(hash);
}

async function publish(ctx: MethodContext): Promise<void> {
  ctx.app.bus.publish({
    accountId: ctx.account.id,
    types: [SIEVE_TYPE],
    modseq: await ctx.app.store.accountModseq(ctx.account.id),
  });
}

async function get(args: Args, ctx: MethodContext): Promise<Args> {
  const { ids, properties } = readGetArgs(args, ctx);
  const selected = selectProperties(properties, PROPERTIES);
  const state = await currentState(ctx);
  const entries = await ctx.app.store.listSieveScripts(ctx.account.id);
  const byId = new Map(entries.map((entry) => [toId(entry.id), entry]));
  const list: Args[] = [];
  const notFound: string[] = [];
  for (const id of ids ?? byId.keys()) {
    const entry = byId.get(id);
    if (!entry) {
      notFound.push(id);
      continue;
    }
    const object: Args = { id, name: entry.name, isActive: entry.active };
    if (selected.includes("blobId")) {
      const script = await ctx.app.store.getSieveScript(ctx.account.id, entry.name);
      if (!script) {
        notFound.push(id);
        continue;
      }
      object.blobId = await contentBlobId(ctx, script.content);
    }
    list.push(pick(object, selected));
  }
  return { accountId: ctx.accountId, state, list, notFound };
}

async function changes(args: Args, ctx: MethodContext): Promise<Args> {
  return await changesResponse(args, ctx, [SIEVE_TYPE], toId);
}

/** A ScriptFailure from src/sieve/scripts.ts as the SetError RFC 9661 names for it. */
function setErrorOf(failure: ScriptFailure, property = "name"): SetFailure {
  switch (failure.code) {
    case "QUOTA/MAXSCRIPTS":
      return new SetFailure({ type: "overQuota", description: failure.message });
    case "QUOTA/MAXSIZE":
      return new SetFailure({ type: "tooLarge", description: failure.message });
    case "ALREADYEXISTS":
      return new SetFailure({ type: "alreadyExists", description: failure.message });
    case "NONEXISTENT":
      return new SetFailure({ type: "notFound", description: failure.message });
    case "ACTIVE":
      return new SetFailure({ type: "sieveIsActive", description: failure.message });
    default:
      if (failure.errors) {
        return new SetFailure({ type: "invalidSieve", description: failure.message });
      }
      return invalidProperties([property], failure.message);
  }
}

/** The script text behind a client's blobId; SetErrors for a missing, non-UTF-8 or big one. */
async function scriptContent(
  ctx: MethodContext,
  scripts: SieveScripts,
  value: unknown,
): Promise<string> {
  if (typeof value !== "string") throw invalidProperties(["blobId"], "blobId is required");
  const blob = await readBlob(ctx.app, ctx.account.id, resolveCreationId(ctx, value));
  if (!blob) {
    throw new SetFailure({ type: "blobNotFound", notFound: [value], properties: ["blobId"] });
  }
  if (blob.bytes.length > scripts.limits.maxScriptSize) throw setErrorOf(scripts.tooLarge());
  try {
    return decoder.decode(blob.bytes);
  } catch {
    throw new SetFailure({ type: "invalidSieve", description: "A script must be UTF-8" });
  }
}

/** Checks a client's name: the stored (NFC) form, or alreadyExists naming the holder. */
function checkName(
  scripts: SieveScripts,
  entries: SieveScriptEntry[],
  value: unknown,
  self: number | null,
): string {
  if (typeof value !== "string") throw invalidProperties(["name"], "name must be a string");
  const valid = scripts.name(value);
  if (!valid.ok) throw setErrorOf(valid);
  const holder = entries.find((entry) => entry.name === valid.value);
  if (holder && holder.id !== self) {
    throw new SetFailure({
      type: "alreadyExists",
      description: `A script named ${valid.value} already exists`,
      existingId: toId(holder.id),
    });
  }
  return valid.value;
}

/** A name no script of the account has, for a create without one. */
function freshName(entries: SieveScriptEntry[]): string {
  const taken = new Set(entries.map((entry) => entry.name));
  for (let n = 1;; n++) {
    if (!taken.has(`script-${n}`)) return `script-${n}`;
  }
}

async function set(args: Args, ctx: MethodContext): Promise<Args> {
  const activateArg = args.onSuccessActivateScript ?? null;
  if (activateArg !== null && typeof activateArg !== "string") {
    fail("onSuccessActivateScript must be an id or null");
  }
  const deactivate = optionalBoolean(args, "onSuccessDeactivateScript", false);
  const scripts = scriptsOf(ctx);
  const accountId = ctx.account.id;
  const list = () => ctx.app.store.listSieveScripts(accountId);
  let changed = false;
  let failed = false;
  const find = async (id: string): Promise<SieveScriptEntry> => {
    const rowId = fromId(id);
    const entry = rowId === null ? undefined : (await list()).find((e) => e.id === rowId);
    if (!entry) throw new SetFailure({ type: "notFound" });
    return entry;
  };
  const noting =
    <A extends unknown[], R>(work: (...a: A) => Promise<R>) => async (...a: A): Promise<R> => {
      try {
        return await work(...a);
      } catch (error) {
        failed = true;
        throw error;
      }
    };
  const activeChanges: Record<string, boolean> = {};
  const response = await standardSet(args, ctx, {
    create: noting(async (_creationId: string, object: Args) => {
      for (const [key, value] of Object.entries(object)) {
        if (key === "isActive" && value === false) continue;
        if (!["name", "blobId"].includes(key)) {
          throw invalidProperties([key], `${key} cannot be set on create`);
        }
      }
      const entries = await list();
      const named = object.name !== undefined && object.name !== null;
      const name = named ? checkName(scripts, entries, object.name, null) : freshName(entries);
      const content = await scriptContent(ctx, scripts, object.blobId);
      const stored = await scripts.put(accountId, name, content);
      if (!stored.ok) throw setErrorOf(stored);
      changed = true;
      const entry = (await list()).find((e) => e.name === name)!;
      const properties: Args = {
        blobId: await contentBlobId(ctx, content),
        isActive: false,
      };
      if (!named) properties.name = name;
      return { id: toId(entry.id), properties };
    }),
    update: noting(async (id: string, patch: Args) => {
      const entry = await find(id);
      let name = entry.name;
      let content: string | null = null;
      for (const [key, value] of Object.entries(patch)) {
        switch (key) {
          case "name":
            name = checkName(scripts, await list(), value, entry.id);
            break;
          case "blobId":
            content = await scriptContent(ctx, scripts, value);
            break;
          case "isActive":
            if (value !== entry.active) {
              throw invalidProperties(
                ["isActive"],
                "isActive changes with onSuccessActivateScript or onSuccessDeactivateScript",
              );
            }
            break;
          default:
            throw invalidProperties([key], `${key} cannot be updated`);
        }
      }
      if (content !== null) {
        const checked = scripts.checkScript(content);
        if (!checked.ok) throw setErrorOf(checked);
      }
      if (name !== entry.name) {
        const renamed = await scripts.rename(accountId, entry.name, name);
        if (!renamed.ok) throw setErrorOf(renamed);
        changed = true;
      }
      if (content !== null) {
        const stored = await scripts.put(accountId, name, content);
        if (!stored.ok) throw setErrorOf(stored);
        changed = true;
        return { blobId: await contentBlobId(ctx, content) };
      }
      return null;
    }),
    destroy: noting(async (id: string) => {
      const entry = await find(id);
      const deleted = await scripts.delete(accountId, entry.name);
      if (!deleted.ok) throw setErrorOf(deleted);
      changed = true;
    }),
    done: async () => {
      if (!failed && (deactivate || activateArg !== null)) {
        const before = (await list()).find((e) => e.active) ?? null;
        let target: SieveScriptEntry | null = deactivate ? null : before;
        if (activateArg !== null) {
          const rowId = fromId(resolveCreationId(ctx, activateArg));
          target = (await list()).find((e) => e.id === rowId) ?? target;
        }
        if (target?.id !== before?.id) {
          await scripts.activate(accountId, target?.name ?? "");
          if (before) activeChanges[toId(before.id)] = false;
          if (target) activeChanges[toId(target.id)] = true;
          changed = true;
        }
      }
      if (changed) await publish(ctx);
    },
  }, ["onSuccessActivateScript", "onSuccessDeactivateScript"]);
  if (Object.keys(activeChanges).length > 0) {
    const updated = (response.updated ?? {}) as Record<string, Args | null>;
    for (const [id, isActive] of Object.entries(activeChanges)) {
      updated[id] = { ...(updated[id] ?? {}), isActive };
    }
    response.updated = updated;
  }
  return response;
}

/** The sorted, filtered script ids of a SieveScript/query (RFC 9661 2.3). */
async function queryIds(args: Args, ctx: MethodContext): Promise<string[]> {
  const filter = args.filter ?? null;
  if (filter !== null && !isPlainObject(filter)) fail("filter must be an object");
  if (filter) {
    visitConditions(filter, (condition) => {
      for (const [key, value] of Object.entries(condition)) {
        if (key === "name" && typeof value === "string") continue;
        if (key === "isActive" && typeof value === "boolean") continue;
        if (key !== "name" && key !== "isActive") {
          throw new MethodError("unsupportedFilter", `unknown filter ${key}`);
        }
        fail(`${key} must be a ${key === "name" ? "string" : "boolean"}`);
      }
    });
  }
  const comparators = readComparators(args.sort, ["name", "isActive"]);
  const matches = (entry: SieveScriptEntry, condition: Args): boolean =>
    Object.entries(condition).every(([key, value]) =>
      key === "name" ? entry.name.includes(value as string) : entry.active === value
    );
  const entries = (await ctx.app.store.listSieveScripts(ctx.account.id)).filter((entry) =>
    !filter || evaluateFilter(filter, (condition) => matches(entry, condition))
  );
  entries.sort((a, b) => {
    for (const { property, isAscending } of comparators) {
      const order = property === "name"
        ? a.name.localeCompare(b.name)
        : Number(a.active) - Number(b.active);
      if (order !== 0) return isAscending ? order : -order;
    }
    return a.id - b.id;
  });
  return entries.map((entry) => toId(entry.id));
}

async function query(args: Args, ctx: MethodContext): Promise<Args> {
  return await standardQuery(args, ctx, () => queryIds(args, ctx));
}

async function queryChanges(args: Args, ctx: MethodContext): Promise<Args> {
  return await queryChangesOf(args, ctx, {
    types: [SIEVE_TYPE],
    toId,
    extra: [],
    current: () => queryIds(args, ctx),
  });
}

/** RFC 9661 2.4: compiles the blob's script without storing it. */
async function validate(args: Args, ctx: MethodContext): Promise<Args> {
  allowOnly(args, ["accountId", "blobId"]);
  requireAccount(args, ctx);
  if (typeof args.blobId !== "string") fail("blobId must be an id");
  const scripts = scriptsOf(ctx);
  let error: SetError | null = null;
  try {
    const checked = scripts.checkScript(await scriptContent(ctx, scripts, args.blobId));
    if (!checked.ok) throw setErrorOf(checked);
  } catch (failure) {
    if (!(failure instanceof SetFailure)) throw failure;
    error = failure.error;
  }
  return { accountId: ctx.accountId, error };
}

export const methods: Record<string, MethodSpec> = {
  "SieveScript/get": { capability: SIEVE, handler: get },
  "SieveScript/changes": { capability: SIEVE, handler: changes },
  "SieveScript/set": { capability: SIEVE, handler: set },
  "SieveScript/query": { capability: SIEVE, handler: query },
  "SieveScript/queryChanges": { capability: SIEVE, handler: queryChanges },
  "SieveScript/validate": { capability: SIEVE, handler: validate },
};
