/**
 * The inbound session's message half: reading DATA and BDAT bytes off the connection, and
 * handing an accepted message to local delivery with its trace headers.
 *
 * Implementation notes:
 * - `Connection` offers lines and exact byte counts, not "whatever arrived". DATA is therefore
 *   read in runs of at most 5 bytes, never more than the terminator still needs, so no byte
 *   after it is ever taken from the connection: pipelined commands stay for the line reader.
 *   (A `Connection.readAvailable` would make this one read per TCP segment.)
 * - BDAT chunks are read with exact counts in slices of at most `BDAT_SLICE` bytes, so a huge
 *   announced size never allocates more than one slice.
 * - Nothing is stored until the whole message is read: a client that vanishes mid-DATA leaves
 *   no email row and no blob file behind.
 * - The 250 is sent only after `deliverLocal` and the queue write resolved, i.e. after the
 *   commits (durable).
 */
import type { Connection } from "../server/connection.ts";
import type { BdatReader, DataReader } from "./wire/data.ts";
import { reply } from "./wire/reply.ts";
import { type AccountVerdict, deliverLocal, type RecipientResult } from "../mail/deliver.ts";
import type { MessagePath } from "../mail/ingest.ts";
import type { Directory, Recipients } from "../directory/directory.ts";
import type { Logger } from "../observability/log.ts";
import { prependHeaders, receivedHeader, type ReceivedInfo, returnPathHeader } from "./received.ts";
import {
  authenticateMessage,
  type AuthOptions,
  removeHeaderFields,
  stripForgedResults,
} from "./inbound_auth.ts";
import type { Account, MailboxRole } from "../store/types.ts";
import { headerFields, prepareSubmission } from "./submission_message.ts";
import type { MailParams } from "./wire/command.ts";
import type { EnvelopeRecipient } from "./outbound/client.ts";
import type { OutboundQueue } from "./outbound/queue.ts";
import type { DsnRecipient } from "./dsn.ts";
import { type InboundFilter, runFilters } from "./filters.ts";
import { messagesReceived } from "../observability/metrics.ts";

const PIECE = 64 * 1024;
const BDAT_SLICE = 64 * 1024;

/** Resets a timer each time data moves; fires once after `seconds` of silence. */
export class Watchdog {
  #timer: ReturnType<typeof setTimeout> | undefined;
  #limitMs = 0;
  #last = 0;
  fired = false;

  constructor(private readonly onFire: () => void) {}

  arm(seconds: number): void {
    this.#limitMs = seconds * 1000;
    this.#last = performance.now();
    this.#schedule(this.#limitMs);
  }

  kick(): void {
    this.#last = performance.now();
  }

  stop(): void {
    clearTimeout(this.#timer);
  }

  #schedule(ms: number): void {
    clearTimeout(this.#timer);
    if (this.#limitMs <= 0) return;
    this.#timer = setTimeout(() => {
      const idle = performance.now() - this.#last;
      if (idle >= this.#limitMs - 1) {
        this.fired = true;
        this.onFire();
      } else this.#schedule(this.#limitMs - idle);
    }, ms);
  }
}

/**
 * Reads DATA up to and including CR LF "." CR LF into `reader`; false when the connection ended
 * first. Input is taken in whatever pieces have arrived; bytes after the terminator (a
 * pipelined command) are given back to the connection.
 */
export async function readDotData(
  conn: Connection,
  reader: DataReader,
  watchdog: Watchdog,
): Promise<boolean> {
  for (;;) {
    const bytes = await conn.readAvailable(PIECE);
    if (bytes === null) return false;
    watchdog.kick();
    const result = reader.push(bytes);
    if (result.done) {
      conn.unread(bytes.subarray(result.consumed));
      return true;
    }
  }
}

/**
 * Reads one BDAT chunk of `size` octets into `reader` (or discards it when `reader` is null, for
 * a refused BDAT, RFC 3030 2); false when the connection ended first.
 */
export async function readBdatChunk(
  conn: Connection,
  reader: BdatReader | null,
  size: number,
  watchdog: Watchdog,
): Promise<boolean> {
  let remaining = size;
  while (remaining > 0) {
    const take = Math.min(remaining, BDAT_SLICE);
    const bytes = await conn.readBytes(take);
    if (bytes === null) return false;
    watchdog.kick();
    reader?.push(bytes);
    remaining -= take;
  }
  return true;
}

export interface DeliveryContext {
  messages: MessagePath;
  directory: Directory;
  log: Logger;
  /** Sender authentication (SPF, DKIM, DMARC, ARC, iprev); absent: no checks. */
  auth?: AuthOptions;
  /** Authenticated submission: the account AUTH proved (From check, Date, Message-ID, DKIM). */
  submitter?: Account;
  /** Remote recipients, external forwards and DSNs; absent: local delivery only. */
  queue?: OutboundQueue;
  /** Spam filter, Sieve: run after the checks, before anything is filed or queued. */
  filters?: readonly InboundFilter[];
  /** Received fields allowed before the message is refused as a loop; absent: no limit. */
  maxHops?: number;
  hostname: string;
}

/**
 * Runs the sender authentication checks, prepends our Received, then the checks'
 * Authentication-Results and Received-SPF (right under the Received they vouch for, as Postfix
 * with milters does); queues remote recipients and external alias targets, then delivers to
 * local accounts (with Return-Path; into Junk when DMARC says quarantine), and returns the reply
 * for the whole message.
 *
 * The queue write comes first: if it fails the client is told 451 and nothing was delivered, so
 * its retry duplicates nothing. Once anything is accepted the answer is 250, and local
 * recipients that failed get a failure DSN instead (RFC 3461), as do NOTIFY=SUCCESS ones.
 */
export async function deliverMessage(
  context: DeliveryContext,
  sender: string,
  params: MailParams,
  recipients: EnvelopeRecipient[],
  message: Uint8Array,
  trace: Omit<ReceivedInfo, "recipients" | "date">,
): Promise<{ reply: string; delivered: boolean }> {
  if (context.maxHops !== undefined) {
    const hops = headerFields(message).filter(([name]) => name === "received").length;
    if (hops >= context.maxHops) {
      context.log.info("message refused: too many hops", { session: trace.id, hops, from: sender });
      return { reply: reply(554, "5.4.6", "Too many hops, mail loop?"), delivered: false };
    }
  }
  let authHeaders = "";
  let reverseName: string | undefined;
  let mailboxRole: MailboxRole | undefined;
  let verdicts: Map<number, AccountVerdict> | undefined;
  if (context.submitter) {
    const prepared = await prepareSubmission({
      directory: context.directory,
      log: context.log,
      account: context.submitter,
      hostname: trace.hostname,
      session: trace.id,
    }, message);
    if (!prepared.ok) return { reply: prepared.reply, delivered: false };
    message = prepared.message;
  }
  if (context.auth) {
    try {
      const verdict = await authenticateMessage(context.auth, message, {
        ip: trace.remoteAddress,
        helo: trace.helo,
        sender,
      });
      if (verdict.action === "reject") {
        context.log.info("message rejected by DMARC policy", {
          session: trace.id,
          from: sender,
          domain: verdict.dmarc?.domain,
        });
        return {
          reply: reply(550, "5.7.1", `Rejected by DMARC policy of ${verdict.dmarc?.domain}`),
          delivered: false,
        };
      }
      if (verdict.action === "quarantine" && context.auth.quarantineTo === "junk") {
        mailboxRole = "junk";
      }
      authHeaders = verdict.headers;
      reverseName = verdict.reverseName;
    } catch (error) {
      // Never lose mail over an authentication-check failure: deliver without our header.
      context.log.warn("authentication checks failed", {
        session: trace.id,
        error: error instanceof Error ? error : String(error),
      });
    }
    message = stripForgedResults(message, context.auth.hostname);
  }
  const arrivedAt = new Date();
  const trail = receivedHeader({
    ...trace,
    reverseName,
    recipients: recipients.map((r) => r.address),
    date: arrivedAt,
  }) + authHeaders;
  let traced = prependHeaders(trail, message);
  const { local, resolutions, queued } = await route(context, recipients);
  if (context.filters?.length) {
    const filtered = await runFilters(context.filters, {
      message: traced,
      sender,
      recipients: recipients.map((r) => r.address),
      accountIds: [...new Set(resolutions.flatMap((r) => r?.accounts.map((a) => a.id) ?? []))],
      remoteAddress: trace.remoteAddress,
      helo: trace.helo,
      authenticated: context.submitter !== undefined,
    }, context.log);
    if (filtered.reject) {
      const { code, enhanced, text, filter } = filtered.reject;
      context.log.info("message refused by a filter", { session: trace.id, filter, from: sender });
      return { reply: reply(code, enhanced, text), delivered: false };
    }
    mailboxRole ??= filtered.mailboxRole;
    verdicts = filtered.accounts;
    if (filtered.removeFields.length > 0) {
      const names = new Set(filtered.removeFields);
      message = removeHeaderFields(message, (field) => {
        const colon = field.indexOf(":");
        return colon > 0 && names.has(field.slice(0, colon).trim().toLowerCase());
      });
    }
    // The filters' fields go under our trace fields (Received, Authentication-Results).
    traced = prependHeaders(trail + filtered.headers, message);
  }

  const queue = context.queue;
  if (queued.length > 0) {
    if (!queue) return { reply: reply(451, "4.3.0", "Cannot queue mail now"), delivered: false };
    try {
      await queue.enqueue({
        sender,
        recipients: queued,
        message: traced,
        envelopeId: params.envid ?? null,
        ret: params.ret ?? null,
        body: params.body === "7BIT" ? undefined : params.body,
        smtputf8: params.smtputf8 === true,
        requireTls: params.requireTls === true,
        source: context.submitter?.address ?? "forward",
      });
    } catch (error) {
      context.log.error("queueing failed", {
        error: error instanceof Error ? error : String(error),
      });
      return { reply: reply(451, "4.3.0", "Internal error, try again later"), delivered: false };
    }
  }

  let results: RecipientResult[] = [];
  if (local.length > 0) {
    const raw = prependHeaders(returnPathHeader(sender) + deliveredTo(local), traced);
    try {
      results = await deliverLocal(
        context.messages,
        context.directory,
        raw,
        local.map((r) => r.address),
        mailboxRole,
        resolutions,
        verdicts,
      );
    } catch (error) {
      context.log.error("delivery failed", {
        error: error instanceof Error ? error : String(error),
      });
      if (queued.length === 0) {
        return { reply: reply(451, "4.3.0", "Internal error, try again later"), delivered: false };
      }
      results = local.map((r) => ({
        recipient: r.address,
        status: "failed",
        code: "internal",
        error: "internal error",
      }));
    }
  }
  const failed = results.filter((r) => r.status === "failed");
  for (const failure of failed) {
    context.log.info("recipient failed after DATA", { ...failure });
  }
  const delivered = results.filter((r) => r.status === "delivered");
  if (delivered.length === 0 && queued.length === 0) {
    const code = failed[0]?.status === "failed" ? failed[0].code : "";
    return { reply: failureReply(code), delivered: false };
  }
  context.log.info("message accepted", {
    from: sender,
    delivered: delivered.map((r) => r.recipient),
    queued: queued.map((r) => r.address),
    size: traced.length,
  });
  if (queue) {
    await reportLocal(queue, context, sender, params, local, results, traced, arrivedAt);
  }
  messagesReceived.inc({ source: context.submitter ? "submission" : "mx" });
  return { reply: reply(250, "2.0.0", `Message accepted id ${trace.id}`), delivered: true };
}

/**
 * `Delivered-To` for a message with one local recipient, as Dovecot's LMTP does: with several,
 * the copies share one stored blob, and naming one recipient in all of them would leak it.
 */
export function deliveredTo(recipients: { address: string }[]): string {
  return recipients.length === 1 ? `Delivered-To: <${recipients[0].address}>\r\n` : "";
}

/**
 * Splits recipients into local deliveries and queue entries: remote addresses (submission
 * only gets this far with them) and the external targets of local aliases, which keep the
 * alias as their ORCPT.
 */
async function route(
  context: DeliveryContext,
  recipients: EnvelopeRecipient[],
): Promise<{
  local: EnvelopeRecipient[];
  /** The directory's answer for each of `local`, handed on to deliverLocal. */
  resolutions: (Recipients | null)[];
  queued: EnvelopeRecipient[];
}> {
  const local: EnvelopeRecipient[] = [];
  const resolutions: (Recipients | null)[] = [];
  const queued: EnvelopeRecipient[] = [];
  for (const recipient of recipients) {
    const domain = recipient.address.slice(recipient.address.lastIndexOf("@") + 1);
    if (!(await context.directory.isLocalDomain(domain))) {
      queued.push(recipient);
      continue;
    }
    const resolved = await context.directory.resolveRecipient(recipient.address);
    if (resolved === null || resolved.accounts.length > 0) {
      local.push(recipient);
      resolutions.push(resolved);
    }
    for (const target of resolved?.external ?? []) {
      if (queued.some((q) => q.address === target)) continue;
      queued.push({
        address: target,
        notify: recipient.notify,
        orcpt: recipient.orcpt ?? `rfc822;${recipient.address}`,
      });
    }
  }
  return { local, resolutions, queued };
}

/** DSNs for local recipients: failures after DATA, and deliveries asked for (NOTIFY=SUCCESS). */
async function reportLocal(
  queue: OutboundQueue,
  context: DeliveryContext,
  sender: string,
  params: MailParams,
  local: EnvelopeRecipient[],
  results: RecipientResult[],
  original: Uint8Array,
  arrivedAt: Date,
): Promise<void> {
  const failed: DsnRecipient[] = [];
  const succeeded: DsnRecipient[] = [];
  results.forEach((result, index) => {
    const recipient = local[index];
    const notify = recipient.notify;
    if (result.status === "failed") {
      if (notify.length > 0 && !notify.includes("FAILURE")) return;
      const [code, status] = result.code === "quota"
        ? [552, "5.2.2"]
        : result.code === "too_large"
        ? [552, "5.3.4"]
        : [550, "5.0.0"];
      failed.push({
        address: recipient.address,
        originalRecipient: recipient.orcpt ?? undefined,
        action: "failed",
        status,
        remoteMta: context.hostname,
        diagnostic: `${code} ${status} ${result.error}`,
      });
    } else if (notify.includes("SUCCESS")) {
      succeeded.push({
        address: recipient.address,
        originalRecipient: recipient.orcpt ?? undefined,
        action: "delivered",
        status: "2.0.0",
      });
    }
  });
  const message = {
    returnPath: sender,
    envelopeId: params.envid ?? null,
    ret: params.ret ?? null,
    arrivedAt,
    smtputf8: params.smtputf8 === true,
    original,
  };
  for (const recipients of [failed, succeeded]) {
    try {
      await queue.report(message, recipients);
    } catch (error) {
      context.log.error("could not queue a DSN", {
        error: error instanceof Error ? error : String(error),
      });
    }
  }
}

function failureReply(code: string): string {
  switch (code) {
    case "too_large":
      return reply(552, "5.3.4", "Message size exceeds fixed maximum message size");
    case "depth":
    case "parts":
    case "header_size":
      return reply(554, "5.6.0", "Message structure exceeds limits");
    case "quota":
      return reply(452, "4.2.2", "Mailbox full, try again later");
    default:
      return reply(451, "4.3.0", "Delivery failed, try again later");
  }
}
