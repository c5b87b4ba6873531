/**
 * PushSubscription/get and /set (RFC 8620 7.2): where the server POSTs StateChange objects for
 * clients that are not connected (phones, web push). Kept as JSON objects of the account.
 *
 * Implementation notes:
 * - A subscription belongs to the login that created it; both methods take no accountId and
 *   return no state (RFC 8620 7.2.1, 7.2.2).
 * - /get never returns `url` or `keys`; asking for them is `forbidden` (RFC 8620 7.2.1).
 * - The URL must be https. Plain http is accepted only for a loopback host (127.0.0.0/8, ::1,
 *   localhost), so a test or a local relay can listen without a certificate.
 * - On create the server POSTs a PushVerification with a random code; nothing else is POSTed
 *   until the client sets `verificationCode` to that code. Any other code is invalidProperties.
 * - `expires` is capped at MAX_LIFETIME_MS from now; expired subscriptions are destroyed when
 *   next loaded and never receive anything.
 * - `keys` (RFC 8291 message encryption) is refused with invalidProperties: the server does not
 *   encrypt, and sending a push in clear to a client that asked for encryption would be worse.
 * - The number of subscriptions per account is capped by `[jmap] max_push_connections`.
 * - Delivery (push.ts) reads subscriptions through SubscriptionCache; every /set that changes
 *   one invalidates the account's entry, so the cache never serves a stale URL or code.
 */
import type { App } from "../app.ts";
import { logger } from "../observability/log.ts";
import {
  allowOnly,
  type Args,
  fail,
  invalidProperties,
  isPlainObject,
  type MethodContext,
  MethodError,
  type MethodSpec,
  optionalStringList,
  type SetError,
  SetFailure,
} from "./method.ts";
import { applyPatch, resolveCreationId, selectProperties } from "./standard.ts";
import { fromJmapId, toJmapId } from "./ids.ts";

const log = logger("jmap-push");

const CORE = "urn:ietf:params:jmap:core";
const TYPE = "PushSubscription";
/** The longest lifetime the server grants (RFC 8620 7.2: the server MAY shorten `expires`). */
const MAX_LIFETIME_MS = 7 * 24 * 3600 * 1000;
/** How long one POST to a push URL may take before it is dropped. */
const POST_TIMEOUT_MS = 10_000;
/** RFC 8030 5.2: how long a push service may keep an undelivered message (seconds). */
const PUSH_TTL_SECONDS = 86_400;

const PROPERTIES = ["id", "deviceClientId", "verificationCode", "expires", "types"] as const;
const PRIVATE = ["url", "keys"];

/** The stored JSON of a subscription. */
interface StoredSubscription {
  deviceClientId: string;
  url: string;
  /** The code sent in the PushVerification. */
  expectedCode: string;
  /** The code the client set; equal to expectedCode once verified. */
  verificationCode: string | null;
  /** UTCDate. */
  expires: string;
  types: string[] | null;
}

/** A subscription as delivery sees it. */
export interface PushTarget {
  id: string;
  url: string;
  verified: boolean;
  expires: number;
  /** The data types to report; null = all. */
  types: Set<string> | null;
}

interface Loaded extends StoredSubscription {
  objectId: number;
  id: string;
}

/** The account's subscriptions, loaded once per change of them. */
export class SubscriptionCache {
  #byAccount = new Map<number, Promise<PushTarget[]>>();

  constructor(readonly app: App) {}

  /** Verified, unexpired subscriptions of the account. */
  async deliverable(accountId: number): Promise<PushTarget[]> {
    let entry = this.#byAccount.get(accountId);
    if (!entry) {
      entry = loadSubscriptions(this.app, accountId).then((list) => list.map(toTarget));
      entry.catch(() => this.#byAccount.delete(accountId));
      this.#byAccount.set(accountId, entry);
    }
    const now = Date.now();
    return (await entry).filter((target) => target.verified && target.expires > now);
  }

  invalidate(accountId: number): void {
    this.#byAccount.delete(accountId);
  }
}

const caches = new WeakMap<App, SubscriptionCache>();

/** The one cache of `app` (methods and delivery share it). */
export function subscriptionCache(app: App): SubscriptionCache {
  let cache = caches.get(app);
  if (!cache) caches.set(app, cache = new SubscriptionCache(app));
  return cache;
}

function toTarget(sub: Loaded): PushTarget {
  return {
    id: sub.id,
    url: sub.url,
    verified: sub.verificationCode !== null && sub.verificationCode === sub.expectedCode,
    expires: Date.parse(sub.expires),
    types: sub.types ? new Set(sub.types) : null,
  };
}

/** The account's subscriptions; expired ones are destroyed on the way. */
async function loadSubscriptions(app: App, accountId: number): Promise<Loaded[]> {
  const now = Date.now();
  const result: Loaded[] = [];
  for (const object of await app.store.listObjects(accountId, TYPE)) {
    const stored = JSON.parse(object.data) as StoredSubscription;
    if (Date.parse(stored.expires) <= now) {
      await app.store.deleteObject(accountId, TYPE, object.id);
      continue;
    }
    result.push({ ...stored, objectId: object.id, id: toJmapId("object", object.id) });
  }
  return result;
}

/**
 * POSTs `body` as JSON to a push URL (RFC 8030 5: with TTL). Failures are logged and dropped;
 * the server never retries, so a dead endpoint costs one request per change at most.
 *
 * @example
 * await postPush(target.url, { "@type": "StateChange", changed: {} });
 */
export async function postPush(url: string, body: Args): Promise<boolean> {
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", ttl: String(PUSH_TTL_SECONDS) },
      body: JSON.stringify(body),
      redirect: "manual",
      signal: AbortSignal.timeout(POST_TIMEOUT_MS),
    });
    await response.body?.cancel();
    if (response.ok) return true;
    log.warn("push refused", { origin: new URL(url).origin, status: response.status });
  } catch (error) {
    log.warn("push failed", { origin: new URL(url).origin, error: String(error) });
  }
  return false;
}

// ---- PushSubscription/get (RFC 8620 7.2.1) ----

async function get(args: Args, ctx: MethodContext): Promise<Args> {
  allowOnly(args, ["ids", "properties"]);
  const ids = optionalStringList(args, "ids");
  if (ids && ids.length > ctx.limits.maxObjectsInGet) {
    throw new MethodError("requestTooLarge", `at most ${ctx.limits.maxObjectsInGet} ids`);
  }
  const requested = optionalStringList(args, "properties");
  if (requested?.some((name) => PRIVATE.includes(name))) {
    throw new MethodError("forbidden", "url and keys are never returned");
  }
  const properties = selectProperties(requested, PROPERTIES);
  const all = await loadSubscriptions(ctx.app, ctx.account.id);
  const wanted = ids ? ids.map((id) => resolveCreationId(ctx, id)) : all.map((sub) => sub.id);
  const list: Args[] = [];
  const notFound: string[] = [];
  for (const id of new Set(wanted)) {
    const sub = all.find((candidate) => candidate.id === id);
    if (!sub) {
      notFound.push(id);
      continue;
    }
    const view: Args = { ...publicView(sub), id };
    list.push(Object.fromEntries(properties.map((name) => [name, view[name]])));
  }
  return { list, notFound };
}

function publicView(sub: StoredSubscription): Args {
  return {
    deviceClientId: sub.deviceClientId,
    url: sub.url,
    keys: null,
    verificationCode: sub.verificationCode,
    expires: sub.expires,
    types: sub.types,
  };
}

// ---- PushSubscription/set (RFC 8620 7.2.2) ----

async function set(args: Args, ctx: MethodContext): Promise<Args> {
  allowOnly(args, ["create", "update", "destroy"]);
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
  const destroyIds = (destroy ?? []) as string[];
  const count = Object.keys(create ?? {}).length + Object.keys(update ?? {}).length +
    destroyIds.length;
  if (count > ctx.limits.maxObjectsInSet) {
    throw new MethodError("requestTooLarge", `at most ${ctx.limits.maxObjectsInSet} changes`);
  }
  const accountId = ctx.account.id;
  const existing = await loadSubscriptions(ctx.app, accountId);
  const created: Args = {};
  const notCreated: Record<string, SetError> = {};
  const updated: Args = {};
  const notUpdated: Record<string, SetError> = {};
  const destroyed: string[] = [];
  const notDestroyed: Record<string, SetError> = {};
  const verifications: { id: string; url: string; code: string }[] = [];
  try {
    for (const [creationId, object] of Object.entries(create ?? {})) {
      try {
        if (existing.length >= ctx.limits.maxPushConnections) {
          throw new SetFailure({
            type: "overQuota",
            description: `at most ${ctx.limits.maxPushConnections} push subscriptions`,
          });
        }
        if (!isPlainObject(object)) throw invalidProperties([], "not an object");
        const stored = checkCreate(object);
        const { id: objectId } = await ctx.app.store.putObject(
          accountId,
          TYPE,
          null,
          JSON.stringify(stored),
        );
        const id = toJmapId("object", objectId);
        existing.push({ ...stored, objectId, id });
        ctx.createdIds.set(creationId, id);
        created[creationId] = { id, keys: null, verificationCode: null, expires: stored.expires };
        verifications.push({ id, url: stored.url, code: stored.expectedCode });
      } catch (error) {
        notCreated[creationId] = setError(error);
      }
    }
    for (const [rawId, patch] of Object.entries(update ?? {})) {
      const id = resolveCreationId(ctx, rawId);
      try {
        const sub = existing.find((candidate) => candidate.id === id);
        if (!sub) throw new SetFailure({ type: "notFound" });
        if (!isPlainObject(patch)) throw new SetFailure({ type: "invalidPatch" });
        const next = checkUpdate(sub, applyPatch(publicView(sub), patch));
        await ctx.app.store.putObject(accountId, TYPE, sub.objectId, JSON.stringify(next));
        Object.assign(sub, next);
        updated[id] = next.expires !== patch.expires && "expires" in patch
          ? { expires: next.expires }
          : null;
      } catch (error) {
        notUpdated[id] = setError(error);
      }
    }
    for (const rawId of destroyIds) {
      const id = resolveCreationId(ctx, rawId);
      const objectId = fromJmapId("object", id);
      const index = existing.findIndex((candidate) => candidate.id === id);
      if (objectId === null || index < 0) {
        notDestroyed[id] = { type: "notFound" };
        continue;
      }
      await ctx.app.store.deleteObject(accountId, TYPE, objectId);
      existing.splice(index, 1);
      destroyed.push(id);
    }
  } finally {
    subscriptionCache(ctx.app).invalidate(accountId);
  }
  // RFC 8620 7.2.2: the verification goes out once the subscription exists; its delivery is
  // not part of the method's answer.
  for (const { id, url, code } of verifications) {
    postPush(url, { "@type": "PushVerification", pushSubscriptionId: id, verificationCode: code });
  }
  const orNull = (value: Args) => Object.keys(value).length ? value : null;
  return {
    created: orNull(created),
    updated: orNull(updated),
    destroyed: destroyed.length ? destroyed : null,
    notCreated: orNull(notCreated),
    notUpdated: orNull(notUpdated),
    notDestroyed: orNull(notDestroyed),
  };
}

function setError(error: unknown): SetError {
  if (!(error instanceof SetFailure)) throw error;
  const result: SetError = { type: error.error.type };
  for (const [key, value] of Object.entries(error.error)) {
    if (value !== undefined) result[key] = value;
  }
  return result;
}

function checkCreate(object: Args): StoredSubscription {
  const known = ["deviceClientId", "url", "keys", "verificationCode", "expires", "types"];
  const unknown = Object.keys(object).filter((key) => !known.includes(key));
  if (unknown.length) throw invalidProperties(unknown, "unknown or server-set properties");
  const { deviceClientId, url } = object;
  if (typeof deviceClientId !== "string" || deviceClientId.length === 0) {
    throw invalidProperties(["deviceClientId"], "deviceClientId must be a non-empty string");
  }
  if (typeof url !== "string" || !isPushUrl(url)) {
    throw invalidProperties(["url"], "url must be an https URL (http only to loopback)");
  }
  if (object.keys !== undefined && object.keys !== null) {
    throw invalidProperties(["keys"], "encrypted push (RFC 8291) is not supported");
  }
  if (object.verificationCode !== undefined && object.verificationCode !== null) {
    throw invalidProperties(["verificationCode"], "verificationCode must be null on create");
  }
  return {
    deviceClientId,
    url,
    expectedCode: randomCode(),
    verificationCode: null,
    expires: checkExpires(object.expires),
    types: checkTypes(object.types),
  };
}

function checkUpdate(sub: StoredSubscription, next: Args): StoredSubscription {
  for (const name of ["deviceClientId", "url"] as const) {
    if (next[name] !== sub[name]) throw invalidProperties([name], `${name} is immutable`);
  }
  if (next.keys !== null) throw invalidProperties(["keys"], "keys is immutable");
  const known = ["deviceClientId", "url", "keys", "verificationCode", "expires", "types"];
  const unknown = Object.keys(next).filter((key) => !known.includes(key));
  if (unknown.length) throw invalidProperties(unknown, "unknown or server-set properties");
  const code = next.verificationCode ?? null;
  if (code !== null && code !== sub.expectedCode) {
    throw invalidProperties(["verificationCode"], "the verification code does not match");
  }
  return {
    ...sub,
    verificationCode: code as string | null,
    expires: next.expires === sub.expires ? sub.expires : checkExpires(next.expires),
    types: checkTypes(next.types),
  };
}

/** RFC 8620 7.2: https only; http for loopback hosts (local relays, tests). */
function isPushUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.username || url.password) return false;
  if (url.protocol === "https:") return true;
  return url.protocol === "http:" &&
    (url.hostname === "localhost" || url.hostname === "[::1]" ||
      /^127\.\d+\.\d+\.\d+$/.test(url.hostname));
}

/** A UTCDate no later than MAX_LIFETIME_MS from now (RFC 8620 7.2: the server MAY cap it). */
function checkExpires(value: unknown): string {
  const latest = Date.now() + MAX_LIFETIME_MS;
  if (value === undefined || value === null) return utcDate(latest);
  if (typeof value !== "string" || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(value)) {
    throw invalidProperties(["expires"], "expires must be a UTCDate");
  }
  const time = Date.parse(value);
  if (!Number.isFinite(time) || time <= Date.now()) {
    throw invalidProperties(["expires"], "expires must be in the future");
  }
  return time > latest ? utcDate(latest) : value;
}

function utcDate(time: number): string {
  return new Date(Math.floor(time / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

function checkTypes(value: unknown): string[] | null {
  if (value === undefined || value === null) return null;
  if (!Array.isArray(value) || value.some((type) => typeof type !== "string" || !type)) {
    throw invalidProperties(["types"], "types must be a list of type names or null");
  }
  return [...new Set(value as string[])];
}

function randomCode(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_")
    .replace(/=+$/, "");
}

export const pushSubscriptionMethods: Record<string, MethodSpec> = {
  "PushSubscription/get": { capability: CORE, handler: get },
  "PushSubscription/set": { capability: CORE, handler: set },
};
