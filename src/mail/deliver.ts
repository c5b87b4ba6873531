/**
 * Local delivery: resolve recipients through the directory, parse once, store for each account.
 * Used by `postern deliver`, the control socket, and (later) SMTP and LMTP.
 */
import type { Directory } from "../directory/directory.ts";
import { IngestError, type MessagePath } from "./ingest.ts";

export type RecipientResult =
  | { recipient: string; status: "delivered"; account: string; emailId: number; uid: number }
  | { recipient: string; status: "failed"; code: string; error: string };

export async function deliverLocal(
  path: MessagePath,
  directory: Directory,
  raw: Uint8Array,
  recipients: string[],
): Promise<RecipientResult[]> {
  let parsed;
  try {
    parsed = await path.prepare(raw);
  } catch (error) {
    if (error instanceof IngestError) {
      return recipients.map((recipient) => ({
        recipient,
        status: "failed",
        code: error.code,
        error: error.message,
      }));
    }
    throw error;
  }
  const delivered = new Map<number, RecipientResult>();
  return await Promise.all(recipients.map(async (recipient): Promise<RecipientResult> => {
    const resolved = await directory.resolveRecipient(recipient);
    if (!resolved || resolved.accounts.length === 0) {
      return {
        recipient,
        status: "failed",
        code: "unknown_recipient",
        error: resolved
          ? "forwarding to external addresses needs the outbound queue"
          : `no such recipient ${recipient}`,
      };
    }
    let last: RecipientResult | null = null;
    for (const account of resolved.accounts) {
      // Two recipients resolving to one account get one copy, as in Dovecot's LMTP.
      const already = delivered.get(account.id);
      if (already) {
        last = { ...already, recipient };
        continue;
      }
      try {
        const stored = await path.commit(parsed, { accountId: account.id });
        last = {
          recipient,
          status: "delivered",
          account: account.address,
          emailId: stored.id,
          uid: stored.memberships[0]?.uid ?? 0,
        };
        delivered.set(account.id, last);
      } catch (error) {
        if (!(error instanceof IngestError)) throw error;
        last = { recipient, status: "failed", code: error.code, error: error.message };
      }
    }
    return last!;
  }));
}
