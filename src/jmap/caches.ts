/**
 * In-memory copies JMAP keeps per account, shared by every request of the process: the email
 * listing Email/query filters and sorts (id, thread, date, size, keywords, mailboxes) and the
 * mailbox counts. Each is tagged with the account modseq it reflects and caught up from the
 * change log when the modseq moved, whoever made the change (IMAP, SMTP, another node).
 *
 * Implementation notes:
 * - A refresh replaces the entries of updated emails in place and builds new arrays only for
 *   creations and destructions; the sort orders (by date and size, which never change for an
 *   email) are patched rather than rebuilt. Entry objects themselves are never changed.
 * - Bounded by total emails (least recently used accounts go first); one larger account stays
 *   alone.
 * - Concurrent refreshes of one account share one promise.
 */
import type { EmailListEntry, MailboxCounts, Store } from "../store/types.ts";

export type SortKey = "receivedAt" | "sentAt" | "size";

export interface AccountListing {
  modseq: number;
  /** In id order (= arrival order). */
  entries: EmailListEntry[];
  byId: Map<number, EmailListEntry>;
  /**
   * Email ids ordered by (key, id) ascending, built on first use. The keys never change for an
   * email, so an order survives keyword and mailbox changes and is patched for creations and
   * destructions.
   */
  orders: Map<SortKey, number[]>;
}

/** A larger batch of changes than this reloads the whole listing instead. */
const MAX_INCREMENTAL = 20_000;

function sortKey(entry: EmailListEntry, key: SortKey): number {
  return key === "sentAt" ? entry.sentAt ?? entry.receivedAt : entry[key];
}

/** The listing's ids in `key` order (ascending, ties by id). */
export function sortedIds(listing: AccountListing, key: SortKey): number[] {
  let ids = listing.orders.get(key);
  if (!ids) {
    const entries = listing.entries.slice().sort((a, b) =>
      sortKey(a, key) - sortKey(b, key) || a.id - b.id
    );
    ids = entries.map((entry) => entry.id);
    listing.orders.set(key, ids);
  }
  return ids;
}

const idOrdered = new WeakMap<number[], boolean>();

/**
 * Whether the listing's receivedAt order is its id order (mail stored as it arrived; an import
 * with older dates breaks it): then "newest first" can follow ids, e.g. the full-text index's.
 */
export function receivedInIdOrder(listing: AccountListing): boolean {
  const order = sortedIds(listing, "receivedAt");
  let known = idOrdered.get(order);
  if (known === undefined) {
    known = order.every((id, i) => id === listing.entries[i]?.id);
    idOrdered.set(order, known);
  }
  return known;
}

/** Index of the first entry whose id is >= `id` in an id-ordered array. */
function lowerBound(entries: EmailListEntry[], id: number): number {
  let low = 0;
  let high = entries.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (entries[mid].id < id) low = mid + 1;
    else high = mid;
  }
  return low;
}

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
        listing = await this.#apply(accountId, cached, changes, modseq);
      }
    }
    if (!listing) {
      const entries = await this.store.emailListing(accountId);
      listing = {
        modseq,
        entries,
        byId: new Map(entries.map((entry) => [entry.id, entry])),
        orders: new Map(),
      };
    }
    this.#touch(accountId, listing);
    return listing;
  }

  /**
   * Catches a listing up. Updated entries are replaced in place (a query running meanwhile may
   * see some of them new: the same as a read racing a write); creations and destructions get new
   * arrays.
   */
  async #apply(
    accountId: number,
    cached: AccountListing,
    changes: { modseq: number; objectId: number; change: string }[],
    modseq: number,
  ): Promise<AccountListing> {
    const changed = new Set<number>();
    const destroyed = new Set<number>();
    let upTo = cached.modseq;
    for (const change of changes) {
      if (change.change === "destroyed") destroyed.add(change.objectId);
      else changed.add(change.objectId);
      upTo = Math.max(upTo, change.modseq);
    }
    const fresh = await this.store.emailListing(accountId, [...changed]);
    const { byId } = cached;
    let { entries } = cached;
    const created: EmailListEntry[] = [];
    for (const entry of fresh) {
      destroyed.delete(entry.id);
      if (byId.has(entry.id)) {
        const index = lowerBound(entries, entry.id);
        if (entries[index]?.id === entry.id) entries[index] = entry;
      } else {
        created.push(entry);
      }
      byId.set(entry.id, entry);
    }
    const removed = new Set<number>();
    for (const id of destroyed) if (byId.delete(id)) removed.add(id);
    const orders = cached.orders;
    if (created.length > 0 || removed.size > 0) {
      created.sort((a, b) => a.id - b.id);
      entries = removed.size ? entries.filter((entry) => !removed.has(entry.id)) : entries.slice();
      if (created.length && entries.length && created[0].id < entries[entries.length - 1].id) {
        entries = entries.concat(created).sort((a, b) => a.id - b.id);
      } else {
        for (const entry of created) entries.push(entry);
      }
      for (const [key, ids] of orders) {
        const kept = removed.size ? ids.filter((id) => !removed.has(id)) : ids.slice();
        if (created.length > 1000) {
          orders.delete(key);
          continue;
        }
        for (const entry of created) {
          const value = sortKey(entry, key);
          let low = 0;
          let high = kept.length;
          while (low < high) {
            const mid = (low + high) >>> 1;
            const other = byId.get(kept[mid])!;
            const otherValue = sortKey(other, key);
            if (otherValue < value || (otherValue === value && other.id < entry.id)) low = mid + 1;
            else high = mid;
          }
          kept.splice(low, 0, entry.id);
        }
        orders.set(key, kept);
      }
    }
    return { modseq: Math.max(upTo, modseq), entries, byId, orders };
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

  /**
   * Mailbox id → counts (RFC 8621 2), from the listing in one pass, recomputed only when the
   * account changed. Unread means neither $seen nor $draft; a thread counts in a mailbox when one
   * of its emails is there (and as unread when one of those is unread).
   */
  async mailboxCounts(accountId: number): Promise<Map<number, MailboxCounts>> {
    const listing = await this.listing(accountId);
    const cached = this.#counts.get(accountId);
    if (cached && cached.modseq === listing.modseq) return cached.counts;
    const counts = new Map<number, MailboxCounts>();
    const threads = new Map<number, { all: Set<number>; unread: Set<number> }>();
    for (const entry of listing.entries) {
      const unread = !entry.keywords.includes("$seen") && !entry.keywords.includes("$draft");
      for (const mailboxId of entry.mailboxIds) {
        let count = counts.get(mailboxId);
        if (!count) {
          count = { mailboxId, totalEmails: 0, unreadEmails: 0, totalThreads: 0, unreadThreads: 0 };
          counts.set(mailboxId, count);
          threads.set(mailboxId, { all: new Set(), unread: new Set() });
        }
        count.totalEmails++;
        const seen = threads.get(mailboxId)!;
        seen.all.add(entry.threadId);
        if (unread) {
          count.unreadEmails++;
          seen.unread.add(entry.threadId);
        }
      }
    }
    for (const [mailboxId, seen] of threads) {
      const count = counts.get(mailboxId)!;
      count.totalThreads = seen.all.size;
      count.unreadThreads = seen.unread.size;
    }
    this.#counts.delete(accountId);
    this.#counts.set(accountId, { modseq: listing.modseq, counts });
    if (this.#counts.size > 256) this.#counts.delete(this.#counts.keys().next().value!);
    return counts;
  }
}
