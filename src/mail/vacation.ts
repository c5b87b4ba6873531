/**
 * The vacation responder (RFC 3834, JMAP VacationResponse of RFC 8621 8): after a message is
 * delivered to an account whose VacationResponse is enabled, one automatic reply per sender per
 * period goes to the envelope sender through the outbound queue.
 *
 * Implementation notes:
 * - Nothing here may fail or slow a delivery: deliver.ts starts `sendVacationReply` without
 *   waiting, and every error ends as a log line.
 * - The envelope sender is the Return-Path field the SMTP server and the queue put on top of
 *   every local delivery; a message without one (CLI deliver, the control socket) gets no reply.
 * - The reply goes out with the null reverse-path (RFC 3834 3.3), so it can never be bounced or
 *   answered by another responder, and is DKIM-signed like any submission.
 * - Who was answered is a store object of type "VacationSent" per account: sender → time, entries
 *   older than the period dropped on write. Checks for one account run one at a time, so two
 *   messages from one sender arriving together give one reply. VacationResponse/set drops the
 *   list, so a new absence answers everyone again.
 * - The queue is reached through `useVacationOutbox`, which the server calls at start-up. A
 *   process without a running queue (`postern deliver` beside a running server) writes the reply
 *   to the queue tables directly; the server's worker sends it on its next pass.
 */
import type { Directory } from "../directory/directory.ts";
import type { Account, Store } from "../store/types.ts";
import type { BlobStore } from "../store/blobs.ts";
import { sha256Hex } from "../store/blobs.ts";
import type { ParsedMessage } from "./ingest.ts";
import { parseHeaderFields, unfold } from "./headers.ts";
import { parseAddressList } from "./address.ts";
import { logger } from "../observability/log.ts";
import { prepareSubmission } from "../smtp/submission_message.ts";
import { rfc5322Date } from "../smtp/received.ts";
import { composeMessage, encodeText, formatAddress } from "./compose.ts";
import { htmlToText } from "./html.ts";
import { ownsSender } from "../smtp/submission_auth.ts";
import type { EnqueueInput } from "../smtp/outbound/queue.ts";

const log = logger("vacation");

/** Store object types: the JMAP singleton and the list of senders answered. */
export const VACATION_TYPE = "VacationResponse";
export const VACATION_SENT_TYPE = "VacationSent";

/** One reply per sender in this long (RFC 3834 5.1 suggests 7 days; Sieve vacation's default). */
export const REPLY_PERIOD_MS = 7 * 24 * 60 * 60 * 1000;
/** The [queue] expire default, used only when no queue registered (see the module notes). */
const FALLBACK_EXPIRE_MS = 5 * 24 * 60 * 60 * 1000;
/** Addresses of To/Cc/Bcc looked up in the directory; a header with more is not personal mail. */
const MAX_ADDRESS_LOOKUPS = 50;

/** VacationResponse (RFC 8621 8.1) without its id. */
export interface VacationSettings {
  isEnabled: boolean;
  /** UTCDate or null. */
  fromDate: string | null;
  toDate: string | null;
  subject: string | null;
  textBody: string | null;
  htmlBody: string | null;
}

export const VACATION_DEFAULTS: VacationSettings = {
  isEnabled: false,
  fromDate: null,
  toDate: null,
  subject: null,
  textBody: null,
  htmlBody: null,
};

/** The account's VacationResponse and its store id (null when never set). */
export async function readVacation(
  store: Store,
  accountId: number,
): Promise<{ id: number | null; settings: VacationSettings }> {
  const [stored] = await store.listObjects(accountId, VACATION_TYPE);
  if (!stored) return { id: null, settings: { ...VACATION_DEFAULTS } };
  return { id: stored.id, settings: { ...VACATION_DEFAULTS, ...JSON.parse(stored.data) } };
}

// ---- the decision (RFC 3834 2) ----

/** What the decision needs of an incoming message. */
export interface IncomingMessage {
  /** The envelope sender: "" for the null reverse-path, null when unknown. */
  returnPath: string | null;
  /** Header fields as [lower-case name, unfolded value]. */
  fields: [string, string][];
}

export type ReplyDecision = { reply: true } | { reply: false; reason: string };

const LIST_FIELDS = [
  "list-id",
  "list-unsubscribe",
  "list-subscribe",
  "list-post",
  "list-help",
  "list-owner",
  "list-archive",
];
const ADDRESSED_FIELDS = ["to", "cc", "bcc", "resent-to", "resent-cc", "resent-bcc"];

/**
 * Whether a message deserves an automatic reply (RFC 3834 2), given the settings, the time and
 * which addresses are the recipient's own. The sent-list check comes after, in the store.
 *
 * @example
 * shouldReply(settings, { returnPath: "", fields: [] }, new Date(), () => false)
 * // { reply: false, reason: "null return path" }
 */
export function shouldReply(
  settings: VacationSettings,
  message: IncomingMessage,
  now: Date,
  isOwnAddress: (address: string) => boolean,
): ReplyDecision {
  const no = (reason: string): ReplyDecision => ({ reply: false, reason });
  if (!settings.isEnabled) return no("disabled");
  if (settings.fromDate && now.getTime() < Date.parse(settings.fromDate)) return no("not yet");
  if (settings.toDate && now.getTime() >= Date.parse(settings.toDate)) return no("period over");
  const sender = message.returnPath;
  if (sender === null || sender === "" || !sender.includes("@")) return no("null return path");
  const field = (name: string) => message.fields.filter(([n]) => n === name).map(([, v]) => v);
  // RFC 3834 2 and 5: anything automatic, except Auto-Submitted: no.
  for (const value of field("auto-submitted")) {
    if (value.split(";")[0].trim().toLowerCase() !== "no") return no("auto-submitted");
  }
  // RFC 2369 / RFC 2919 list fields, and the Precedence of list software (RFC 3834 2).
  if (LIST_FIELDS.some((name) => field(name).length > 0)) return no("mailing list");
  for (const value of field("precedence")) {
    if (["bulk", "list", "junk"].includes(value.trim().toLowerCase())) return no("precedence");
  }
  if (isAutomaticService(sender)) return no("automatic service");
  if (isOwnAddress(sender)) return no("own address");
  const addressed = ADDRESSED_FIELDS.flatMap(field).flatMap((v) => parseAddressList(v))
    .some((a) => a.email !== "" && isOwnAddress(a.email));
  if (!addressed) return no("not addressed to the recipient");
  return { reply: true };
}

/** MAILER-DAEMON, LISTSERV, majordomo, owner-*, *-request (RFC 3834 2). */
export function isAutomaticService(address: string): boolean {
  const local = address.slice(0, address.lastIndexOf("@")).toLowerCase();
  return ["mailer-daemon", "listserv", "majordomo"].includes(local) ||
    local.startsWith("owner-") || local.endsWith("-request");
}

/** The envelope sender from the Return-Path field on top; null when the top field is another. */
export function returnPathOf(fields: [string, string][]): string | null {
  if (fields.length === 0 || fields[0][0] !== "return-path") return null;
  const value = fields[0][1].trim();
  const match = /^<([^>]*)>$/.exec(value);
  return match ? match[1].trim() : null;
}

// ---- sending ----

/** The outbound queue as this module uses it. */
export interface VacationOutbox {
  enqueue(input: EnqueueInput): Promise<unknown>;
}

interface Registered {
  outbox: VacationOutbox;
  hostname: string;
}

const outboxes = new WeakMap<Store, Registered>();

/** Tells the responder which queue sends replies for mail stored in `store`. */
export function useVacationOutbox(store: Store, outbox: VacationOutbox, hostname: string): void {
  outboxes.set(store, { outbox, hostname });
}

export interface VacationInput {
  store: Store;
  blobs: BlobStore;
  directory: Directory;
  account: Account;
  message: ParsedMessage;
  now?: Date;
}

const chains = new Map<number, Promise<unknown>>();

/** Sends the account's vacation reply to the message if it deserves one; never throws. */
export async function sendVacationReply(input: VacationInput): Promise<boolean> {
  const accountId = input.account.id;
  const previous = chains.get(accountId) ?? Promise.resolve();
  const run = previous.then(() => replyOnce(input)).catch((error) => {
    log.warn("vacation reply failed", {
      account: input.account.address,
      error: error instanceof Error ? error : String(error),
    });
    return false;
  });
  chains.set(accountId, run);
  try {
    return await run;
  } finally {
    if (chains.get(accountId) === run) chains.delete(accountId);
  }
}

async function replyOnce(input: VacationInput): Promise<boolean> {
  const { store, account, message } = input;
  const fields = parseHeaderFields(message.raw, message.mime.headerStart, message.mime.headerEnd)
    .map((f): [string, string] => [f.name.toLowerCase(), unfold(f.raw)]);
  const returnPath = returnPathOf(fields);
  // Most deliveries stop here without a store read: bounces, CLI deliveries.
  if (!returnPath) return false;
  const { settings } = await readVacation(store, account.id);
  if (!settings.isEnabled) return false;
  const now = input.now ?? new Date();
  const own = await ownAddresses(input.directory, account, returnPath, fields);
  const decision = shouldReply(settings, { returnPath, fields }, now, (a) => own.has(lower(a)));
  if (!decision.reply) {
    log.debug("no vacation reply", { account: account.address, reason: decision.reason });
    return false;
  }
  const sender = lower(returnPath!);
  const [sentObject] = await store.listObjects(account.id, VACATION_SENT_TYPE);
  const sent: Record<string, number> = sentObject ? JSON.parse(sentObject.data).senders ?? {} : {};
  const last = sent[sender];
  if (last !== undefined && now.getTime() - last < REPLY_PERIOD_MS) {
    log.debug("no vacation reply", { account: account.address, reason: "already answered" });
    return false;
  }
  const kept: Record<string, number> = {};
  for (const [address, at] of Object.entries(sent)) {
    if (now.getTime() - at < REPLY_PERIOD_MS) kept[address] = at;
  }
  kept[sender] = now.getTime();
  // Remembered before sending: a failed send is not retried by the next message (no storms).
  await store.putObject(
    account.id,
    VACATION_SENT_TYPE,
    sentObject?.id ?? null,
    JSON.stringify({ senders: kept }),
  );
  const hostname = automaticHostname(store, account);
  const reply = buildReply(settings, account, returnPath!, message, fields, now);
  const prepared = await prepareSubmission({
    directory: input.directory,
    log,
    account,
    hostname,
    session: "vacation",
  }, reply);
  if (!prepared.ok) throw new Error(`reply refused: ${prepared.reply}`);
  const queued: EnqueueInput = {
    sender: "",
    recipients: [{ address: returnPath! }],
    message: prepared.message,
    source: "vacation",
  };
  await enqueueAutomatic(input, queued, now);
  log.info("vacation reply queued", { account: account.address, to: returnPath });
  return true;
}

/** The addresses among the sender and To/Cc/Bcc that reach this account, lower-case. */
async function ownAddresses(
  directory: Directory,
  account: Account,
  returnPath: string | null,
  fields: [string, string][],
): Promise<Set<string>> {
  const candidates = new Set<string>();
  if (returnPath) candidates.add(lower(returnPath));
  for (const [name, value] of fields) {
    if (!ADDRESSED_FIELDS.includes(name)) continue;
    for (const address of parseAddressList(value)) {
      if (address.email.includes("@")) candidates.add(lower(address.email));
    }
  }
  const own = new Set<string>([lower(account.address)]);
  let lookups = 0;
  for (const address of candidates) {
    if (own.has(address)) continue;
    if (++lookups > MAX_ADDRESS_LOOKUPS) break;
    if (await ownsSender(directory, account, address)) own.add(address);
  }
  return own;
}

function lower(address: string): string {
  return address.toLowerCase();
}

/** The reply (RFC 3834 3): headers, then a text or text+HTML body in base64. */
export function buildReply(
  settings: VacationSettings,
  account: Account,
  to: string,
  original: ParsedMessage,
  fields: [string, string][],
  now: Date,
): Uint8Array {
  const subject = settings.subject ?? `Auto: ${original.subject}`;
  const headers: [string, string][] = [
    [
      "From",
      account.displayName
        ? formatAddress({ name: account.displayName, email: account.address })
        : `<${account.address}>`,
    ],
    ["To", `<${to}>`],
    ["Subject", encodeText(subject)],
    ["Date", rfc5322Date(now)],
    ["Auto-Submitted", "auto-replied"],
    ["Precedence", "bulk"],
  ];
  const originalId = fields.find(([name]) => name === "message-id")?.[1].trim();
  if (originalId && /^<[^<>\s]+>$/.test(originalId)) {
    const references = fields.find(([name]) => name === "references")?.[1].trim();
    headers.push(["In-Reply-To", originalId]);
    headers.push(["References", `${references ? `${references} ` : ""}${originalId}`]);
  }
  const text = settings.textBody ??
    (settings.htmlBody !== null
      ? htmlToText(settings.htmlBody)
      : `I am away and will read your message "${original.subject}" when I am back.\n`);
  const plain = { type: "text/plain", text };
  return composeMessage(
    headers,
    settings.htmlBody === null ? plain : {
      type: "multipart/alternative",
      parts: [plain, { type: "text/html", text: settings.htmlBody }],
    },
  );
}

/**
 * Queues a message the server sends on its own (vacation and Sieve replies, redirects): through
 * the registered queue, or straight into its tables when none is (the worker sends it on its next
 * pass).
 */
export async function enqueueAutomatic(
  input: { store: Store; blobs: BlobStore },
  queued: EnqueueInput,
  now = new Date(),
): Promise<void> {
  const registered = outboxes.get(input.store);
  if (registered) await registered.outbox.enqueue(queued);
  else await enqueueDirectly(input, queued, now);
}

/** The hostname replies are signed and sent as (the registered one, or the account's domain). */
export function automaticHostname(store: Store, account: Account): string {
  return outboxes.get(store)?.hostname ?? account.address.slice(account.address.indexOf("@") + 1);
}

/** Writes the reply into the queue tables (no queue registered); sent on the worker's next pass. */
async function enqueueDirectly(
  input: { store: Store; blobs: BlobStore },
  queued: EnqueueInput,
  now: Date,
) {
  const hash = sha256Hex(queued.message);
  const known = await input.store.blobKnown(hash);
  if (!known) await input.blobs.put(hash, queued.message);
  await input.store.enqueue({
    blobHash: hash,
    blobWritten: !known,
    size: queued.message.length,
    returnPath: "",
    envelopeId: null,
    ret: null,
    body: "7BIT",
    smtputf8: false,
    requireTls: false,
    source: queued.source,
    arrivedAt: now,
    expiresAt: new Date(now.getTime() + FALLBACK_EXPIRE_MS),
    recipients: queued.recipients.map((r) => ({ address: r.address, notify: [], orcpt: null })),
  });
}
