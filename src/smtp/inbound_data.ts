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
 * - The 250 is sent only after `deliverLocal` resolved, i.e. after the commit (durable).
 */
import type { Connection } from "../server/connection.ts";
import type { BdatReader, DataReader } from "./wire/data.ts";
import { reply } from "./wire/reply.ts";
import { deliverLocal, type RecipientResult } from "../mail/deliver.ts";
import type { MessagePath } from "../mail/ingest.ts";
import type { Directory } from "../directory/directory.ts";
import type { Logger } from "../observability/log.ts";
import { receivedHeader, type ReceivedInfo, returnPathHeader } from "./received.ts";
import { authenticateMessage, type AuthOptions, stripForgedResults } from "./inbound_auth.ts";
import type { Account, MailboxRole } from "../store/types.ts";
import { prepareSubmission } from "./submission_message.ts";

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
}

/**
 * Runs the sender authentication checks, prepends Return-Path, our Received, then the checks'
 * Authentication-Results and Received-SPF (right under the Received they vouch for, as Postfix
 * with milters does), delivers to every accepted recipient (into Junk when DMARC says
 * quarantine), and returns the reply for the whole message. No DSN exists yet: when some
 * recipients fail and others succeed, the answer is 250 and the failures are only logged.
 */
export async function deliverMessage(
  context: DeliveryContext,
  sender: string,
  recipients: string[],
  message: Uint8Array,
  trace: Omit<ReceivedInfo, "recipients" | "date">,
): Promise<{ reply: string; delivered: boolean }> {
  let authHeaders = "";
  let mailboxRole: MailboxRole | undefined;
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
    } catch (error) {
      // Never lose mail over an authentication-check failure: deliver without our header.
      context.log.warn("authentication checks failed", {
        session: trace.id,
        error: error instanceof Error ? error : String(error),
      });
    }
    message = stripForgedResults(message, context.auth.hostname);
  }
  const header = new TextEncoder().encode(
    returnPathHeader(sender) + receivedHeader({ ...trace, recipients, date: new Date() }) +
      authHeaders,
  );
  const raw = new Uint8Array(header.length + message.length);
  raw.set(header);
  raw.set(message, header.length);
  let results: RecipientResult[];
  try {
    results = await deliverLocal(
      context.messages,
      context.directory,
      raw,
      recipients,
      mailboxRole,
    );
  } catch (error) {
    context.log.error("delivery failed", {
      error: error instanceof Error ? error : String(error),
    });
    return { reply: reply(451, "4.3.0", "Internal error, try again later"), delivered: false };
  }
  const failed = results.filter((r) => r.status === "failed");
  for (const failure of failed) {
    context.log.info("recipient failed after DATA", { ...failure });
  }
  if (failed.length < results.length) {
    context.log.info("message accepted", {
      from: sender,
      recipients: results.filter((r) => r.status === "delivered").map((r) => r.recipient),
      size: raw.length,
    });
    return { reply: reply(250, "2.0.0", `Message accepted id ${trace.id}`), delivered: true };
  }
  const code = failed[0]?.status === "failed" ? failed[0].code : "";
  return { reply: failureReply(code), delivered: false };
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
