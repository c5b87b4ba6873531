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
