/**
 * The character 4-gram model (logistic.ts, GRAM_MODEL) held in memory: its weights are read on
 * every message scored and about two thousand of them change with every message learnt, too
 * many rows for a store round trip each time.
 *
 * Implementation notes:
 * - The whole model is one Float32Array of GRAM_BUCKETS weights (4 MiB) and its totals, loaded
 *   from the store on first use (concurrent first callers share the load).
 * - Learning changes the array at once and also adds the change to an unwritten delta per
 *   bucket; a write-back (flush) follows within FLUSH_DELAY_MS and adds the deltas to the
 *   stored weights in one transaction (SpamStore.addWeights), with the messages learnt; close()
 *   writes what is left. Like the rest of learning this is relaxed: a crash may forget the last
 *   second of judgements, never mail.
 * - Because the store adds changes rather than overwriting values, another process learning
 *   into the same store (`postern spam train` beside the running server) composes with this
 *   one. Its learning shows here when the stored step count is not what this process knows of:
 *   checked at most every STALE_CHECK_MS when scoring, and then the model is read again (with
 *   this process's unwritten deltas applied over it).
 * - A message is keyed as for the other models (SHA-256 of its bytes): learnt once; a changed
 *   mind subtracts the earlier step from the same buckets before taking the new one. The
 *   earlier step is found among the unwritten ones first, then in the store.
 */
import { GRAM_BUCKETS } from "./tokenize.ts";
import { BIAS_SHARE, gramStep, sigmoid } from "./logistic.ts";
import {
  GRAM_MODEL,
  type Judgement,
  type LearntStep,
  type ModelTotals,
  type SpamStore,
} from "../store/spam_types.ts";

const FLUSH_DELAY_MS = 1000;
/** How often scoring asks the store whether another process learnt. */
const STALE_CHECK_MS = 5000;

interface Loaded {
  totals: ModelTotals;
  weights: Float32Array;
}

function noChange(): ModelTotals {
  return { ham: 0, spam: 0, bias: 0, wbias: 0, updates: 0 };
}

export class GramModel {
  readonly #store: SpamStore;
  #loaded: Promise<Loaded> | null = null;
  /** Unwritten changes: per bucket, to the totals, and the messages learnt. */
  #deltas = new Map<number, number>();
  #totalsDelta = noChange();
  #pending = new Map<string, LearntStep>();
  #timer: ReturnType<typeof setTimeout> | null = null;
  #flushing: Promise<void> = Promise.resolve();
  /** The stored step count when last read, plus the steps this process wrote since. */
  #storedUpdates = 0;
  #checkedAt = 0;

  readonly #staleCheckMs: number;

  constructor(store: SpamStore, options: { staleCheckMs?: number } = {}) {
    this.#store = store;
    this.#staleCheckMs = options.staleCheckMs ?? STALE_CHECK_MS;
  }

  /** The spam probability of a message's 4-gram buckets, or null before anything was learnt. */
  async probability(grams: readonly number[]): Promise<number | null> {
    const { totals, weights } = await this.#current();
    if (totals.updates === 0) return null;
    let sum = 0;
    for (const gram of grams) sum += weights[gram] ?? 0;
    return sigmoid(totals.bias + sum / Math.sqrt(Math.max(1, grams.length)));
  }

  /** Learns a message's 4-gram buckets as `judgement`; false when it was already learnt so. */
  async learn(key: string, grams: readonly number[], judgement: Judgement): Promise<boolean> {
    const before = this.#pending.get(key) ?? await this.#store.learntStep(GRAM_MODEL, key);
    if (before?.judgement === judgement) return false;
    // Nothing awaited from here on: the changes go into the model now current.
    const model = await this.#load();
    const distinct = [...new Set(grams)].filter((g) => g >= 0 && g < GRAM_BUCKETS);
    if (before) {
      this.#apply(model, distinct, -before.delta);
      this.#count(model, before.judgement, -1);
    }
    let sum = 0;
    for (const gram of distinct) sum += model.weights[gram];
    const delta = gramStep(model.totals.bias, sum, distinct.length, judgement);
    this.#apply(model, distinct, delta);
    this.#count(model, judgement, 1);
    model.totals.updates++;
    this.#totalsDelta.updates++;
    this.#pending.set(key, { key, judgement, delta });
    this.#schedule();
    return true;
  }

  /** Writes everything learnt so far to the store. */
  flush(): Promise<void> {
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    this.#flushing = this.#flushing.then(() => this.#write());
    return this.#flushing;
  }

  /** Writes what is left; the model may still be used (and flushes again) afterwards. */
  close(): Promise<void> {
    return this.flush();
  }

  #apply(model: Loaded, grams: readonly number[], delta: number): void {
    for (const gram of grams) {
      model.weights[gram] += delta;
      this.#deltas.set(gram, (this.#deltas.get(gram) ?? 0) + delta);
    }
    model.totals.bias += BIAS_SHARE * delta;
    this.#totalsDelta.bias += BIAS_SHARE * delta;
  }

  #count(model: Loaded, judgement: Judgement, by: 1 | -1): void {
    model.totals[judgement] = Math.max(0, model.totals[judgement] + by);
    this.#totalsDelta[judgement] += by;
  }

  #schedule(): void {
    if (this.#timer !== null) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.flush().catch(() => {/* kept for the next flush */});
    }, FLUSH_DELAY_MS);
  }

  async #write(): Promise<void> {
    if (this.#pending.size === 0) return;
    const deltas = this.#deltas;
    const totals = this.#totalsDelta;
    const pending = this.#pending;
    this.#deltas = new Map();
    this.#totalsDelta = noChange();
    this.#pending = new Map();
    try {
      const after = await this.#store.addWeights(GRAM_MODEL, totals, [...deltas], [
        ...pending.values(),
      ]);
      this.#storedUpdates += totals.updates;
      // Someone else's steps are in the store too: read the model again at the next score.
      if (after.updates !== this.#storedUpdates) this.#checkedAt = 0;
    } catch (error) {
      // Put the changes back (merged with any learnt meanwhile) for the next flush.
      for (const [gram, delta] of deltas) {
        this.#deltas.set(gram, (this.#deltas.get(gram) ?? 0) + delta);
      }
      for (const field of ["ham", "spam", "bias", "wbias", "updates"] as const) {
        this.#totalsDelta[field] += totals[field];
      }
      for (const [key, step] of pending) if (!this.#pending.has(key)) this.#pending.set(key, step);
      throw error;
    }
  }

  /** The model, read again first when another process's learning is in the store. */
  async #current(): Promise<Loaded> {
    const model = await this.#load();
    const now = Date.now();
    if (now - this.#checkedAt < this.#staleCheckMs) return model;
    this.#checkedAt = now;
    const stored = await this.#store.totals(GRAM_MODEL);
    if (stored.updates === this.#storedUpdates) return model;
    this.#loaded = null;
    return await this.#load();
  }

  #load(): Promise<Loaded> {
    this.#loaded ??= this.#store.loadWeights(GRAM_MODEL).then(({ totals, weights }) => {
      const array = new Float32Array(GRAM_BUCKETS);
      for (const [gram, weight] of weights) {
        if (gram >= 0 && gram < GRAM_BUCKETS) array[gram] = weight;
      }
      // This process's unwritten learning, over what the store has.
      for (const [gram, delta] of this.#deltas) array[gram] += delta;
      this.#storedUpdates = totals.updates;
      this.#checkedAt = Date.now();
      for (const field of ["ham", "spam", "bias", "wbias", "updates"] as const) {
        totals[field] += this.#totalsDelta[field];
      }
      return { totals, weights: array };
    }).catch((error) => {
      this.#loaded = null;
      throw error;
    });
    return this.#loaded;
  }
}
