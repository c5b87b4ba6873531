/**
 * EmailSubmission/get, /changes, /query, /queryChanges and /set (RFC 8621 7), and the module
 * entry for the submission and vacation capabilities (Identity in identity.ts, VacationResponse
 * in vacation.ts).
 *
 * Implementation notes:
 * - A submission sends the stored email's bytes, minus its Bcc fields (RFC 8621 7.5), through
 *   the same path as SMTP submission: `prepareSubmission` (From check, Date and Message-ID when
 *   missing, DKIM signature) and then the outbound queue. Nothing is held back
 *   (maxDelayedSend 0), so a submission is "final" as soon as it is queued and can never be
 *   canceled (cannotUnsend).
 * - deliveryStatus is read from the queue on /get while the queue still has the message; once
 *   the queue has finished with it, recipients last seen queued are "unknown" (the outcome went
 *   to the sender as a DSN, if any was asked for).
 * - The From of the email must be the identity's address (forbiddenFrom), and the envelope's
 *   MAIL FROM an address the account owns (forbiddenMailFrom), as for SMTP submission.
 * - onSuccessUpdateEmail / onSuccessDestroyEmail run as one implicit Email/set after the
 *   response (RFC 8621 7.5), for the submissions created, updated or destroyed successfully.
 */
import type { Capability } from "./registry.ts";
import {
  type Args,
  fail,
  invalidProperties,
  isPlainObject,
  type MethodContext,
  MethodError,
  type MethodSpec,
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
import { identitiesOf, identityMethods, SUBMISSION } from "./identity.ts";
import { VACATION, vacationMethods } from "./vacation.ts";
import { scanFieldSpans } from "../mail/headers.ts";
import { prepareSubmission } from "../smtp/submission_message.ts";
import { ownsSender } from "../smtp/submission_auth.ts";
import { logger } from "../observability/log.ts";
import type { QueuedMessage } from "../store/types.ts";

const log = logger("jmap");
const SUBMISSION_TYPE = "EmailSubmission";

const PROPERTIES = [
  "id",
  "identityId",
  "emailId",
  "threadId",
  "envelope",
  "sendAt",
  "undoStatus",
  "deliveryStatus",
  "dsnBlobIds",
  "mdnBlobIds",
] as const;

interface Address {
  email: string;
  parameters: Record<string, string | null> | null;
}

interface Envelope {
  mailFrom: Address;
  rcptTo: Address[];
}

interface DeliveryStatus {
  smtpReply: string;
  delivered: "queued" | "yes" | "no" | "unknown";
  displayed: "unknown" | "yes";
}

/** An EmailSubmission as stored. */
interface SubmissionRecord {
  identityId: string;
  emailId: string;
  threadId: string;
  envelope: Envelope;
  sendAt: string;
  undoStatus: "pending" | "final" | "canceled";
  /** The outbound queue's message id. */
  queueId: number;
  deliveryStatus: Record<string, DeliveryStatus>;
}

async function submissionsOf(ctx: MethodContext): Promise<Map<string, SubmissionRecord>> {
  const stored = await ctx.app.store.listObjects(ctx.account.id, SUBMISSION_TYPE);
  return new Map(stored.map((o) => [toJmapId("object", o.id), JSON.parse(o.data)]));
}

/** The delivery status with what the queue knows now (see the module notes). */
function liveStatus(
  record: SubmissionRecord,
  queued: QueuedMessage | null,
): Record<string, DeliveryStatus> {
  const status: Record<string, DeliveryStatus> = {};
  for (const [address, last] of Object.entries(record.deliveryStatus)) {
    const recipient = queued?.recipients.find((r) =>
      r.address.toLowerCase() === address.toLowerCase()
    );
    if (!recipient) {
      status[address] = last.delivered === "queued" ? { ...last, delivered: "unknown" } : last;
      continue;
    }
    status[address] = {
      smtpReply: recipient.lastReply ?? last.smtpReply,
      delivered: recipient.status === "delivered"
        ? "yes"
        : recipient.status === "failed"
        ? "no"
        : "queued",
      displayed: "unknown",
    };
  }
  return status;
}

function toObject(id: string, record: SubmissionRecord, queued: QueuedMessage | null): Args {
  return {
    id,
    identityId: record.identityId,
    emailId: record.emailId,
    threadId: record.threadId,
    envelope: record.envelope,
    sendAt: record.sendAt,
    undoStatus: record.undoStatus,
    deliveryStatus: liveStatus(record, queued),
    dsnBlobIds: [],
    mdnBlobIds: [],
  };
}

async function get(args: Args, ctx: MethodContext): Promise<Args> {
  const { ids, properties } = readGetArgs(args, ctx);
  const selected = selectProperties(properties, PROPERTIES);
  const state = await currentState(ctx);
  const submissions = await submissionsOf(ctx);
  const list: Args[] = [];
  const notFound: string[] = [];
  for (const id of ids ?? submissions.keys()) {
    const record = submissions.get(id);
    if (!record) {
      notFound.push(id);
      continue;
    }
    const queued = selected.includes("deliveryStatus")
      ? await ctx.app.store.getQueued(record.queueId)
      : null;
    list.push(pick(toObject(id, record, queued), selected));
  }
  return { accountId: ctx.accountId, state, list, notFound };
}

async function changes(args: Args, ctx: MethodContext): Promise<Args> {
  return await changesResponse(args, ctx, [SUBMISSION_TYPE], (n) => toJmapId("object", n));
}

// ---- /query ----

function idList(value: unknown, name: string): string[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) {
    fail(`${name} must be a list of ids`);
  }
  return value as string[];
}

function dateOf(value: unknown, name: string): number {
  const time = typeof value === "string" ? Date.parse(value) : NaN;
  if (Number.isNaN(time)) fail(`${name} must be a UTCDate`);
  return time;
}

function matches(id: string, record: SubmissionRecord, condition: Args): boolean {
  for (const [key, value] of Object.entries(condition)) {
    switch (key) {
      case "identityIds":
        if (!idList(value, key).includes(record.identityId)) return false;
        break;
      case "emailIds":
        if (!idList(value, key).includes(record.emailId)) return false;
        break;
      case "threadIds":
        if (!idList(value, key).includes(record.threadId)) return false;
        break;
      case "undoStatus":
        if (typeof value !== "string") fail("undoStatus must be a string");
        if (record.undoStatus !== value) return false;
        break;
      case "before":
        if (!(Date.parse(record.sendAt) < dateOf(value, key))) return false;
        break;
      case "after":
        if (!(Date.parse(record.sendAt) >= dateOf(value, key))) return false;
        break;
      default:
        throw new MethodError("unsupportedFilter", `unknown filter ${key} (on ${id})`);
    }
  }
  return true;
}

const SORT_KEYS: Record<string, (record: SubmissionRecord) => string | number> = {
  emailId: (r) => fromJmapId("email", r.emailId) ?? 0,
  threadId: (r) => fromJmapId("thread", r.threadId) ?? 0,
  sentAt: (r) => Date.parse(r.sendAt),
};

async function queryIds(args: Args, ctx: MethodContext): Promise<string[]> {
  const filter = args.filter ?? null;
  if (filter !== null && !isPlainObject(filter)) fail("filter must be an object");
  const comparators = readComparators(args.sort, Object.keys(SORT_KEYS));
  const all = [...(await submissionsOf(ctx)).entries()];
  const kept = filter
    ? all.filter(([id, r]) => evaluateFilter(filter, (c) => matches(id, r, c)))
    : all;
  const rowOf = (id: string) => fromJmapId("object", id) ?? 0;
  kept.sort(([a, x], [b, y]) => {
    for (const { property, isAscending } of comparators) {
      const p = SORT_KEYS[property](x);
      const q = SORT_KEYS[property](y);
      if (p !== q) return (p < q ? -1 : 1) * (isAscending === false ? -1 : 1);
    }
    return rowOf(a) - rowOf(b);
  });
  return kept.map(([id]) => id);
}

async function query(args: Args, ctx: MethodContext): Promise<Args> {
  return await standardQuery(args, ctx, () => queryIds(args, ctx));
}

async function queryChanges(args: Args, ctx: MethodContext): Promise<Args> {
  return await queryChangesOf(args, ctx, {
    types: [SUBMISSION_TYPE],
    toId: (n) => toJmapId("object", n),
    extra: [],
    current: () => queryIds(args, ctx),
  });
}

// ---- /set ----

const ADDRESS = /^[^\s<>@,;:"()[\]\\]+@[^\s<>@,;:"()[\]\\]+$/;

function readAddress(value: unknown, property: string): Address {
  if (!isPlainObject(value) || typeof value.email !== "string") {
    throw invalidProperties([property], "an Address is {email, parameters}");
  }
  const parameters = value.parameters ?? null;
  if (parameters !== null && (!isPlainObject(parameters) || Object.keys(parameters).length > 0)) {
    // submissionExtensions is empty: no SMTP parameters are offered (RFC 8621 7).
    throw invalidProperties([property], "no SMTP parameters are supported");
  }
  return { email: value.email, parameters: null };
}

function readEnvelope(value: unknown): Envelope {
  if (!isPlainObject(value) || !Array.isArray(value.rcptTo)) {
    throw invalidProperties(["envelope"], "an Envelope is {mailFrom, rcptTo}");
  }
  return {
    mailFrom: readAddress(value.mailFrom, "envelope"),
    rcptTo: value.rcptTo.map((r) => readAddress(r, "envelope")),
  };
}

/** The message bytes without Bcc fields (RFC 8621 7.5: "the server MUST remove any Bcc"). */
function withoutBcc(raw: Uint8Array): Uint8Array {
  const spans = scanFieldSpans(raw, 0, raw.length);
  const decoder = new TextDecoder("latin1");
  const drop = spans.filter((s) =>
    decoder.decode(raw.subarray(s.start, s.nameEnd)).toLowerCase() === "bcc"
  );
  if (drop.length === 0) return raw;
  const parts: Uint8Array[] = [];
  let at = 0;
  for (const span of drop) {
    parts.push(raw.subarray(at, span.start));
    at = span.end;
  }
  parts.push(raw.subarray(at));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function utcDate(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

async function createSubmission(
  ctx: MethodContext,
  object: Args,
): Promise<{ id: string; properties: Args }> {
  for (const key of Object.keys(object)) {
    if (!["identityId", "emailId", "envelope"].includes(key)) {
      throw invalidProperties([key], `${key} cannot be set on create`);
    }
  }
  const identityId = typeof object.identityId === "string"
    ? resolveCreationId(ctx, object.identityId)
    : null;
  const identity = identityId ? (await identitiesOf(ctx)).get(identityId) : undefined;
  if (!identityId || !identity) throw invalidProperties(["identityId"], "no such identity");
  const emailId = typeof object.emailId === "string"
    ? resolveCreationId(ctx, object.emailId)
    : null;
  const emailRow = emailId ? fromJmapId("email", emailId) : null;
  const [email] = emailRow === null
    ? []
    : await ctx.app.store.jmapEmails(ctx.account.id, [emailRow]);
  if (!emailId || !email) throw invalidProperties(["emailId"], "no such email");

  // The From field: one address, the identity's (RFC 8621 7.5 forbiddenFrom).
  if (email.from.length !== 1) {
    throw new SetFailure({
      type: "invalidEmail",
      properties: ["from"],
      description: "the email needs exactly one From address",
    });
  }
  if (email.from[0].email.toLowerCase() !== identity.email.toLowerCase()) {
    throw new SetFailure({
      type: "forbiddenFrom",
      description: `From ${email.from[0].email} is not the identity's address ${identity.email}`,
    });
  }

  let envelope: Envelope;
  const given = object.envelope ?? null;
  if (given !== null) {
    envelope = readEnvelope(given);
    if (!(await ownsSender(ctx.app.directory, ctx.account, envelope.mailFrom.email))) {
      throw new SetFailure({
        type: "forbiddenMailFrom",
        description: `${envelope.mailFrom.email} is not an address of this account`,
      });
    }
  } else {
    // RFC 8621 7.5: Sender, else From; the identity's address when that one is not allowed.
    const candidate = (email.sender[0] ?? email.from[0]).email;
    const mailFrom = candidate.toLowerCase() === identity.email.toLowerCase() ||
        await ownsSender(ctx.app.directory, ctx.account, candidate)
      ? candidate
      : identity.email;
    const seen = new Set<string>();
    const rcptTo: Address[] = [];
    for (const address of [...email.to, ...email.cc, ...email.bcc]) {
      const key = address.email.toLowerCase();
      if (address.email === "" || seen.has(key)) continue;
      seen.add(key);
      rcptTo.push({ email: address.email, parameters: null });
    }
    envelope = { mailFrom: { email: mailFrom, parameters: null }, rcptTo };
  }
  if (envelope.rcptTo.length === 0) {
    throw new SetFailure({ type: "noRecipients", description: "the envelope has no recipients" });
  }
  const maxRecipients = ctx.app.loaded.config.smtp.max_recipients;
  if (envelope.rcptTo.length > maxRecipients) {
    throw new SetFailure({ type: "tooManyRecipients", maxRecipients });
  }
  const invalid = envelope.rcptTo.map((r) => r.email).filter((a) => !ADDRESS.test(a));
  if (invalid.length > 0) {
    throw new SetFailure({ type: "invalidRecipients", invalidRecipients: invalid });
  }
  if (!ctx.queue) {
    throw new SetFailure({ type: "forbiddenToSend", description: "this server cannot send mail" });
  }

  const raw = await ctx.app.blobs.get(email.blobHash);
  const prepared = await prepareSubmission({
    directory: ctx.app.directory,
    log,
    account: ctx.account,
    hostname: ctx.app.loaded.config.server.hostname,
    session: `jmap-${ctx.callId}`,
  }, withoutBcc(raw));
  if (!prepared.ok) {
    throw new SetFailure({ type: "forbiddenFrom", description: prepared.reply });
  }
  const queued = await ctx.queue.enqueue({
    sender: envelope.mailFrom.email,
    recipients: envelope.rcptTo.map((r) => ({ address: r.email })),
    message: prepared.message,
    source: ctx.account.address,
  });
  // The spam filter learns the correspondents and that the message replied to is wanted.
  void ctx.app.spam?.trainer.noteSent(
    ctx.account.id,
    envelope.rcptTo.map((r) => r.email),
    prepared.message,
  );
  const deliveryStatus: Record<string, DeliveryStatus> = {};
  for (const r of envelope.rcptTo) {
    deliveryStatus[r.email] = {
      smtpReply: "250 2.0.0 queued",
      delivered: "queued",
      displayed: "unknown",
    };
  }
  const record: SubmissionRecord = {
    identityId,
    emailId,
    threadId: toJmapId("thread", email.threadId),
    envelope,
    sendAt: utcDate(new Date()),
    undoStatus: "final",
    queueId: queued.id,
    deliveryStatus,
  };
  const { id } = await ctx.app.store.putObject(
    ctx.account.id,
    SUBMISSION_TYPE,
    null,
    JSON.stringify(record),
  );
  log.info("submission queued", {
    account: ctx.account.address,
    email: emailId,
    queue_id: queued.id,
    recipients: envelope.rcptTo.length,
  });
  return {
    id: toJmapId("object", id),
    properties: {
      threadId: record.threadId,
      sendAt: record.sendAt,
      undoStatus: record.undoStatus,
      deliveryStatus,
      dsnBlobIds: [],
      mdnBlobIds: [],
      ...(given === null ? { envelope } : {}),
    },
  };
}

async function set(args: Args, ctx: MethodContext): Promise<Args> {
  const onUpdate = args.onSuccessUpdateEmail ?? null;
  if (onUpdate !== null && !isPlainObject(onUpdate)) fail("onSuccessUpdateEmail must be an object");
  const onDestroy = args.onSuccessDestroyEmail ?? null;
  if (
    onDestroy !== null &&
    (!Array.isArray(onDestroy) || onDestroy.some((id) => typeof id !== "string"))
  ) {
    fail("onSuccessDestroyEmail must be a list of ids");
  }
  const store = ctx.app.store;
  const accountId = ctx.account.id;
  /** Submission id → its email, for every submission this call created, updated or destroyed. */
  const succeeded = new Map<string, string>();
  let changed = false;
  const find = async (id: string) => {
    const rowId = fromJmapId("object", id);
    const record = rowId === null ? undefined : (await submissionsOf(ctx)).get(id);
    if (rowId === null || !record) throw new SetFailure({ type: "notFound" });
    return { rowId, record };
  };
  const response = await standardSet(args, ctx, {
    create: async (_creationId, object) => {
      const created = await createSubmission(ctx, object);
      succeeded.set(created.id, (await find(created.id)).record.emailId);
      changed = true;
      return created;
    },
    update: async (id, patch) => {
      const { record } = await find(id);
      const current = toObject(id, record, null);
      for (const [key, value] of Object.entries(patch)) {
        if (key === "undoStatus") {
          if (value === "canceled") {
            throw new SetFailure({
              type: "cannotUnsend",
              description: "the message was already handed to the outbound queue",
            });
          }
          if (value !== record.undoStatus) throw invalidProperties(["undoStatus"]);
          continue;
        }
        if (!(PROPERTIES as readonly string[]).includes(key)) {
          throw invalidProperties([key], `unknown property ${key}`);
        }
        if (JSON.stringify(value) !== JSON.stringify(current[key])) {
          throw invalidProperties([key], `${key} cannot be changed`);
        }
      }
      succeeded.set(id, record.emailId);
      return null;
    },
    destroy: async (id) => {
      const { rowId, record } = await find(id);
      await store.deleteObject(accountId, SUBMISSION_TYPE, rowId);
      succeeded.set(id, record.emailId);
      changed = true;
    },
    done: async () => {
      if (!changed) return;
      ctx.app.bus.publish({
        accountId,
        types: [SUBMISSION_TYPE],
        modseq: await store.accountModseq(accountId),
      });
    },
  }, ["onSuccessUpdateEmail", "onSuccessDestroyEmail"]);

  // RFC 8621 7.5: keys are submission ids, "#creationId" for one created in this call.
  const emailOf = (key: string): string | undefined => {
    const id = key.startsWith("#") ? ctx.createdIds.get(key.slice(1)) : key;
    const created = key.startsWith("#") &&
      Object.hasOwn((response.created ?? {}) as Args, key.slice(1));
    return id !== undefined && (created || !key.startsWith("#")) ? succeeded.get(id) : undefined;
  };
  const update: Args = {};
  for (const [key, patch] of Object.entries(onUpdate ?? {})) {
    const emailId = emailOf(key);
    if (emailId) update[emailId] = patch;
  }
  const destroy = [...new Set((onDestroy as string[] | null ?? []).map(emailOf))]
    .filter((id): id is string => id !== undefined);
  if (Object.keys(update).length > 0 || destroy.length > 0) {
    await ctx.call("Email/set", {
      accountId: ctx.accountId,
      ...(Object.keys(update).length > 0 ? { update } : {}),
      ...(destroy.length > 0 ? { destroy } : {}),
    });
  }
  return response;
}

const submissionMethods: Record<string, MethodSpec> = {
  "EmailSubmission/get": { capability: SUBMISSION, handler: get },
  "EmailSubmission/changes": { capability: SUBMISSION, handler: changes },
  "EmailSubmission/query": { capability: SUBMISSION, handler: query },
  "EmailSubmission/queryChanges": { capability: SUBMISSION, handler: queryChanges },
  "EmailSubmission/set": { capability: SUBMISSION, handler: set },
};

export const capabilities: Capability[] = [
  {
    urn: SUBMISSION,
    session: () => ({}),
    account: () => ({ maxDelayedSend: 0, submissionExtensions: {} }),
  },
  { urn: VACATION, session: () => ({}), account: () => ({}) },
];

export const methods: Record<string, MethodSpec> = {
  ...identityMethods,
  ...submissionMethods,
  ...vacationMethods,
};
