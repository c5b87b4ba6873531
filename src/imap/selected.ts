/**
 * A session's view of its selected mailbox: the sequence-number ⇄ UID map, each message's
 * flags and modseq as the client last saw them, and the untagged responses that bring the
 * client up to date with what other sessions, deliveries and JMAP did (RFC 9051 7.5, RFC 7162).
 *
 * Implementation notes:
 * - `sync()` compares the store with the view and queues what changed; `flush(allowExpunge)`
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
import type { MailboxMessage, Store } from "../store/types.ts";
import { flagList } from "./flags.ts";
import { formatSequenceSet } from "./sequence_set.ts";

export interface ViewOptions {
  /** Include MODSEQ in unsolicited FETCH responses (CONDSTORE enabled). */
  condstore: boolean;
  /** Report expunges as VANISHED (QRESYNC enabled). */
  qresync: boolean;
}

interface Known {
  modseq: number;
  keywords: string[];
}

export class SelectedMailbox {
  readonly accountId: number;
  readonly mailboxId: number;
  readonly uidValidity: number;
  /** UIDs in sequence order (index = sequence number − 1), expunged-but-unreported included. */
  #uids: number[] = [];
  #known = new Map<number, Known>();
  #pendingExpunge = new Set<number>();
  #pendingFlags = new Set<number>();
  #reportedExists = 0;
  #highestModseq = 0;
  /** Changes up to this modseq are in the view (own changes do not move it: see noteOwn). */
  #syncedModseq = 0;
  #uidNext = 1;
  readonly #store: Store;
  readonly #options: ViewOptions;

  private constructor(
    store: Store,
    accountId: number,
    mailboxId: number,
    uidValidity: number,
    options: ViewOptions,
  ) {
    this.#store = store;
    this.accountId = accountId;
    this.mailboxId = mailboxId;
    this.uidValidity = uidValidity;
    this.#options = options;
  }

  /** Loads the mailbox; the caller reports EXISTS, UIDVALIDITY etc. from the result. */
  static async open(
    store: Store,
    accountId: number,
    mailboxId: number,
    options: ViewOptions,
  ): Promise<SelectedMailbox> {
    const summary = (await store.listMailboxes(accountId, { counts: false }))
      .find((m) => m.id === mailboxId);
    if (!summary) throw new Error(`no mailbox with id ${mailboxId}`);
    const view = new SelectedMailbox(store, accountId, mailboxId, summary.uidValidity, options);
    const messages = await store.mailboxMessages(accountId, mailboxId);
    view.#uids = messages.map((m) => m.uid);
    for (const m of messages) view.#known.set(m.uid, { modseq: m.modseq, keywords: m.keywords });
    view.#reportedExists = messages.length;
    view.#highestModseq = summary.highestModseq;
    view.#syncedModseq = summary.highestModseq;
    view.#uidNext = summary.uidNext;
    return view;
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

  keywordsOf(uid: number): string[] {
    return this.#known.get(uid)?.keywords ?? [];
  }

  modseqOf(uid: number): number {
    return this.#known.get(uid)?.modseq ?? 0;
  }

  /** Reads the store and queues what changed since the last sync. */
  /**
   * Reads what changed in the store since the last sync (by modseq: new and changed messages,
   * and expunged UIDs) and queues it; the cost follows the changes, not the mailbox size.
   */
  async sync(): Promise<void> {
    const since = this.#syncedModseq;
    const [changed, gone] = await Promise.all([
      this.#store.changedMessages(this.accountId, this.mailboxId, since),
      this.#store.expungedSince(this.accountId, this.mailboxId, since),
    ]);
    for (const uid of gone) {
      if (this.#known.has(uid)) this.#pendingExpunge.add(uid);
    }
    const last = this.#uids.at(-1) ?? 0;
    let top = since;
    for (const message of changed) {
      top = Math.max(top, message.modseq);
      const known = this.#known.get(message.uid);
      if (!known) {
        if (message.uid > last) {
          this.#uids.push(message.uid);
          this.#known.set(message.uid, { modseq: message.modseq, keywords: message.keywords });
        }
        continue;
      }
      if (message.modseq !== known.modseq) {
        if (!sameKeywords(known.keywords, message.keywords)) this.#pendingFlags.add(message.uid);
        this.#known.set(message.uid, { modseq: message.modseq, keywords: message.keywords });
      }
    }
    // Expunges carry modseqs too; the next sync starts after everything seen here.
    if (gone.length > 0) {
      const summary = (await this.#store.listMailboxes(this.accountId, { counts: false }))
        .find((m) => m.id === this.mailboxId);
      if (summary) top = Math.max(top, summary.highestModseq);
    }
    this.#syncedModseq = top;
    this.#highestModseq = Math.max(this.#highestModseq, top);
    this.#uidNext = Math.max(this.#uidNext, (this.#uids.at(-1) ?? 0) + 1);
  }

  /** Records a change this session made and reported itself (STORE, APPEND, COPY to here). */
  noteOwn(message: MailboxMessage): void {
    if (!this.#known.has(message.uid)) return;
    this.#known.set(message.uid, { modseq: message.modseq, keywords: message.keywords });
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
      const known = this.#known.get(uid);
      if (seq === 0 || !known) continue;
      const modseq = this.#options.condstore ? ` MODSEQ (${known.modseq})` : "";
      lines.push(`* ${seq} FETCH (UID ${uid} FLAGS ${flagList(known.keywords)}${modseq})`);
    }
    this.#pendingFlags.clear();
    if (allowExpunge && this.#pendingExpunge.size > 0) {
      const gone = [...this.#pendingExpunge].sort((a, b) => a - b);
      if (this.#options.qresync) {
        lines.push(`* VANISHED ${formatSequenceSet(gone)}`);
      } else {
        for (const uid of [...gone].reverse()) {
          const seq = this.seqOf(uid);
          if (seq > 0) lines.push(`* ${seq} EXPUNGE`);
        }
      }
      const goneSet = new Set(gone);
      this.#uids = this.#uids.filter((uid) => !goneSet.has(uid));
      for (const uid of gone) this.#known.delete(uid);
      this.#pendingExpunge.clear();
      this.#reportedExists = this.#uids.length;
    }
    if (this.#uids.length > this.#reportedExists) {
      lines.push(`* ${this.#uids.length} EXISTS`);
      this.#reportedExists = this.#uids.length;
    }
    return lines;
  }
}

function sameKeywords(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((k, i) => k === b[i]);
}
