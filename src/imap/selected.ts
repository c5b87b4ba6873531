/**
 * A session's view of its selected mailbox: the sequence-number ⇄ UID map, each message's
 * flags and modseq as the client last saw them, and the untagged responses that bring the
 * client up to date with what other sessions, deliveries and JMAP did (RFC 9051 7.5, RFC 7162).
 *
 * Implementation notes:
 * - The messages themselves live in the process-wide MailboxCache (src/imap/mailbox_cache.ts),
 *   shared with every session on the mailbox; a view holds its UIDs in sequence order, the
 *   modseq it has caught up to, and the state of the messages it changed itself.
 * - `sync()` compares the cache with the view and queues what changed; `flush(allowExpunge)`
 *   turns the queue into responses. While a FETCH, STORE or SEARCH by sequence number runs,
 *   expunges must not be reported (RFC 9051 7.5.1): the expunged messages then stay in the view,
 *   so sequence numbers keep their meaning, and go at the next command that allows it.
 * - New messages are reported with one EXISTS; EXISTS never goes down.
 * - Expunges go out as "* n EXPUNGE" from the highest sequence number down, so each number is
 *   right when the client reads it; after QRESYNC is enabled as one "* VANISHED uid-set".
 * - A flag change made by another session (or a delivery, or JMAP) goes out as an untagged
 *   FETCH with the UID, FLAGS, and MODSEQ once CONDSTORE is on. Changes this session made are
 *   recorded with `noteOwn` and not echoed back.
 */
import type { MailboxMessage } from "../store/types.ts";
import type { CachedMailbox, MailboxCache } from "./mailbox_cache.ts";
import { flagList } from "./flags.ts";
import { formatSequenceSet } from "./sequence_set.ts";

export interface ViewOptions {
  /** Include MODSEQ in unsolicited FETCH responses (CONDSTORE enabled). */
  condstore: boolean;
  /** Report expunges as VANISHED (QRESYNC enabled). */
  qresync: boolean;
}

export class SelectedMailbox {
  readonly accountId: number;
  readonly mailboxId: number;
  readonly uidValidity: number;
  /**
   * UIDs in sequence order (index = sequence number − 1), expunged-but-unreported included.
   * Never changed in place: while it equals the cache entry's, it is the entry's array (an idle
   * session on a big mailbox then costs no UID list of its own).
   */
  #uids: readonly number[] = [];
  /** The cache entry as of the last sync (the same object goes on being refreshed). */
  #entry: CachedMailbox;
  /** Messages this session changed and reported itself, until the cache has caught up. */
  #own = new Map<number, MailboxMessage>();
  #pendingExpunge = new Set<number>();
  #pendingFlags = new Set<number>();
  #reportedExists = 0;
  #highestModseq = 0;
  /** Changes up to this modseq are in the view (own changes do not move it: see noteOwn). */
  #syncedModseq = 0;
  #uidNext = 1;
  readonly #cache: MailboxCache;
  readonly #options: ViewOptions;

  private constructor(
    cache: MailboxCache,
    accountId: number,
    entry: CachedMailbox,
    options: ViewOptions,
  ) {
    this.#cache = cache;
    this.accountId = accountId;
    this.mailboxId = entry.mailboxId;
    this.uidValidity = entry.uidValidity;
    this.#entry = entry;
    this.#options = options;
    this.#uids = entry.uids;
    this.#reportedExists = this.#uids.length;
    this.#highestModseq = entry.highestModseq;
    this.#syncedModseq = entry.highestModseq;
    this.#uidNext = entry.uidNext;
  }

  /** Opens the mailbox; the caller reports EXISTS, UIDVALIDITY etc. from the view. */
  static async open(
    cache: MailboxCache,
    accountId: number,
    mailboxId: number,
    options: ViewOptions,
  ): Promise<SelectedMailbox> {
    const entry = await cache.current(accountId, mailboxId);
    return new SelectedMailbox(cache, accountId, entry, options);
  }

  get exists(): number {
    return this.#uids.length;
  }

  get uidNext(): number {
    return this.#uidNext;
  }

  get highestModseq(): number {
    return this.#highestModseq;
  }

  /** UIDs in sequence order. */
  get uids(): readonly number[] {
    return this.#uids;
  }

  /** 1-based sequence number of a UID, or 0 when it is not in the view. */
  seqOf(uid: number): number {
    let low = 0;
    let high = this.#uids.length - 1;
    while (low <= high) {
      const mid = (low + high) >> 1;
      const value = this.#uids[mid];
      if (value === uid) return mid + 1;
      if (value < uid) low = mid + 1;
      else high = mid - 1;
    }
    return 0;
  }

  uidAt(seq: number): number | undefined {
    return this.#uids[seq - 1];
  }

  /** True for a message another session expunged that this client has not been told about. */
  isExpunged(uid: number): boolean {
    return this.#pendingExpunge.has(uid);
  }

  /** A message's newest known state: this session's own change, or the cache's. */
  message(uid: number): MailboxMessage | undefined {
    const cached = this.#entry.byUid.get(uid);
    const own = this.#own.get(uid);
    return own && (!cached || own.modseq > cached.modseq) ? own : cached;
  }

  keywordsOf(uid: number): string[] {
    return this.message(uid)?.keywords ?? [];
  }

  modseqOf(uid: number): number {
    return this.message(uid)?.modseq ?? 0;
  }

  /** The mailbox's messages as the store has them now (for FETCH, SEARCH, SORT). */
  async current(): Promise<CachedMailbox> {
    return await this.#cache.current(this.accountId, this.mailboxId);
  }

  /**
   * Catches up with the store (through the cache) and queues what changed since the last
   * sync: new UIDs, flag changes by others, expunges. The cost follows the changes, not the
   * mailbox size, while the cache's change log reaches back far enough.
   */
  async sync(): Promise<void> {
    const entry = await this.#cache.current(this.accountId, this.mailboxId);
    const since = this.#syncedModseq;
    // A different entry object means the cache loaded the mailbox again (evicted meanwhile):
    // its log and expunge mark say nothing about what happened before, so compare it all.
    const reloaded = entry !== this.#entry;
    this.#entry = entry;
    if (reloaded || entry.expungedAt > since) {
      for (const uid of this.#uids) {
        if (!entry.byUid.has(uid)) this.#pendingExpunge.add(uid);
      }
    }
    const last = this.#uids.at(-1) ?? 0;
    const changed = reloaded ? null : entry.changedSince(since);
    const candidates = changed ??
      [...entry.byUid.values()].filter((m) => m.modseq > since).map((m) => m.uid);
    for (const uid of candidates) {
      if (uid > last) continue; // new: appended below, in UID order
      const message = entry.byUid.get(uid);
      const own = this.#own.get(uid);
      if (!message || (own && own.modseq >= message.modseq)) continue;
      if (this.seqOf(uid) > 0) this.#pendingFlags.add(uid);
    }
    // The view's UIDs are a prefix of the entry's (nothing expunged it has not reported): take
    // the entry's array itself; otherwise append the new UIDs to a copy.
    const from = upperBound(entry.uids, last);
    const prefix = from === this.#uids.length && (from === 0 || entry.uids[from - 1] === last);
    if (prefix) this.#uids = entry.uids;
    else if (from < entry.uids.length) this.#uids = [...this.#uids, ...entry.uids.slice(from)];
    this.#syncedModseq = Math.max(since, entry.highestModseq);
    this.#highestModseq = Math.max(this.#highestModseq, this.#syncedModseq);
    this.#uidNext = Math.max(this.#uidNext, entry.uidNext, (this.#uids.at(-1) ?? 0) + 1);
    for (const [uid, own] of this.#own) {
      if (own.modseq <= this.#syncedModseq) this.#own.delete(uid);
    }
  }

  /** Records a change this session made and reported itself (STORE, FETCH setting \Seen). */
  noteOwn(message: MailboxMessage): void {
    if (this.seqOf(message.uid) === 0) return;
    this.#own.set(message.uid, message);
    this.#pendingFlags.delete(message.uid);
    this.#highestModseq = Math.max(this.#highestModseq, message.modseq);
  }

  /**
   * Queues `uids` removed by this session's own EXPUNGE or MOVE, so the flush that answers the
   * command reports them (without waiting for a sync).
   */
  noteOwnExpunge(uids: readonly number[]): void {
    for (const uid of uids) this.#pendingExpunge.add(uid);
  }

  /**
   * The untagged responses for what is queued. With `allowExpunge` false (during FETCH, STORE,
   * SEARCH) expunges wait and flag changes of expunged messages are dropped.
   */
  flush(allowExpunge: boolean): string[] {
    const lines: string[] = [];
    for (const uid of [...this.#pendingFlags].sort((a, b) => a - b)) {
      if (this.#pendingExpunge.has(uid)) continue;
      const seq = this.seqOf(uid);
      const message = this.message(uid);
      if (seq === 0 || !message) continue;
      const modseq = this.#options.condstore ? ` MODSEQ (${message.modseq})` : "";
      lines.push(`* ${seq} FETCH (UID ${uid} FLAGS ${flagList(message.keywords)}${modseq})`);
    }
    this.#pendingFlags.clear();
    if (allowExpunge && this.#pendingExpunge.size > 0) {
      const gone = [...this.#pendingExpunge].sort((a, b) => a - b);
      // The client knows the first #reportedExists messages: only those are reported gone (a
      // message that came and went between two flushes never existed for it), and the new ones
      // after them still need their EXISTS.
      const known = gone.filter((uid) => {
        const seq = this.seqOf(uid);
        return seq > 0 && seq <= this.#reportedExists;
      });
      if (known.length > 0 && this.#options.qresync) {
        lines.push(`* VANISHED ${formatSequenceSet(known)}`);
      } else {
        for (const uid of [...known].reverse()) lines.push(`* ${this.seqOf(uid)} EXPUNGE`);
      }
      this.#reportedExists -= known.length;
      for (const uid of gone) this.#own.delete(uid);
      const goneSet = new Set(gone);
      this.#uids = this.#uids.filter((uid) => !goneSet.has(uid));
      this.#pendingExpunge.clear();
    }
    if (this.#uids.length > this.#reportedExists) {
      lines.push(`* ${this.#uids.length} EXISTS`);
      this.#reportedExists = this.#uids.length;
    }
    return lines;
  }
}

/** Index of the first value above `value` in an ascending array. */
function upperBound(values: readonly number[], value: number): number {
  let low = 0;
  let high = values.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (values[mid] <= value) low = mid + 1;
    else high = mid;
  }
  return low;
}
