/**
 * VacationResponse/get and /set (RFC 8621 8): the account's one vacation response, id
 * "singleton". The reply itself is sent at delivery by src/mail/vacation.ts.
 *
 * Implementation notes:
 * - Stored as one store object of type "VacationResponse", written on the first update; until
 *   then /get answers the defaults (disabled, everything null).
 * - /set create and destroy are the "singleton" SetError (RFC 8620 5.3); only update works.
 * - An update forgets who was already answered (the "VacationSent" list), so a new absence
 *   answers every sender again.
 */
import {
  readVacation,
  VACATION_SENT_TYPE,
  VACATION_TYPE,
  type VacationSettings,
} from "../mail/vacation.ts";
import {
  type Args,
  invalidProperties,
  type MethodContext,
  type MethodSpec,
  SetFailure,
} from "./method.ts";
import {
  applyPatch,
  currentState,
  pick,
  readGetArgs,
  selectProperties,
  standardSet,
} from "./standard.ts";

export const VACATION = "urn:ietf:params:jmap:vacationresponse";
const SINGLETON = "singleton";

const PROPERTIES = [
  "id",
  "isEnabled",
  "fromDate",
  "toDate",
  "subject",
  "textBody",
  "htmlBody",
] as const;

/** UTCDate (RFC 8620 1.4): "2014-10-30T06:12:00Z", fractional seconds allowed. */
const UTC_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

async function get(args: Args, ctx: MethodContext): Promise<Args> {
  const { ids, properties } = readGetArgs(args, ctx);
  const selected = selectProperties(properties, PROPERTIES);
  const { settings } = await readVacation(ctx.app.store, ctx.account.id);
  const state = await currentState(ctx);
  const list: Args[] = [];
  const notFound: string[] = [];
  for (const id of ids ?? [SINGLETON]) {
    if (id === SINGLETON) list.push(pick({ id, ...settings }, selected));
    else notFound.push(id);
  }
  return { accountId: ctx.accountId, state, list, notFound };
}

/** Checks a whole VacationResponse after a patch; throws invalidProperties. */
function checkSettings(object: Args): VacationSettings {
  for (const key of Object.keys(object)) {
    if (!(PROPERTIES as readonly string[]).includes(key)) {
      throw invalidProperties([key], `unknown property ${key}`);
    }
  }
  if (object.id !== SINGLETON) throw invalidProperties(["id"], "id is set by the server");
  if (typeof object.isEnabled !== "boolean") {
    throw invalidProperties(["isEnabled"], "isEnabled is a boolean");
  }
  for (const key of ["fromDate", "toDate"] as const) {
    const value = object[key] ?? null;
    if (
      value !== null && (typeof value !== "string" || !UTC_DATE.test(value) ||
        Number.isNaN(Date.parse(value)))
    ) {
      throw invalidProperties([key], `${key} is a UTCDate or null`);
    }
  }
  for (const key of ["subject", "textBody", "htmlBody"] as const) {
    const value = object[key] ?? null;
    if (value !== null && typeof value !== "string") {
      throw invalidProperties([key], `${key} is a string or null`);
    }
  }
  return {
    isEnabled: object.isEnabled,
    fromDate: (object.fromDate ?? null) as string | null,
    toDate: (object.toDate ?? null) as string | null,
    subject: (object.subject ?? null) as string | null,
    textBody: (object.textBody ?? null) as string | null,
    htmlBody: (object.htmlBody ?? null) as string | null,
  };
}

async function set(args: Args, ctx: MethodContext): Promise<Args> {
  const store = ctx.app.store;
  const accountId = ctx.account.id;
  let changed = false;
  const singleton = () =>
    new SetFailure({
      type: "singleton",
      description: "the VacationResponse is a singleton; update it instead",
    });
  return await standardSet(args, ctx, {
    create: () => Promise.reject(singleton()),
    update: async (id, patch) => {
      if (id !== SINGLETON) throw new SetFailure({ type: "notFound" });
      const current = await readVacation(store, accountId);
      const next = checkSettings(applyPatch({ id, ...current.settings }, patch));
      await store.putObject(accountId, VACATION_TYPE, current.id, JSON.stringify(next));
      for (const sent of await store.listObjects(accountId, VACATION_SENT_TYPE)) {
        await store.deleteObject(accountId, VACATION_SENT_TYPE, sent.id);
      }
      changed = true;
      return null;
    },
    destroy: (id) =>
      Promise.reject(id === SINGLETON ? singleton() : new SetFailure({ type: "notFound" })),
    done: async () => {
      if (!changed) return;
      ctx.app.bus.publish({
        accountId,
        types: [VACATION_TYPE],
        modseq: await store.accountModseq(accountId),
      });
    },
  });
}

export const vacationMethods: Record<string, MethodSpec> = {
  "VacationResponse/get": { capability: VACATION, handler: get },
  "VacationResponse/set": { capability: VACATION, handler: set },
};
