/**
 * The in-process change bus: "account A changed types T at modseq S". IMAP IDLE, JMAP push and
 * DAV subscribe to it. Publish only after the change is committed.
 *
 * @example
 * const off = bus.subscribe(accountId, (event) => console.log(event.types));
 */

export interface ChangeEvent {
  accountId: number;
  types: string[];
  modseq: number;
  /** Who made the change (a session id), so that session can skip its own echo. */
  origin?: string;
  /**
   * The user judged messages (moved into or out of Junk, set $Junk or $NotJunk): the spam
   * filter trains from these email ids.
   */
  training?: { spam: number[]; ham: number[] };
}

export type ChangeListener = (event: ChangeEvent) => void;

export class ChangeBus {
  #byAccount = new Map<number, Set<ChangeListener>>();
  #all = new Set<ChangeListener>();

  /** Listens to one account, or to every account when accountId is null. Returns unsubscribe. */
  subscribe(accountId: number | null, listener: ChangeListener): () => void {
    if (accountId === null) {
      this.#all.add(listener);
      return () => this.#all.delete(listener);
    }
    let set = this.#byAccount.get(accountId);
    if (!set) this.#byAccount.set(accountId, set = new Set());
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.#byAccount.delete(accountId);
    };
  }

  publish(event: ChangeEvent): void {
    for (const listener of [...(this.#byAccount.get(event.accountId) ?? []), ...this.#all]) {
      try {
        listener(event);
      } catch {
        // A listener's failure is its own; the change is committed and others must hear of it.
      }
    }
  }
}
