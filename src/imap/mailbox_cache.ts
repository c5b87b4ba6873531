/**
 * The messages of recently used mailboxes, shared by every IMAP session of the process: what
 * Dovecot keeps in its index files. SELECT, FETCH of flags and sizes, SEARCH and the
 * selected-mailbox sync read from here instead of loading the whole mailbox from the store
 * each time, and ten sessions on one mailbox hold it once.
 *
 * Implementation notes:
 * - `current()` brings an entry up to date from the store: one row read (the mailbox's
 *   HIGHESTMODSEQ) when nothing changed; otherwise the messages changed and the UIDs expunged
 *   since the entry's modseq. It works whoever wrote (this process, `postern deliver`, another
 *   node), because every change moves the mailbox's HIGHESTMODSEQ.
 * - The mailbox row is read before the messages, so an entry is never older than its modseq
 *   says; changes made in between are applied again at the next refresh (harmless: a message
 *   is replaced by its own newer state).
 * - Entries and their messages are shared and must not be changed by their readers.
 * - Each entry keeps a log of the (modseq, UID) of recent changes, so a session catching up
 *   reads only what changed since it last looked; a session further behind than the log scans
 *   the entry.
 * - At most `maxEntries` mailboxes and `maxMessages` messages in all ([imap] cache_messages),
 *   least recently used evicted first (never the one just used); an evicted entry is loaded
 *   again on its next use. A message costs roughly 250 bytes here.
 */
import type { MailboxMessage, Store } from "../store/types.ts";

export interface CachedMailbox {
  readonly mailboxId: number;
  readonly uidValidity: number;
  readonly uidNext: number;
  /** The mailbox's HIGHESTMODSEQ when last refreshed; every change up to it is in here. */
  readonly highestModseq: number;
  /**
   * UIDs in ascending order. A refresh replaces the array rather than changing it, so a view
   * whose UIDs are the same holds this very array instead of a copy of its own.
   */
  readonly uids: readonly number[];
  readonly byUid: ReadonlyMap<number, MailboxMessage>;
  /** The last refresh that found messages expunged (its modseq), 0 if none since loading. */
  readonly expungedAt: number;
  /**
   * UIDs changed (added or flags changed) after `since`, or null when the log no longer
   * reaches back that far (then compare modseqs over `byUid`).
   */
  changedSince(since: number): number[] | null;
}

/** The mailbox was deleted (by another session, JMAP, the admin) or is not the account's. */
export class MailboxGoneError extends Error {
  constructor(readonly mailboxId: number) {
    super(`mailbox ${mailboxId} no longer exists`);
    this.name = "MailboxGoneError";
  }
}

/** Changes remembered per mailbox for sessions catching up. */
const LOG_LIMIT = 4096;

class Entry implements CachedMailbox {
  readonly mailboxId: number;
  uidValidity: number;
  uidNext = 1;
  highestModseq = 0;
  uids: number[] = [];
  byUid = new Map<number, MailboxMessage>();
  expungedAt = 0;
  /** (modseq, uid) of changes in modseq order; complete above `#logFloor`. */
  #log: { modseq: number; uid: number }[] = [];
  #logFloor = 0;
  /** A refresh under way: concurrent callers wait for it instead of reading twice. */
  refreshing: Promise<void> | null = null;

  constructor(mailboxId: number, uidValidity: number) {
    this.mailboxId = mailboxId;
    this.uidValidity = uidValidity;
  }

  load(messages: MailboxMessage[], uidNext: number, highestModseq: number): void {
    this.uids = messages.map((m) => m.uid);
    this.byUid = new Map(messages.map((m) => [m.uid, m]));
    this.uidNext = uidNext;
    this.highestModseq = highestModseq;
    this.#log = [];
    this.#logFloor = highestModseq;
  }

  apply(
    changed: MailboxMessage[],
    gone: number[],
    uidNext: number,
    highestModseq: number,
  ): void {
    const added: number[] = [];
    for (const message of changed) {
      if (!this.byUid.has(message.uid)) added.push(message.uid);
      this.byUid.set(message.uid, message);
    }
    if (added.length > 0) {
      // A new array, never a change in place: views share the old one (see `uids`).
      const last = this.uids.at(-1) ?? 0;
      const uids = [...this.uids, ...added];
      // UIDs grow with every insert, so new ones come last; sort only if one did not.
      if (added.some((uid) => uid < last)) uids.sort((a, b) => a - b);
      this.uids = uids;
    }
    if (gone.length > 0) {
      const removed = new Set<number>();
      for (const uid of gone) {
        if (this.byUid.delete(uid)) removed.add(uid);
      }
      if (removed.size > 0) {
        this.uids = this.uids.filter((uid) => !removed.has(uid));
        this.expungedAt = highestModseq;
      }
    }
    const entries = changed.map((m) => ({ modseq: m.modseq, uid: m.uid }))
      .sort((a, b) => a.modseq - b.modseq);
    for (const entry of entries) this.#log.push(entry); // no spread: entries may be 100,000s
    if (this.#log.length > LOG_LIMIT) {
      const dropped = this.#log.splice(0, this.#log.length - LOG_LIMIT / 2);
      this.#logFloor = Math.max(this.#logFloor, dropped.at(-1)!.modseq);
    }
    this.uidNext = Math.max(this.uidNext, uidNext);
    this.highestModseq = Math.max(this.highestModseq, highestModseq);
  }

  changedSince(since: number): number[] | null {
    if (since < this.#logFloor) return null;
    // First log entry above `since` (binary search: the log is in modseq order).
    let low = 0;
    let high = this.#log.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (this.#log[mid].modseq <= since) low = mid + 1;
      else high = mid;
    }
    return this.#log.slice(low).map((e) => e.uid);
  }
}

export class MailboxCache {
  readonly #store: Store;
  readonly #maxEntries: number;
  readonly #maxMessages: number;
  /** Insertion order is recency order (an entry used is moved to the end). */
  readonly #entries = new Map<number, Entry>();

  constructor(store: Store, limits: { maxEntries?: number; maxMessages?: number } = {}) {
    this.#store = store;
    this.#maxEntries = limits.maxEntries ?? 256;
    this.#maxMessages = limits.maxMessages ?? 200_000;
  }

  /** The mailbox as the store has it now; MailboxGoneError when it is not (or no longer) there. */
  async current(accountId: number, mailboxId: number): Promise<CachedMailbox> {
    const row = await this.#store.getMailbox(accountId, mailboxId);
    if (!row) {
      this.#entries.delete(mailboxId);
      throw new MailboxGoneError(mailboxId);
    }
    // Until the entry holds at least what `row` says: a refresh another session started may
    // have read an older row than this one, so after waiting for it, check again.
    for (;;) {
      const entry = this.#entries.get(mailboxId);
      if (entry?.refreshing) {
        await entry.refreshing.catch(() => {}); // its caller reports the failure
        continue;
      }
      if (entry && entry.uidValidity === row.uidValidity) {
        this.#entries.delete(mailboxId);
        this.#entries.set(mailboxId, entry); // most recently used
        if (entry.highestModseq >= row.highestModseq) return entry;
        const since = entry.highestModseq;
        await this.#run(entry, async () => {
          const [changed, gone] = await Promise.all([
            this.#store.changedMessages(accountId, mailboxId, since),
            this.#store.expungedSince(accountId, mailboxId, since),
          ]);
          entry.apply(changed, gone, row.uidNext, row.highestModseq);
        });
        return entry;
      }
      // Not cached, or the mailbox was re-created (new UIDVALIDITY): load it whole.
      const fresh = new Entry(mailboxId, row.uidValidity);
      this.#entries.delete(mailboxId);
      this.#entries.set(mailboxId, fresh);
      try {
        await this.#run(fresh, async () => {
          const messages = await this.#store.mailboxMessages(accountId, mailboxId);
          fresh.load(messages, row.uidNext, row.highestModseq);
        });
      } catch (error) {
        if (this.#entries.get(mailboxId) === fresh) this.#entries.delete(mailboxId);
        throw error;
      }
      return fresh;
    }
  }

  /** Runs a load or refresh of `entry`, visible to other callers while it runs. */
  async #run(entry: Entry, work: () => Promise<void>): Promise<void> {
    entry.refreshing = work();
    try {
      await entry.refreshing;
    } finally {
      entry.refreshing = null;
    }
    this.#evict();
  }

  /** Forgets a mailbox (deleted or renamed away); the next use loads it again. */
  forget(mailboxId: number): void {
    this.#entries.delete(mailboxId);
  }

  /** Drops least recently used entries while over either limit; the newest always stays. */
  #evict(): void {
    let messages = 0;
    for (const entry of this.#entries.values()) messages += entry.byUid.size;
    for (const [id, entry] of this.#entries) {
      const over = this.#entries.size > this.#maxEntries || messages > this.#maxMessages;
      if (!over || this.#entries.size === 1) return;
      if (entry.refreshing) continue;
      this.#entries.delete(id);
      messages -= entry.byUid.size;
    }
  }
}
