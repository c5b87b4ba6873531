/**
 * What the spam filter keeps: classifier token counts (one global model, one per account),
 * which messages were learnt as what, per-account sender reputation, and the greylisting
 * triplets. The SQLite implementation is sqlite/spam_store.ts.
 */

/** The global model's number; a positive model number is an account id. */
export const GLOBAL_MODEL = 0;
/**
 * The global character 4-gram model (src/spam/logistic.ts): logistic weights over gramTokens
 * buckets, learnt with the global model.
 */
export const GRAM_MODEL = -1;

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

/** How a logistic-only model (GRAM_MODEL) learnt one message: what a changed mind undoes. */
export interface LearntStep {
  key: string;
  judgement: Judgement;
  /** The step added to each of the message's weights (the bias took BIAS_SHARE of it). */
  delta: number;
}

/** A logistic-only model's whole state: totals (bias, messages, steps) and every weight. */
export interface WeightModel {
  totals: ModelTotals;
  weights: Map<number, number>;
}

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
   * already learnt it this way is left alone. The global model (GLOBAL_MODEL) and the 4-gram
   * model (GRAM_MODEL, whose tokens are 4-gram buckets) also take one logistic step
   * (src/spam/logistic.ts) in the same transaction, and undo the earlier one on a changed mind.
   * Returns the models that changed.
   */
  learn(
    models: readonly number[],
    key: string,
    tokens: readonly number[],
    judgement: Judgement,
  ): Promise<number[]>;
  /** How `model` learnt the message `key`, if it did. */
  learnt(model: number, key: string): Promise<Judgement | null>;
  /** How a logistic-only model learnt the message `key`, with its step, if it did. */
  learntStep(model: number, key: string): Promise<LearntStep | null>;
  /** A logistic-only model (GRAM_MODEL), whole: src/spam/gram_model.ts keeps it in memory. */
  loadWeights(model: number): Promise<WeightModel>;
  /**
   * Adds what one process learnt into a logistic-only model in one transaction: `totals` and
   * `weights` (token, change) are changes, added to what is stored, so processes learning into
   * the same store compose; `learnt` are the messages learnt meanwhile. Returns the totals
   * after.
   */
  addWeights(
    model: number,
    totals: ModelTotals,
    weights: readonly (readonly [number, number])[],
    learnt: readonly LearntStep[],
  ): Promise<ModelTotals>;
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
