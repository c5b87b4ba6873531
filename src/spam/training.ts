/**
 * Learning from what users do: judgements published on the change bus (IMAP MOVE/COPY into or
 * out of Junk, $Junk/$NotJunk from IMAP STORE or JMAP Email/set — src/imap/selected_commands.ts
 * and src/jmap/email_set.ts put them on the event), and mail the user sends (its recipients
 * become correspondents; the message it replies to is learnt as ham).
 *
 * Implementation notes:
 * - Work runs one message at a time in the background, after the change is committed and
 *   answered: training never slows a client. At most MAX_PENDING messages wait; beyond that
 *   judgements are dropped with a warning (a mass move of 100,000 messages must not hold them
 *   all in memory).
 * - An email deleted before its turn is skipped. The message is read from the blob store, so
 *   what is learnt is exactly what was delivered (with our Authentication-Results).
 * - POP3 has no way to judge a message (no moves, no flags); its users train through another
 *   client or by replying.
 */
import type { BlobStore } from "../store/blobs.ts";
import type { ChangeBus, ChangeEvent } from "../store/bus.ts";
import type { Judgement } from "../store/spam_types.ts";
import type { Store } from "../store/types.ts";
import { logger } from "../observability/log.ts";
import type { SpamEngine } from "./engine.ts";
import { sentIdentities } from "./reputation.ts";
import { headerFields } from "../smtp/submission_message.ts";
import { parseMessageIds } from "../mail/headers.ts";

const log = logger("spam");
const MAX_PENDING = 10_000;

interface Job {
  accountId: number;
  emailId: number;
  judgement: Judgement;
}

export class SpamTrainer {
  #jobs: Job[] = [];
  #running: Promise<void> | null = null;

  constructor(
    readonly engine: SpamEngine,
    readonly store: Store,
    readonly blobs: BlobStore,
  ) {}

  /** Listens for judgements on the bus; returns the unsubscribe function. */
  listen(bus: ChangeBus): () => void {
    return bus.subscribe(null, (event) => this.#onChange(event));
  }

  #onChange(event: ChangeEvent): void {
    if (!event.training) return;
    for (const emailId of event.training.spam) this.judge(event.accountId, emailId, "spam");
    for (const emailId of event.training.ham) this.judge(event.accountId, emailId, "ham");
  }

  /** Queues one judgement. */
  judge(accountId: number, emailId: number, judgement: Judgement): void {
    if (this.#jobs.length >= MAX_PENDING) {
      log.warn("spam training queue full; judgement dropped", { account: accountId, emailId });
      return;
    }
    this.#jobs.push({ accountId, emailId, judgement });
    this.#running ??= this.#drain().finally(() => this.#running = null);
  }

  /**
   * Mail an account sent: its recipients become correspondents, and the messages it replies
   * to (In-Reply-To) are learnt as ham.
   */
  async noteSent(
    accountId: number,
    recipients: readonly string[],
    message: Uint8Array,
  ): Promise<void> {
    try {
      const inReplyTo = headerFields(message)
        .filter(([name]) => name === "in-reply-to")
        .flatMap(([, value]) => parseMessageIds(value));
      await this.store.spam.recordSenders(accountId, sentIdentities(recipients), "sent");
      for (const messageId of inReplyTo.slice(0, 5)) {
        for (const email of await this.store.emailsByMessageId(accountId, messageId)) {
          this.judge(accountId, email.id, "ham");
        }
      }
    } catch (error) {
      log.warn("recording sent mail for the spam filter failed", { account: accountId, error });
    }
  }

  /** Resolves when every queued judgement has been learnt (tests, the CLI, shutdown). */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  /** Shutdown: drops the judgements not yet begun (logged) and waits for the one under way. */
  async stop(): Promise<void> {
    if (this.#jobs.length > 0) {
      log.warn("spam training stopped; queued judgements dropped", { dropped: this.#jobs.length });
      this.#jobs.length = 0;
    }
    await this.idle();
  }

  async #drain(): Promise<void> {
    for (let job = this.#jobs.shift(); job; job = this.#jobs.shift()) {
      try {
        await this.#learn(job);
      } catch (error) {
        log.warn("spam training failed", { account: job.accountId, email: job.emailId, error });
      }
    }
  }

  async #learn(job: Job): Promise<void> {
    const email = await this.store.getEmail(job.accountId, job.emailId);
    if (!email) return;
    const raw = await this.blobs.get(email.blobHash, email.size);
    const changed = await this.engine.train(raw, job.judgement, job.accountId);
    if (changed) {
      log.info("spam filter learnt", {
        account: job.accountId,
        email: job.emailId,
        as: job.judgement,
      });
    }
  }
}
