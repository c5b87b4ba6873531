/**
 * The POP3 maildrop (RFC 1939 4–6): a snapshot of INBOX taken at login, with message numbers,
 * exact sizes, deletion marks and UIDL values; and the per-account lock that keeps a second POP3
 * session out while one holds the maildrop.
 *
 * Implementation notes:
 * - Message numbers are positions in the snapshot (1-based) and never change during a session;
 *   mail arriving later is seen at the next login.
 * - A UIDL value is Dovecot's default `%08Xu%08Xv`: the IMAP UID, then UIDVALIDITY, each as 8
 *   upper-case hex digits. It is stable across sessions and restarts for as long as the IMAP UID
 *   is, and a mailbox migrated with its UIDs and UIDVALIDITY keeps the values Dovecot gave out.
 * - The lock is in-process (one node owns an SQLite store) and keyed by account: IMAP and JMAP
 *   do not take it; they see POP3 deletions as ordinary expunges.
 */
import type { MailboxMessage, Store } from "../store/types.ts";

export interface MaildropMessage {
  /** 1-based message number. */
  number: number;
  uid: number;
  emailId: number;
  /** Exact stored octets (CRLF line ends). */
  size: number;
  uidl: string;
  deleted: boolean;
  /** The blob holding the message, when looked up at login. */
  blobHash: string | null;
}

export type Lookup =
  | { ok: true; message: MaildropMessage }
  | { ok: false; reason: "no_such_message" | "deleted" };

export class Maildrop {
  readonly messages: MaildropMessage[];

  constructor(
    readonly accountId: number,
    readonly mailboxId: number,
    readonly uidValidity: number,
    messages: Pick<MailboxMessage, "uid" | "emailId" | "size">[],
  ) {
    this.messages = messages.map((m, i) => ({
      number: i + 1,
      uid: m.uid,
      emailId: m.emailId,
      size: m.size,
      uidl: uidl(uidValidity, m.uid),
      deleted: false,
      blobHash: null,
    }));
  }

  /** Opens the account's INBOX as it is now; null when the account has no inbox. */
  static async open(store: Store, accountId: number): Promise<Maildrop | null> {
    const mailboxes = await store.listMailboxes(accountId, { counts: false });
    const inbox = mailboxes.find((m) => m.role === "inbox");
    if (!inbox) return null;
    const messages = await store.mailboxMessages(accountId, inbox.id);
    const maildrop = new Maildrop(accountId, inbox.id, inbox.uidValidity, messages);
    // Where each message's bytes are, in one query instead of one per RETR, when INBOX holds
    // most of the account's mail (the usual POP3 account); otherwise RETR asks per message.
    const total = mailboxes.reduce((n, m) => n + m.messages, 0);
    if (messages.length > 0 && messages.length * 2 >= total) {
      const hashes = new Map((await store.listEmails(accountId)).map((e) => [e.id, e.blobHash]));
      for (const m of maildrop.messages) m.blobHash = hashes.get(m.emailId) ?? null;
    }
    return maildrop;
  }

  /** Messages not marked deleted. */
  visible(): MaildropMessage[] {
    return this.messages.filter((m) => !m.deleted);
  }

  /** STAT: count and total octets of the messages not marked deleted. */
  stat(): { count: number; size: number } {
    let count = 0;
    let size = 0;
    for (const m of this.messages) {
      if (m.deleted) continue;
      count++;
      size += m.size;
    }
    return { count, size };
  }

  lookup(number: number): Lookup {
    const message = this.messages[number - 1];
    if (!message) return { ok: false, reason: "no_such_message" };
    if (message.deleted) return { ok: false, reason: "deleted" };
    return { ok: true, message };
  }

  /** RSET: clears every deletion mark; returns how many there were. */
  reset(): number {
    let cleared = 0;
    for (const m of this.messages) {
      if (m.deleted) cleared++;
      m.deleted = false;
    }
    return cleared;
  }

  /** UIDs marked deleted, for the UPDATE state. */
  deletedUids(): number[] {
    return this.messages.filter((m) => m.deleted).map((m) => m.uid);
  }
}

/**
 * The UIDL value of a message: `%08Xu%08Xv` as in Dovecot's default pop3_uidl_format.
 *
 * @example
 * uidl(1700000000, 42); // "0000002A6553F100"
 */
export function uidl(uidValidity: number, uid: number): string {
  return hex8(uid) + hex8(uidValidity);
}

function hex8(value: number): string {
  return (value >>> 0).toString(16).toUpperCase().padStart(8, "0");
}

/**
 * Which accounts have a POP3 session holding their maildrop. One per store, so the `pop3` and
 * `pop3s` listeners (and two servers in one test process) each see the right set.
 */
export class MaildropLocks {
  readonly #held = new Set<number>();

  /** Takes the lock; returns its release function, or null when another session holds it. */
  acquire(accountId: number): (() => void) | null {
    if (this.#held.has(accountId)) return null;
    this.#held.add(accountId);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#held.delete(accountId);
    };
  }

  isHeld(accountId: number): boolean {
    return this.#held.has(accountId);
  }
}

const locksByStore = new WeakMap<Store, MaildropLocks>();

/** The lock set shared by every POP3 listener of one store. */
export function maildropLocks(store: Store): MaildropLocks {
  let locks = locksByStore.get(store);
  if (!locks) locksByStore.set(store, locks = new MaildropLocks());
  return locks;
}
