/**
 * Delivery through a Sieve script: runs the account's active script on a parsed message and
 * carries out the outcome — stores through the message path, redirects, rejections, vacation
 * replies and notifications through the outbound queue.
 *
 * Implementation notes:
 * - Copies with the same flags are one stored email in several mailboxes (JMAP's model); copies
 *   with different flags are separate emails, since keywords belong to the email.
 * - fileinto a mailbox that does not exist stores into the default mailbox instead (logged),
 *   unless `:create` (RFC 5490 3.2) creates it: a typo never loses mail.
 * - Redirects keep the envelope sender (RFC 5228 4.2) and add "X-Loop: <account>"; a message
 *   that already carries our X-Loop for this account is not redirected again (loop broken,
 *   kept instead).
 * - Automatic messages (reject notices, vacation, notify) leave with the null reverse-path
 *   (RFC 3834 3.3, RFC 5429 2.1) and never go to a null, automatic or own sender.
 * - Any failure while carrying out an action is logged; if nothing was stored, the message is
 *   stored in the default mailbox, so a broken script or action never loses mail.
 */
import type { Directory } from "../directory/directory.ts";
import type { MessagePath, ParsedMessage } from "../mail/ingest.ts";
import type { Account, MailboxRole, StoredEmail } from "../store/types.ts";
import { decodeEncodedWords, parseHeaderFields, unfold } from "../mail/headers.ts";
import { matchAny } from "./match.ts";
import { logger } from "../observability/log.ts";
import { latin1 } from "../mail/charset.ts";
import { composeMessage, encodeText } from "../mail/compose.ts";
import { keywordOf } from "../imap/flags.ts";
import {
  automaticHostname,
  buildReply,
  enqueueAutomatic,
  isAutomaticService,
  returnPathOf,
  shouldReply,
} from "../mail/vacation.ts";
import { prepareSubmission } from "../smtp/submission_message.ts";
import { rfc5322Date } from "../smtp/received.ts";
import type { Script } from "./ast.ts";
import { sha256Hex } from "../store/blobs.ts";
import {
  type FileInto,
  type IncludedScript,
  runSieve,
  type SieveLimits,
  type SieveOutcome,
} from "./interpret.ts";
import { fromJmapId } from "../jmap/ids.ts";

const log = logger("sieve");
const SENT_TYPE = "SieveVacationSent";
/** duplicate (RFC 7352): one JSON object per account, SHA-256 of handle and id → expiry (ms). */
const DUPLICATE_TYPE = "SieveDuplicate";
/** Mailbox roles and their special-use attributes (RFC 6154 2, RFC 8579). */
const SPECIAL_USE: Partial<Record<MailboxRole, string>> = {
  sent: "\\Sent",
  drafts: "\\Drafts",
  junk: "\\Junk",
  trash: "\\Trash",
  archive: "\\Archive",
};

export interface SieveDelivery {
  path: MessagePath;
  directory: Directory;
  account: Account;
  parsed: ParsedMessage;
  /** The envelope recipient that reached this account. */
  envelopeTo: string;
  script: {
    name: string;
    script: Script;
    requires: ReadonlySet<string>;
    /** Personal scripts for include (RFC 6609), loaded by SieveRuntime.scriptFor. */
    includes?: ReadonlyMap<string, IncludedScript>;
  };
  limits: SieveLimits;
  /** The mailbox role for keep (spam verdict); inbox when absent. */
  defaultRole?: MailboxRole;
  /** The spam filter's score for spamtest/spamtestplus; absent: not tested. */
  spam?: { score: number; percent: number };
  now?: Date;
}

/** Runs the script and carries out its outcome; returns the first stored email, if any. */
export async function deliverWithSieve(input: SieveDelivery): Promise<StoredEmail | null> {
  const { path, account, parsed } = input;
  const now = input.now ?? new Date();
  const fields = parseHeaderFields(parsed.raw, parsed.mime.headerStart, parsed.mime.headerEnd)
    .map((f): [string, string] => [f.name.toLowerCase(), unfold(f.raw).trim()]);
  const returnPath = returnPathOf(fields);
  const mailboxes = await path.store.listMailboxes(account.id, { counts: false });
  const byPath = new Map(mailboxes.map((m) => [m.role === "inbox" ? "INBOX" : m.path, m.id]));
  const inbox = mailboxes.find((m) => m.role === "inbox")!.id;
  const fallback = mailboxes.find((m) => m.role === (input.defaultRole ?? "inbox"))?.id ?? inbox;
  const resolve = (name: string) => byPath.get(name.toUpperCase() === "INBOX" ? "INBOX" : name);
  const byId = new Set(mailboxes.map((m) => m.id));
  const attributesOf = (id: number | undefined) => {
    const role = mailboxes.find((m) => m.id === id)?.role;
    return role && SPECIAL_USE[role] ? [SPECIAL_USE[role]] : [];
  };
  const byAttribute = (attribute: string) =>
    mailboxes.find((m) => m.role && SPECIAL_USE[m.role]?.toLowerCase() === attribute.toLowerCase())
      ?.id;
  // RFC 9042 3 and RFC 8579 4: the mailbox with that id, else the one with that special-use
  // attribute, else the one named.
  const resolveTarget = (target: FileInto) => {
    const id = target.mailboxId === null ? null : fromJmapId("mailbox", target.mailboxId);
    if (id !== null && byId.has(id)) return id;
    const special = target.specialUse === null ? undefined : byAttribute(target.specialUse);
    return special ?? resolve(target.mailbox);
  };
  const seen = input.script.requires.has("duplicate") ? await loadDuplicates(input, now) : null;
  const outcome = runSieve(
    input.script.script,
    {
      raw: parsed.raw,
      mime: parsed.mime,
      envelope: { from: returnPath ?? "", to: input.envelopeTo },
      mailboxExists: (name) => resolve(name) !== undefined,
      specialUseOf: (name) => attributesOf(resolve(name)),
      specialUseExists: (attribute) => byAttribute(attribute) !== undefined,
      include: (name) => input.script.includes?.get(name) ?? null,
      mailboxIdExists: (id) => byId.has(fromJmapId("mailbox", id) ?? -1),
      items: { domain: account.address.split("@")[1], name: "Postern", "phase": "during" },
      now,
      duplicate: (id) => (seen?.ids[duplicateKey(id)] ?? 0) > now.getTime(),
      spam: input.spam ?? null,
    },
    input.limits,
    input.script.requires,
  );
  for (const error of outcome.errors) {
    log.warn("sieve script failed; message kept", {
      account: account.address,
      script: input.script.name,
      error,
    });
  }
  let first: StoredEmail | null = null;
  try {
    first = await store(input, outcome, resolveTarget, fallback);
  } catch (error) {
    log.error("sieve: storing failed", { account: account.address, error });
  }
  await Promise.all([
    redirect(input, outcome, returnPath, fields),
    reject(input, outcome, returnPath, fields, now),
    vacation(input, outcome, returnPath, fields, now),
    notify(input, outcome, now),
  ].map((work) =>
    work.catch((error) => log.error("sieve action failed", { account: account.address, error }))
  ));
  if (seen && outcome.errors.length === 0 && outcome.duplicates.length) {
    await recordDuplicates(input, outcome, seen, now).catch((error) =>
      log.error("sieve: recording duplicate ids failed", { account: account.address, error })
    );
  }
  if (!first && outcome.errors.length === 0 && storedNothingOnPurpose(outcome)) return null;
  if (!first) {
    // Whatever happened, the message is not lost.
    first = await path.commit(parsed, { accountId: account.id, mailboxIds: [fallback] });
  }
  return first;
}

interface SeenIds {
  objectId: number | null;
  ids: Record<string, number>;
}

const duplicateKey = (id: string) => sha256Hex(new TextEncoder().encode(id));

async function loadDuplicates(input: SieveDelivery, now: Date): Promise<SeenIds> {
  const [object] = await input.path.store.listObjects(input.account.id, DUPLICATE_TYPE);
  const ids: Record<string, number> = object ? JSON.parse(object.data) : {};
  for (const [key, expiry] of Object.entries(ids)) {
    if (expiry <= now.getTime()) delete ids[key];
  }
  return { objectId: object?.id ?? null, ids };
}

/**
 * RFC 7352 3: after a successful run, each tested id is recorded until now + its period; an id
 * already listed keeps its expiry unless the test said :last (the period then counts from this
 * message). Expired ids are dropped on every write.
 */
async function recordDuplicates(
  input: SieveDelivery,
  outcome: SieveOutcome,
  seen: SeenIds,
  now: Date,
): Promise<void> {
  for (const tracked of outcome.duplicates) {
    const key = duplicateKey(tracked.id);
    if (seen.ids[key] !== undefined && !tracked.last) continue;
    seen.ids[key] = now.getTime() + tracked.seconds * 1000;
  }
  await input.path.store.putObject(
    input.account.id,
    DUPLICATE_TYPE,
    seen.objectId,
    JSON.stringify(seen.ids),
  );
}

/** discard, reject or redirect without :copy: nothing to store, by the script's choice. */
function storedNothingOnPurpose(outcome: SieveOutcome): boolean {
  return outcome.keep === null && outcome.fileinto.length === 0;
}

async function store(
  input: SieveDelivery,
  outcome: SieveOutcome,
  resolve: (target: FileInto) => number | undefined,
  fallback: number,
): Promise<StoredEmail | null> {
  const { path, account } = input;
  // flags (sorted keywords) → mailbox ids
  const groups = new Map<string, Set<number>>();
  const add = (mailboxId: number, flags: string[]) => {
    const keywords = [...new Set(flags.map((f) => keywordOf(f).toLowerCase()))].sort();
    const key = keywords.join(" ");
    if (!groups.has(key)) groups.set(key, new Set());
    groups.get(key)!.add(mailboxId);
  };
  if (outcome.keep) add(fallback, outcome.keep.flags);
  for (const target of outcome.fileinto) {
    let mailboxId = resolve(target);
    if (mailboxId === undefined && target.create) {
      try {
        mailboxId = (await path.store.createMailbox(account.id, target.mailbox)).id;
        log.info("sieve created mailbox", { account: account.address, mailbox: target.mailbox });
      } catch (error) {
        log.warn("sieve could not create mailbox", {
          account: account.address,
          mailbox: target.mailbox,
          error,
        });
      }
    }
    if (mailboxId === undefined) {
      log.warn("sieve fileinto a missing mailbox; stored in the default one", {
        account: account.address,
        mailbox: target.mailbox,
      });
      mailboxId = fallback;
    }
    add(mailboxId, target.flags);
  }
  if (groups.size === 0) return null;
  const message = outcome.headerEdits.length || outcome.replacement
    ? path.prepare(editedMessage(input, outcome))
    : input.parsed;
  let first: StoredEmail | null = null;
  for (const [key, mailboxIds] of groups) {
    const stored = await path.commit(message, {
      accountId: account.id,
      mailboxIds: [...mailboxIds],
      keywords: key ? key.split(" ") : [],
    });
    log.info("delivered by sieve", {
      account: account.address,
      email: stored.id,
      mailboxes: stored.memberships.length,
      script: input.script.name,
    });
    first ??= stored;
  }
  return first;
}

/** The message with the script's header edits applied (RFC 5293), as bytes. */
/** The message as the script left it: replace/enclose (RFC 5703), then header edits. */
function editedMessage(input: SieveDelivery, outcome: SieveOutcome): Uint8Array {
  const base = outcome.replacement ? input.path.prepare(outcome.replacement) : input.parsed;
  return outcome.headerEdits.length ? applyHeaderEdits(base.raw, base, outcome) : base.raw;
}

export function applyHeaderEdits(
  raw: Uint8Array,
  parsed: ParsedMessage,
  outcome: SieveOutcome,
): Uint8Array {
  // One char per octet both ways, so 8-bit header bytes pass through unchanged.
  const header = latin1(raw.subarray(0, parsed.mime.headerEnd));
  const body = raw.subarray(parsed.mime.headerEnd);
  // Fields as raw text including folded lines.
  const lines = header.split("\r\n");
  const fields: string[] = [];
  for (const line of lines) {
    if (line === "") continue;
    if (/^[ \t]/.test(line) && fields.length) fields[fields.length - 1] += `\r\n${line}`;
    else fields.push(line);
  }
  const nameOf = (field: string) => field.slice(0, field.indexOf(":")).trim().toLowerCase();
  for (const edit of outcome.headerEdits) {
    if ("add" in edit) {
      const line = `${edit.add.name}: ${encodeText(edit.add.value)}`;
      if (edit.add.last) fields.push(line);
      else fields.unshift(line);
    } else {
      const name = edit.delete.name.toLowerCase();
      const matching = fields.map((f, i) => ({ f, i })).filter(({ f }) => nameOf(f) === name);
      const chosen = edit.delete.index === null ? matching : [
        edit.delete.last
          ? matching[matching.length - edit.delete.index]
          : matching[edit.delete.index - 1],
      ].filter(Boolean);
      const doomed = new Set(
        chosen.filter(({ f }) =>
          edit.delete.values === null ||
          matchAny(
              [decodeEncodedWords(unfold(f.slice(f.indexOf(":") + 1)).trim())],
              edit.delete.values,
              edit.delete.match,
            ) !== null
        ).map(({ i }) => i),
      );
      for (let i = fields.length - 1; i >= 0; i--) if (doomed.has(i)) fields.splice(i, 1);
    }
  }
  const text = fields.join("\r\n") + "\r\n\r\n";
  const head = Uint8Array.from(text, (c) => c.charCodeAt(0) & 0xff);
  const out = concat(head, body);
  return out;
}

function ownAddress(input: SieveDelivery, address: string): boolean {
  const lower = address.toLowerCase();
  return lower === input.account.address.toLowerCase() ||
    lower === input.envelopeTo.toLowerCase();
}

async function redirect(
  input: SieveDelivery,
  outcome: SieveOutcome,
  returnPath: string | null,
  fields: [string, string][],
): Promise<void> {
  if (outcome.redirects.length === 0) return;
  const loop = fields.some(([name, value]) =>
    name === "x-loop" && value.toLowerCase() === input.account.address.toLowerCase()
  );
  if (loop) {
    log.warn("sieve redirect loop broken; message kept", { account: input.account.address });
    await input.path.commit(input.parsed, { accountId: input.account.id });
    return;
  }
  const message = concat(
    new TextEncoder().encode(`X-Loop: ${input.account.address}\r\n`),
    outcome.headerEdits.length || outcome.replacement
      ? editedMessage(input, outcome)
      : input.parsed.raw,
  );
  for (const target of outcome.redirects) {
    await enqueueAutomatic(input.path, {
      sender: returnPath ?? "",
      recipients: [{ address: target.address }],
      message,
      source: `sieve:${input.account.address}`,
    });
    log.info("sieve redirect queued", { account: input.account.address, to: target.address });
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Whether an automatic message may go to `sender` at all (RFC 3834 2). */
function mayAnswer(input: SieveDelivery, sender: string | null): sender is string {
  return !!sender && sender.includes("@") && !isAutomaticService(sender) &&
    !ownAddress(input, sender);
}

async function sendAutomatic(input: SieveDelivery, to: string, message: Uint8Array, what: string) {
  const prepared = await prepareSubmission({
    directory: input.directory,
    log,
    account: input.account,
    hostname: automaticHostname(input.path.store, input.account),
    session: `sieve-${what}`,
  }, message);
  if (!prepared.ok) throw new Error(`${what} refused: ${prepared.reply}`);
  await enqueueAutomatic(input.path, {
    sender: "",
    recipients: [{ address: to }],
    message: prepared.message,
    source: `sieve-${what}`,
  });
  log.info(`sieve ${what} queued`, { account: input.account.address, to });
}

async function reject(
  input: SieveDelivery,
  outcome: SieveOutcome,
  returnPath: string | null,
  fields: [string, string][],
  now: Date,
): Promise<void> {
  if (!outcome.reject || !mayAnswer(input, returnPath)) return;
  // The Subject field as received (it may hold encoded words already; decoded for re-encoding).
  const subject = decodeEncodedWords(fields.find(([n]) => n === "subject")?.[1] ?? "");
  const message = composeMessage([
    ["From", `<${input.account.address}>`],
    ["To", `<${returnPath}>`],
    ["Subject", encodeText(`Rejected: ${subject}`)],
    ["Date", rfc5322Date(now)],
    ["Auto-Submitted", "auto-replied (rejected)"],
  ], {
    type: "text/plain",
    text: `Your message to ${input.envelopeTo} was rejected:\n\n${outcome.reject.reason}\n`,
  });
  await sendAutomatic(input, returnPath, message, "reject");
}

async function vacation(
  input: SieveDelivery,
  outcome: SieveOutcome,
  returnPath: string | null,
  fields: [string, string][],
  now: Date,
): Promise<void> {
  const settings = outcome.vacation;
  if (!settings) return;
  const own = new Set([
    input.account.address.toLowerCase(),
    input.envelopeTo.toLowerCase(),
    ...settings.addresses.map((a) => a.toLowerCase()),
  ]);
  const decision = shouldReply(
    {
      isEnabled: true,
      fromDate: null,
      toDate: null,
      subject: settings.subject,
      textBody: settings.reason,
      htmlBody: null,
    },
    { returnPath, fields },
    now,
    (address) => own.has(address.toLowerCase()),
  );
  if (!decision.reply) {
    log.debug("no sieve vacation reply", { account: input.account.address, why: decision.reason });
    return;
  }
  // Once per sender and handle per period (RFC 5230 4.2); the list lives in the store.
  const store = input.path.store;
  const key = `${settings.handle ?? settings.reason}\u0000${returnPath!.toLowerCase()}`;
  const [sentObject] = await store.listObjects(input.account.id, SENT_TYPE);
  const sent: Record<string, number> = sentObject ? JSON.parse(sentObject.data) : {};
  const last = sent[key];
  if (last !== undefined && now.getTime() - last < settings.period * 1000) return;
  const kept: Record<string, number> = {};
  for (const [k, at] of Object.entries(sent)) {
    if (now.getTime() - at < 30 * 86_400_000) kept[k] = at;
  }
  kept[key] = now.getTime();
  await store.putObject(input.account.id, SENT_TYPE, sentObject?.id ?? null, JSON.stringify(kept));
  const reply = buildReply(
    {
      isEnabled: true,
      fromDate: null,
      toDate: null,
      subject: settings.subject,
      textBody: settings.reason,
      htmlBody: null,
    },
    input.account,
    returnPath!,
    input.parsed,
    fields,
    now,
  );
  await sendAutomatic(input, returnPath!, reply, "vacation");
}

/** A mailto URI's recipients and subject (RFC 6068 2), or null when it is not one. */
export function parseMailto(
  uri: string,
): { to: string[]; cc: string[]; subject: string | null } | null {
  const match = /^mailto:([^?]*)(?:\?(.*))?$/is.exec(uri.trim());
  if (!match) return null;
  const decode = (text: string) => {
    try {
      return decodeURIComponent(text);
    } catch {
      return text;
    }
  };
  const list = (text: string) => text.split(",").map((a) => decode(a).trim()).filter(Boolean);
  const result = { to: list(match[1]), cc: [] as string[], subject: null as string | null };
  for (const pair of (match[2] ?? "").split("&")) {
    const eq = pair.indexOf("=");
    if (eq < 0) continue;
    const name = decode(pair.slice(0, eq)).toLowerCase();
    const value = pair.slice(eq + 1);
    if (name === "to") result.to.push(...list(value));
    else if (name === "cc") result.cc.push(...list(value));
    else if (name === "subject") result.subject = decode(value);
  }
  return result;
}

/**
 * enotify mailto (RFC 5436): one notice to each To and Cc recipient of the URI (never the
 * account itself), the URI's subject or :message as Subject; From is always the account (a
 * script's :from is not trusted to name another sender).
 */
async function notify(input: SieveDelivery, outcome: SieveOutcome, now: Date): Promise<void> {
  for (const notification of outcome.notifications) {
    const mailto = parseMailto(notification.method);
    if (!mailto) continue;
    const recipients = [...mailto.to, ...mailto.cc].filter((to) =>
      to.includes("@") && !ownAddress(input, to)
    );
    if (recipients.length === 0) continue;
    const subject = input.parsed.subject;
    const title = mailto.subject ?? notification.message ?? `New mail: ${subject}`;
    const headers: [string, string][] = [
      ["From", `<${input.account.address}>`],
      ["To", mailto.to.map((a) => `<${a}>`).join(", ") || "undisclosed-recipients:;"],
      ...(mailto.cc.length
        ? [["Cc", mailto.cc.map((a) => `<${a}>`).join(", ")] as [string, string]]
        : []),
      ["Subject", encodeText(title)],
      ["Date", rfc5322Date(now)],
      ["Auto-Submitted", "auto-notified"],
    ];
    const bytes = composeMessage(headers, {
      type: "text/plain",
      text: `New mail for ${input.account.address}: ${subject}\n`,
    });
    for (const to of recipients) await sendAutomatic(input, to, bytes, "notify");
  }
}
