/**
 * In-memory copies JMAP keeps per account, shared by every request of the process: the email
 * listing Email/query filters and sorts (id, thread, date, size, keywords, mailboxes) and the
 * mailbox counts. Each is tagged with the account modseq it reflects and caught up from the
 * change log when the modseq moved, whoever made the change (IMAP, SMTP, another node).
 *
 * Implementation notes:
 * - Entries are never changed in place: a refresh builds new entry objects and a new array, so
 *   a query that holds the old listing keeps a consistent picture.
 * - Bounded by total emails (least recently used accounts go first); one larger account stays
 *   alone.
 * - Concurrent refreshes of one account share one promise.
 */
import type { EmailListEntry, MailboxCounts, Store } from "../store/types.ts";

export interface AccountListing {
  modseq: number;
  /** In id order (= arrival order). */
  entries: EmailListEntry[];
  byId: Map<number, EmailListEntry>;
}

/** A larger batch of changes than this reloads the whole listing instead. */
const MAX_INCREMENTAL = 20_000;

export class JmapCaches {
  #listings = new Map<number, AccountListing>();
  #loading = new Map<number, Promise<AccountListing>>();
  #counts = new Map<number, { modseq: number; counts: Map<number, MailboxCounts> }>();

  constructor(readonly store: Store, readonly maxEmails = 500_000) {}

  /** The account's listing as of now. */
  async listing(accountId: number): Promise<AccountListing> {
    const pending = this.#loading.get(accountId);
    if (pending) return await pending;
    const work = this.#refresh(accountId).finally(() => this.#loading.delete(accountId));
    this.#loading.set(accountId, work);
    return await work;
  }

  async #refresh(accountId: number): Promise<AccountListing> {
    const modseq = await this.store.accountModseq(accountId);
    const cached = this.#listings.get(accountId);
    if (cached && cached.modseq === modseq) {
      this.#touch(accountId, cached);
      return cached;
    }
    let listing: AccountListing | null = null;
    if (cached && cached.modseq < modseq) {
      const changes = await this.store.changesOfTypes(
        accountId,
        ["Email"],
        cached.modseq,
        MAX_INCREMENTAL + 1,
      );
      if (changes.length <= MAX_INCREMENTAL) {
        const changed = new Set<number>();
        const destroyed = new Set<number>();
        let upTo = cached.modseq;
        for (const change of changes) {
          if (change.change === "destroyed") destroyed.add(change.objectId);
          else changed.add(change.objectId);
          upTo = Math.max(upTo, change.modseq);
        }
        const fresh = await this.store.emailListing(accountId, [...changed]);
        const byId = new Map(cached.byId);
        for (const id of destroyed) byId.delete(id);
        for (const id of changed) byId.delete(id);
        for (const entry of fresh) byId.set(entry.id, entry);
        const entries = [...byId.values()].sort((a, b) => a.id - b.id);
        // Changes committed after accountModseq was read are picked up next time.
        listing = { modseq: Math.max(upTo, modseq), entries, byId };
      }
    }
    if (!listing) {
      const entries = await this.store.emailListing(accountId);
      listing = { modseq, entries, byId: new Map(entries.map((entry) => [entry.id, entry])) };
    }
    this.#touch(accountId, listing);
    return listing;
  }

  #touch(accountId: number, listing: AccountListing) {
    this.#listings.delete(accountId);
    this.#listings.set(accountId, listing);
    let total = 0;
    for (const entry of this.#listings.values()) total += entry.entries.length;
    for (const [id, entry] of this.#listings) {
      if (total <= this.maxEmails || id === accountId) break;
      this.#listings.delete(id);
      total -= entry.entries.length;
    }
  }

  /** Mailbox id → counts (RFC 8621 2), recomputed only when the account changed. */
  async mailboxCounts(accountId: number): Promise<Map<number, MailboxCounts>> {
    const modseq = await this.store.accountModseq(accountId);
    const cached = this.#counts.get(accountId);
    if (cached && cached.modseq === modseq) return cached.counts;
    const counts = new Map(
      (await this.store.mailboxCounts(accountId)).map((count) => [count.mailboxId, count]),
    );
    this.#counts.delete(accountId);
    this.#counts.set(accountId, { modseq, counts });
    if (this.#counts.size > 256) this.#counts.delete(this.#counts.keys().next().value!);
    return counts;
  }
}
