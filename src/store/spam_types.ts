/**
 * What the spam filter keeps: classifier token counts (one global model, one per account),
 * which messages were learnt as what, per-account sender reputation, and the greylisting
 * triplets. The SQLite implementation is sqlite/spam_store.ts.
 */

/** The global model's number; any other model number is an account id. */
export const GLOBAL_MODEL = 0;

export interface TokenCounts {
  ham: number;
  spam: number;
}

/** A model's totals; the logistic part (logistic.ts) moves in the global model only. */
export interface ModelTotals extends TokenCounts {
  /** Logistic bias, its running sum of step-weighted updates, and the steps taken. */
  bias: number;
  wbias: number;
  updates: number;
}

/** A token's counts and its logistic weight and running sum (0 outside the global model). */
export interface TokenStats extends TokenCounts {
  weight: number;
  wsum: number;
}

export type Judgement = "spam" | "ham";

export interface SenderStats {
  /** Messages from this sender the user judged (or the filter filed) as ham / spam. */
  ham: number;
  spam: number;
  /** Messages the user sent to this identity. */
  sent: number;
}

export type GreylistAnswer = "new" | "early" | "pass";

export interface SpamStore {
  /** Messages learnt by `model` as ham and spam, and its logistic bias. */
  totals(model: number): Promise<ModelTotals>;
  /** The counts and weights of the given tokens in `model`; tokens never seen are absent. */
  tokenCounts(model: number, tokens: readonly number[]): Promise<Map<number, TokenStats>>;
  /**
   * Learns one message (`key`: its content hash) as `judgement` in each of `models`, with its
   * (distinct) tokens. A model that learnt it the other way first unlearns that; a model that
   * already learnt it this way is left alone. The global model (GLOBAL_MODEL) also takes one
   * logistic step (src/spam/logistic.ts) in the same transaction, and undoes the earlier one on a
   * changed mind. Returns the models that changed.
   */
  learn(
    models: readonly number[],
    key: string,
    tokens: readonly number[],
    judgement: Judgement,
  ): Promise<number[]>;
  /** How `model` learnt the message `key`, if it did. */
  learnt(model: number, key: string): Promise<Judgement | null>;
  /** Reputation of sender identities (addresses and domains, lower-case) for an account. */
  senderStats(accountId: number, identities: readonly string[]): Promise<Map<string, SenderStats>>;
  /** Counts one event for each identity. */
  recordSenders(
    accountId: number,
    identities: readonly string[],
    event: "ham" | "spam" | "sent",
  ): Promise<void>;
  /**
   * Greylisting: records the triplet `key` at `now` (ms) and says whether it is new, retried
   * before `delayMs` passed since it was first seen, or passes (retried in time, or passed
   * before and seen within `passTtlMs`). A triplet not retried within `retryWindowMs` starts
   * over.
   */
  greylist(
    key: string,
    now: number,
    delayMs: number,
    retryWindowMs: number,
    passTtlMs: number,
  ): Promise<GreylistAnswer>;
  /**
   * Removes greylisting entries that passed and were not seen since `passedBefore` (ms), and
   * those still waiting that were first seen before `waitingBefore`; returns how many.
   */
  pruneGreylist(passedBefore: number, waitingBefore: number): Promise<number>;
}
