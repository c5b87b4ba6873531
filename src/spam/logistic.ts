/**
 * The second classifier: online logistic regression over the same hashed tokens as the Bayes
 * model (tokenize.ts), global model only, averaged (ASGD) so the verdict does not swing with the
 * last few messages learnt. The store keeps the weights (spam_store.ts); this is the maths.
 *
 * Implementation notes:
 * - A message is the set of its distinct tokens, each feature 1. The spam probability is
 *   σ(b + Σ w_t). Learning one message with y = 1 (spam) or 0 (ham) takes one gradient step:
 *   d = LEARNING_RATE · (y − p), each of its tokens' w += d, the bias b += BIAS_SHARE · d.
 * - Averaging (the standard ASGD trick): with c the number of the step (1, 2, …), each token also
 *   keeps wsum += c·d, and the averaged weight after C − 1 steps is w − wsum / C (likewise the
 *   bias). A step unlearnt on a changed mind subtracts its d and c·d again: exactly what it added.
 * - The engine blends the two models in log-odds: logit(p_bayes) + a·v with
 *   a = BLEND_WEIGHT · maturity(global) and v = logit(p_lr) shrunk towards 0 by DEAD_ZONE
 *   (sign(l)·max(0, |l| − DEAD_ZONE)): only a confident second opinion (p_lr beyond 0.953 or
 *   0.047) moves the verdict. An immature global model leaves Bayes alone.
 * - A second logistic model (GRAM_MODEL) reads another feature family: the character 4-grams
 *   of the message's first GRAM_CHARS characters (tokenize.ts gramTokens), the way the
 *   strongest filters of the TREC spam tracks did (Goodman and Yih; Sculley). Its features are
 *   many and correlated, so the score is normalised: z = b + k·Σw with k = 1/√n over the n
 *   distinct 4-grams, and a step is d = GRAM_RATE·(y − σ(z))·k, each weight += d, the bias +=
 *   BIAS_SHARE·d. Not averaged: with averaging it learnt too slowly to help (cross-validation:
 *   it missed 50..57 spam instead of 36..45). Its opinion is its own symbol (gramSymbol).
 * - The rate, share, weight and dead zone were chosen by five-fold cross-validation on the
 *   training part of the SpamAssassin corpus (`deno task bench spam --tune`), trained in
 *   shuffled order, over seven shuffles: with the default rules, 4 of 3,320 ham wrong as before
 *   and 64..68 of 1,517 spam missed instead of 74. Without the dead zone the blend let through
 *   5..6 ham (hard ham at p_bayes ≈ 0.96 that the second model finds mildly spammy).
 */

/** A model's logistic state besides its tokens: bias, its running sum, steps taken. */
export interface LogisticTotals {
  bias: number;
  wbias: number;
  updates: number;
}

/** One token's weight and running sum of step-weighted updates. */
export interface TokenWeight {
  weight: number;
  wsum: number;
}

export const LEARNING_RATE = 0.1;
export const BIAS_SHARE = 0.1;
export const BLEND_WEIGHT = 0.3;
export const DEAD_ZONE = 3;
/** Keeps logit() finite. */
const EPSILON = 1e-9;

/** The 4-gram model's learning rate (its step is normalised by √n, see the notes). */
export const GRAM_RATE = 10;
/**
 * Points per unit of the 4-gram model's log-odds beyond GRAM_DEAD_ZONE, and their bounds; chosen
 * with bayes.ts's SPAM_POINTS by cross-validation over three training orders (see there).
 */
export const GRAM_WEIGHT = 2.5;
export const GRAM_DEAD_ZONE = 1;
export const GRAM_MAX_POINTS = 6;
export const GRAM_MIN_POINTS = -3;

/** σ(z), the logistic function. */
export function sigmoid(z: number): number {
  return 1 / (1 + Math.exp(-z));
}

/** log(p / (1 − p)), with p kept inside [EPSILON, 1 − EPSILON]. */
export function logit(p: number): number {
  const q = Math.min(1 - EPSILON, Math.max(EPSILON, p));
  return Math.log(q / (1 - q));
}

/**
 * The step for learning a message whose current (unaveraged) score is `z` = b + Σw.
 *
 * @example
 * learningStep(0, "spam"); // 0.05: every token's weight grows by 0.05, the bias by 0.005
 */
export function learningStep(z: number, judgement: "spam" | "ham"): number {
  return LEARNING_RATE * ((judgement === "spam" ? 1 : 0) - sigmoid(z));
}

/**
 * The averaged model's spam probability for a message's distinct tokens; weights of tokens never
 * learnt are absent (0).
 *
 * @example
 * averagedProbability({ bias: 0, wbias: 0, updates: 0 }, new Map(), [1, 2]); // 0.5
 */
export function averagedProbability(
  totals: LogisticTotals,
  weights: ReadonlyMap<number, TokenWeight>,
  tokens: readonly number[],
): number {
  const steps = totals.updates + 1;
  let z = totals.bias - totals.wbias / steps;
  for (const token of tokens) {
    const w = weights.get(token);
    if (w !== undefined) z += w.weight - w.wsum / steps;
  }
  return sigmoid(z);
}

/**
 * Blends the Bayes probability with the logistic one in log-odds, the latter weighed `weight`
 * and counted only beyond DEAD_ZONE.
 *
 * @example
 * blend(0.9, 0.9, 0.3); // 0.9: a second model short of confident changes nothing
 */
export function blend(bayes: number, logistic: number, weight: number): number {
  const opinion = logit(logistic);
  const beyond = Math.sign(opinion) * Math.max(0, Math.abs(opinion) - DEAD_ZONE);
  if (weight <= 0 || beyond === 0) return bayes;
  return sigmoid(logit(bayes) + weight * beyond);
}

/**
 * The 4-gram model's step for a message whose n distinct 4-gram weights sum to `sum`: the delta
 * added to each of those weights (the bias takes BIAS_SHARE of it).
 *
 * @example
 * gramStep(0, 0, 400, "spam"); // 0.25: 10 · (1 − 0.5) / 20
 */
export function gramStep(bias: number, sum: number, n: number, judgement: "spam" | "ham"): number {
  const k = 1 / Math.sqrt(Math.max(1, n));
  return GRAM_RATE * ((judgement === "spam" ? 1 : 0) - sigmoid(bias + k * sum)) * k;
}

/**
 * The 4-gram model's spam probability for a message's distinct 4-grams (weights not averaged).
 *
 * @example
 * gramProbability(0, new Map(), [1, 2]); // 0.5
 */
export function gramProbability(
  bias: number,
  weights: ReadonlyMap<number, TokenWeight>,
  grams: readonly number[],
): number {
  let sum = 0;
  for (const gram of grams) sum += weights.get(gram)?.weight ?? 0;
  return sigmoid(bias + sum / Math.sqrt(Math.max(1, grams.length)));
}

/**
 * Points for the 4-gram model's probability: GRAM_WEIGHT per unit of log-odds beyond
 * GRAM_DEAD_ZONE, within [GRAM_MIN_POINTS, GRAM_MAX_POINTS]; 0 when unsure.
 *
 * @example
 * gramPoints(0.99); // 3.89: logit 4.6, 2.6 beyond the dead zone, times 1.5
 */
export function gramPoints(probability: number): number {
  const opinion = logit(probability);
  const beyond = Math.sign(opinion) * Math.max(0, Math.abs(opinion) - GRAM_DEAD_ZONE);
  const points = Math.max(GRAM_MIN_POINTS, Math.min(GRAM_MAX_POINTS, GRAM_WEIGHT * beyond));
  return Math.round(points * 100) / 100 || 0; // never -0
}
