/**
 * Local delivery: resolve recipients through the directory, parse once, store once per account.
 * Used by SMTP (port 25 and submission), the outbound queue for local recipients, `postern
 * deliver` and the control socket. Each account that got the message may answer it with its
 * vacation reply (vacation.ts), started here and never awaited: it cannot fail or delay delivery.
 * An account with an active Sieve script has its message placed by the script (sieve/deliver.ts).
 */
import type { Directory, Recipients } from "../directory/directory.ts";
import { IngestError, type MessagePath, type ParsedMessage } from "./ingest.ts";
import type { Account, MailboxRole } from "../store/types.ts";
import { logger } from "../observability/log.ts";
import { messagesDelivered } from "../observability/metrics.ts";
import { sendVacationReply } from "./vacation.ts";
import { deliverWithSieve } from "../sieve/deliver.ts";

const log = logger("delivery");

/** A filter's decision for one recipient account (the spam filter's per-account verdict). */
export interface AccountVerdict {
  /** File into the mailbox with this role instead of the message-wide one. */
  mailboxRole?: MailboxRole;
  /** The spam score for Sieve's spamtest (1..10) and spamtestplus (percent). */
  spam?: { score: number; percent: number };
}

export type RecipientResult =
  | { recipient: string; status: "delivered"; account: string; emailId: number; uid: number }
  | { recipient: string; status: "failed"; code: string; error: string };

export async function deliverLocal(
  path: MessagePath,
  directory: Directory,
  raw: Uint8Array,
  recipients: string[],
  /** File into each account's mailbox with this role (e.g. "junk"); absent or missing: INBOX. */
  mailboxRole?: MailboxRole,
  /** `directory.resolveRecipient` of each recipient, when the caller already asked. */
  resolutions?: (Recipients | null)[],
  /** Per-account decisions of the filters, by account id. */
  verdicts?: ReadonlyMap<number, AccountVerdict>,
): Promise<RecipientResult[]> {
  let parsed: ParsedMessage;
  try {
    parsed = path.prepare(raw);
  } catch (error) {
    if (!(error instanceof IngestError)) throw error;
    return recipients.map((recipient) => ({
      recipient,
      status: "failed",
      code: error.code,
      error: error.message,
    }));
  }
  // Resolve every recipient first, so that two recipients reaching one account (an alias and
  // the account itself) give one copy, as in Dovecot's LMTP.
  const resolved = resolutions ??
    await Promise.all(recipients.map((r) => directory.resolveRecipient(r)));
  const outcomes = new Map<number, Promise<RecipientResult>>();
  for (const [index, entry] of resolved.entries()) {
    for (const account of entry?.accounts ?? []) {
      if (!outcomes.has(account.id)) {
        const verdict = verdicts?.get(account.id);
        // DMARC quarantine (the message-wide role) wins over a per-account ham verdict.
        const role = mailboxRole === "junk" ? mailboxRole : verdict?.mailboxRole ?? mailboxRole;
        const outcome = commitFor(
          path,
          directory,
          parsed,
          account,
          recipients[index],
          role,
          verdict?.spam,
        );
        outcome.then((result) => {
          if (result.status === "delivered") messagesDelivered.inc({ destination: "local" });
          // Mail filed as junk gets no reply: answering spam is backscatter.
          if (result.status !== "delivered" || role === "junk") return;
          const { store, blobs } = path;
          void sendVacationReply({ store, blobs, directory, account, message: parsed });
        }, () => {});
        outcomes.set(account.id, outcome);
      }
    }
  }
  return await Promise.all(recipients.map(async (recipient, index): Promise<RecipientResult> => {
    const entry = resolved[index];
    if (!entry || entry.accounts.length === 0) {
      return {
        recipient,
        status: "failed",
        code: "unknown_recipient",
        error: entry
          ? "forwarding to external addresses needs the outbound queue"
          : `no such recipient ${recipient}`,
      };
    }
    // A recipient expanding to several accounts is delivered when all of them are.
    const results = await Promise.all(entry.accounts.map((a) => outcomes.get(a.id)!));
    const failed = results.find((r) => r.status === "failed");
    return { ...(failed ?? results[0]), recipient };
  }));
}

async function commitFor(
  path: MessagePath,
  directory: Directory,
  parsed: ParsedMessage,
  account: Account,
  envelopeTo: string,
  mailboxRole?: MailboxRole,
  spam?: { score: number; percent: number },
): Promise<RecipientResult> {
  try {
    const script = path.sieve ? await path.sieve.scriptFor(account.id) : null;
    if (script && path.sieve) {
      // The account's Sieve script decides where the message goes (src/sieve/deliver.ts).
      const stored = await deliverWithSieve({
        path,
        directory,
        account,
        parsed,
        envelopeTo,
        script,
        limits: path.sieve.limits,
        defaultRole: mailboxRole,
        spam,
      });
      return {
        recipient: account.address,
        status: "delivered",
        account: account.address,
        emailId: stored?.id ?? 0,
        uid: stored?.memberships[0]?.uid ?? 0,
      };
    }
    let mailboxIds: number[] | undefined;
    if (mailboxRole && mailboxRole !== "inbox") {
      const mailbox = (await path.store.listMailboxes(account.id, { counts: false })).find((m) =>
        m.role === mailboxRole
      );
      if (mailbox) mailboxIds = [mailbox.id];
      else {log.warn("no mailbox with role, filing into INBOX", {
          account: account.address,
          role: mailboxRole,
        });}
    }
    const stored = await path.commit(parsed, { accountId: account.id, mailboxIds });
    log.info("delivered", {
      account: account.address,
      email: stored.id,
      uid: stored.memberships[0]?.uid,
      size: stored.size,
      message_id: parsed.messageId,
    });
    return {
      recipient: account.address,
      status: "delivered",
      account: account.address,
      emailId: stored.id,
      uid: stored.memberships[0]?.uid ?? 0,
    };
  } catch (error) {
    if (!(error instanceof IngestError)) throw error;
    log.info("delivery refused", {
      account: account.address,
      code: error.code,
      error: error.message,
    });
    return { recipient: account.address, status: "failed", code: error.code, error: error.message };
  }
}
