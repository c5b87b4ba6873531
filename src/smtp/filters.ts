/**
 * Content filters on inbound mail, run between acceptance (end of DATA) and filing: the spam
 * filter and Sieve plug in here. Each sees the message as it will be stored (with our trace and
 * Authentication-Results headers), and may add header fields, send the local copies to a
 * special mailbox, or refuse the message.
 *
 * Implementation notes:
 * - Filters run in order; the first refusal ends the run, and the message is neither delivered
 *   nor queued. The first filter to name a mailbox wins (DMARC quarantine comes before any).
 * - A filter that throws is logged and skipped: a broken filter never loses mail.
 */
import type { Logger } from "../observability/log.ts";
import type { MailboxRole } from "../store/types.ts";
import type { AccountVerdict } from "../mail/deliver.ts";

export interface FilterInput {
  message: Uint8Array;
  /** Envelope sender; "" for the null reverse-path. */
  sender: string;
  recipients: string[];
  /** The local accounts the recipients reach (aliases expanded), each once. */
  accountIds: number[];
  remoteAddress: string;
  helo: string;
  /** True for authenticated submission. */
  authenticated: boolean;
}

export interface FilterVerdict {
  /** Header fields to add on top (each ending in CRLF), e.g. X-Spam-Status. */
  headers?: string;
  /** Lower-cased names of header fields to remove from the message first (forged ones). */
  removeFields?: string[];
  /** File the local copies into each account's mailbox with this role (e.g. "junk"). */
  mailboxRole?: MailboxRole;
  /** Refuse the message with this SMTP reply. */
  reject?: { code: number; enhanced: string; text: string };
  /** Per recipient account (by id): its own mailbox and spam score, over `mailboxRole`. */
  accounts?: Map<number, AccountVerdict>;
}

export interface InboundFilter {
  name: string;
  check(input: FilterInput): Promise<FilterVerdict>;
}

export interface FilterOutcome {
  headers: string;
  removeFields: string[];
  mailboxRole?: MailboxRole;
  reject?: { code: number; enhanced: string; text: string; filter: string };
  accounts?: Map<number, AccountVerdict>;
}

export async function runFilters(
  filters: readonly InboundFilter[],
  input: FilterInput,
  log: Logger,
): Promise<FilterOutcome> {
  const outcome: FilterOutcome = { headers: "", removeFields: [] };
  for (const filter of filters) {
    let verdict: FilterVerdict;
    try {
      verdict = await filter.check(input);
    } catch (error) {
      log.error("filter failed; message passed on unfiltered by it", {
        filter: filter.name,
        error: error instanceof Error ? error : String(error),
      });
      continue;
    }
    if (verdict.reject) return { ...outcome, reject: { ...verdict.reject, filter: filter.name } };
    if (verdict.headers) outcome.headers += verdict.headers;
    outcome.removeFields.push(...verdict.removeFields ?? []);
    outcome.mailboxRole ??= verdict.mailboxRole;
    for (const [id, account] of verdict.accounts ?? []) {
      outcome.accounts ??= new Map();
      const earlier = outcome.accounts.get(id);
      outcome.accounts.set(id, {
        mailboxRole: earlier?.mailboxRole ?? account.mailboxRole,
        spam: earlier?.spam ?? account.spam,
      });
    }
  }
  return outcome;
}
