/**
 * Identity/get, /changes and /set (RFC 8621 6): the From addresses an account sends with.
 *
 * Implementation notes:
 * - Identities are store objects of type "Identity". An account without any gets one for its
 *   own address, named after its display name, on the first Identity/get (and when a submission
 *   looks its identities up), so every account has at least one (RFC 8621 6).
 * - `email` is the account's address or one that resolves to it through the directory (an
 *   alias, a sub-address, a catch-all): the same rule as the From check of SMTP submission
 *   (src/smtp/submission_auth.ts ownsSender). Anything else is forbiddenFrom (RFC 8621 6.3).
 * - `email` cannot change after creation; every identity may be destroyed (mayDelete true).
 */
import { ownsSender } from "../smtp/submission_auth.ts";
import {
  type Args,
  invalidProperties,
  type MethodContext,
  type MethodSpec,
  SetFailure,
} from "./method.ts";
import {
  applyPatch,
  changesResponse,
  currentState,
  pick,
  readGetArgs,
  selectProperties,
  standardSet,
} from "./standard.ts";
import { fromJmapId, toJmapId } from "./ids.ts";

export const SUBMISSION = "urn:ietf:params:jmap:submission";
export const IDENTITY_TYPE = "Identity";

const PROPERTIES = [
  "id",
  "name",
  "email",
  "replyTo",
  "bcc",
  "textSignature",
  "htmlSignature",
  "mayDelete",
] as const;

/** An Identity as stored (without id and mayDelete). */
export interface IdentityRecord {
  name: string;
  email: string;
  replyTo: { name: string | null; email: string }[] | null;
  bcc: { name: string | null; email: string }[] | null;
  textSignature: string;
  htmlSignature: string;
}

/** The account's identities by JMAP id, creating the default one when there is none. */
export async function identitiesOf(ctx: MethodContext): Promise<Map<string, IdentityRecord>> {
  const store = ctx.app.store;
  let stored = await store.listObjects(ctx.account.id, IDENTITY_TYPE);
  if (stored.length === 0) {
    const first: IdentityRecord = {
      name: ctx.account.displayName,
      email: ctx.account.address,
      replyTo: null,
      bcc: null,
      textSignature: "",
      htmlSignature: "",
    };
    await store.putObject(ctx.account.id, IDENTITY_TYPE, null, JSON.stringify(first));
    stored = await store.listObjects(ctx.account.id, IDENTITY_TYPE);
    await publish(ctx);
  }
  return new Map(stored.map((o) => [toJmapId("object", o.id), JSON.parse(o.data)]));
}

async function publish(ctx: MethodContext): Promise<void> {
  ctx.app.bus.publish({
    accountId: ctx.account.id,
    types: [IDENTITY_TYPE],
    modseq: await ctx.app.store.accountModseq(ctx.account.id),
  });
}

function toObject(id: string, record: IdentityRecord): Args {
  return { id, ...record, mayDelete: true };
}

async function get(args: Args, ctx: MethodContext): Promise<Args> {
  const { ids, properties } = readGetArgs(args, ctx);
  const selected = selectProperties(properties, PROPERTIES);
  const identities = await identitiesOf(ctx);
  const state = await currentState(ctx);
  const list: Args[] = [];
  const notFound: string[] = [];
  for (const id of ids ?? identities.keys()) {
    const record = identities.get(id);
    if (record) list.push(pick(toObject(id, record), selected));
    else notFound.push(id);
  }
  return { accountId: ctx.accountId, state, list, notFound };
}

async function changes(args: Args, ctx: MethodContext): Promise<Args> {
  return await changesResponse(args, ctx, [IDENTITY_TYPE], (n) => toJmapId("object", n));
}

function checkAddresses(value: unknown, property: string): IdentityRecord["replyTo"] {
  if (value === null) return null;
  if (
    !Array.isArray(value) ||
    value.some((a) =>
      typeof a !== "object" || a === null || typeof a.email !== "string" ||
      !a.email.includes("@") || (a.name !== undefined && a.name !== null &&
        typeof a.name !== "string")
    )
  ) {
    throw invalidProperties([property], `${property} is a list of EmailAddress or null`);
  }
  return value.map((a) => ({ name: a.name ?? null, email: a.email }));
}

function checkString(value: unknown, property: string): string {
  if (typeof value !== "string") throw invalidProperties([property], `${property} is a string`);
  return value;
}

/** Applies client-settable properties to `record`; `creating` allows `email`. */
function applyProperties(record: IdentityRecord, object: Args, creating: boolean): void {
  for (const [key, value] of Object.entries(object)) {
    switch (key) {
      case "name":
      case "textSignature":
      case "htmlSignature":
        record[key] = checkString(value, key);
        break;
      case "replyTo":
      case "bcc":
        record[key] = checkAddresses(value, key);
        break;
      case "email":
        if (!creating && value !== record.email) {
          throw invalidProperties(["email"], "email cannot be changed");
        }
        break;
      case "id":
      case "mayDelete":
        if (creating || value !== (key === "mayDelete" ? true : undefined)) {
          throw invalidProperties([key], `${key} is set by the server`);
        }
        break;
      default:
        throw invalidProperties([key], `unknown property ${key}`);
    }
  }
}

async function set(args: Args, ctx: MethodContext): Promise<Args> {
  const store = ctx.app.store;
  const accountId = ctx.account.id;
  let changed = false;
  const find = async (id: string): Promise<{ rowId: number; record: IdentityRecord }> => {
    const rowId = fromJmapId("object", id);
    const record = rowId === null ? undefined : (await identitiesOf(ctx)).get(id);
    if (rowId === null || !record) throw new SetFailure({ type: "notFound" });
    return { rowId, record };
  };
  return await standardSet(args, ctx, {
    create: async (_creationId, object) => {
      if (typeof object.email !== "string" || !object.email.includes("@")) {
        throw invalidProperties(["email"], "email is required");
      }
      const email = object.email.trim();
      if (!(await ownsSender(ctx.app.directory, ctx.account, email))) {
        throw new SetFailure({
          type: "forbiddenFrom",
          description: `${email} is not an address of this account`,
        });
      }
      const record: IdentityRecord = {
        name: "",
        email,
        replyTo: null,
        bcc: null,
        textSignature: "",
        htmlSignature: "",
      };
      applyProperties(record, object, true);
      record.email = email;
      const { id } = await store.putObject(accountId, IDENTITY_TYPE, null, JSON.stringify(record));
      changed = true;
      const defaults: Args = { mayDelete: true };
      for (const key of ["name", "replyTo", "bcc", "textSignature", "htmlSignature"] as const) {
        if (!(key in object)) defaults[key] = record[key];
      }
      return { id: toJmapId("object", id), properties: defaults };
    },
    update: async (id, patch) => {
      const { rowId, record } = await find(id);
      const before = toObject(id, record);
      // applyPatch drops a property set to null; here that means the value null.
      const patched = applyPatch(before, patch);
      const changedValues: Args = {};
      for (const key of new Set([...Object.keys(before), ...Object.keys(patched)])) {
        const value = key in patched ? patched[key] : null;
        if (JSON.stringify(value) !== JSON.stringify(before[key])) changedValues[key] = value;
      }
      const next = { ...record };
      applyProperties(next, changedValues, false);
      await store.putObject(accountId, IDENTITY_TYPE, rowId, JSON.stringify(next));
      changed = true;
      return null;
    },
    destroy: async (id) => {
      const { rowId } = await find(id);
      await store.deleteObject(accountId, IDENTITY_TYPE, rowId);
      changed = true;
    },
    done: async () => {
      if (changed) await publish(ctx);
    },
  });
}

export const identityMethods: Record<string, MethodSpec> = {
  "Identity/get": { capability: SUBMISSION, handler: get },
  "Identity/changes": { capability: SUBMISSION, handler: changes },
  "Identity/set": { capability: SUBMISSION, handler: set },
};
