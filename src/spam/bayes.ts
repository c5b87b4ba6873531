/**
 * The token classifier: Robinson's per-token probability and Fisher's chi-square combining, as
 * SpamBayes and SpamAssassin's Bayes do, over a global model and the recipient account's own.
 *
 * Implementation notes:
 * - A model is its totals (messages learnt as ham H and spam S) and per-token counts (h, s: how
 *   many of those messages held the token). A token's spam probability in one model is
 *   p = (s/S) / (s/S + h/H), the ratios taken per class so an unbalanced training set does not
 *   tilt it (a class never learnt gives ratio 0).
 * - Robinson's f(w) shrinks p towards x = 0.5 by the evidence n = h + s, with strength
 *   STRENGTH = 0.45: f = (STRENGTH·x + n·p) / (STRENGTH + n). The two models blend in one sum,
 *   each observation weighed by how far its model is trusted:
 *     f = (STRENGTH·x + c_g·n_g·p_g + A·w_a·n_a·p_a) / (STRENGTH + c_g·n_g + A·w_a·n_a)
 * - c = maturity(H, S) is 0 while a model learnt fewer than MATURE_MIN (10) of either class
 *   and grows linearly to 1 at MATURE_FULL (50): a barely trained model moves f nowhere, so
 *   it cannot push a verdict.
 * - A = ACCOUNT_WEIGHT · max(1, c_g·N_g / N_a), N the messages a model learnt: per token, the
 *   account's relative frequency counts ACCOUNT_WEIGHT (5) times the global one however much
 *   larger the global model is. Where the account has an opinion it wins; tokens it never saw
 *   are left to the global model. A token the global model finds only in ham and the account
 *   only in spam, equally often relatively, gets f = 5/6.
 * - w_a = max(c_a, coverage gate). An immature account model still counts in full for a
 *   message when it knows at least COVERAGE_FULL (80%) of the message's tokens, not at all
 *   below COVERAGE_NONE (50%), linearly between. So one message learnt as spam makes that
 *   message and near copies of it junk for the account at once, while the account's other
 *   mail, which shares only common words with it, is left to the global model.
 * - Tokens with |f − 0.5| < MIN_STRENGTH (0.1) say nothing and are dropped; the MAX_CLUES
 *   (200) strongest of the rest are combined by Fisher's method. With n clues and C⁻¹ the
 *   chi-square survival function with 2n degrees of freedom, S = 1 − C⁻¹(−2·Σ ln(1 − f)) and
 *   H = 1 − C⁻¹(−2·Σ ln f) say how improbably spammy and hammy the clues are for chance; the
 *   probability is (S − H + 1) / 2: near 1 when spammy clues stand out and hammy ones do not,
 *   near 0 the other way round, near 0.5 when both or neither do ("unsure").
 * - bayesSymbol turns the probability into points along a fixed piecewise-linear curve
 *   (SPAM_POINTS, HAM_POINTS): 4 points at p = 0.97, 5 (the default junk threshold) near
 *   p = 0.985, 5.5 from p = 0.999. MAX_CLUES and the knees were chosen by five-fold
 *   cross-validation on the training part of the SpamAssassin corpus (`deno task bench spam
 *   --tune`), never on its test part. With 5 points at p = 0.97 Bayes junked hard ham alone
 *   (marketing newsletters at p 0.97..0.99); the curve now leaves the last point below 0.985 to
 *   the 4-gram model (logistic.ts, NGRAM_SPAM) or the rules. With the 4-gram model and the
 *   default rules, over three training orders (`--tune --orders 3`): 2..5 (mean 3.3) of 3,320
 *   ham and 34..43 (mean 39) of 1,517 spam wrong; with the old curve 4..5 and 39..51; before the
 *   4-gram model, 4 and 57 (one order).
 * - withLogistic blends in the global logistic model (logistic.ts) before the points are read.
 */
import type { TokenCounts } from "../store/spam_types.ts";
import { blend, BLEND_WEIGHT } from "./logistic.ts";
import type { SpamSymbol } from "./types.ts";

/** What the classifier needs of a model: totals and the counts of the message's tokens. */
export interface ModelView {
  totals: TokenCounts;
  /** Counts of (at least) the message's tokens; tokens never learnt are absent. */
  counts: Map<number, TokenCounts>;
}

export interface BayesResult {
  /** Spam probability, 0..1; 0.5 when nothing is known. */
  probability: number;
  /** Number of tokens that took part (the clues). */
  used: number;
}

const STRENGTH = 0.45;
const UNKNOWN_PROBABILITY = 0.5;
const MIN_STRENGTH = 0.1;
const MAX_CLUES = 200;
const ACCOUNT_WEIGHT = 5;
const MATURE_MIN = 10;
const MATURE_FULL = 50;
const COVERAGE_NONE = 0.5;
const COVERAGE_FULL = 0.8;
/** Keeps ln() finite. */
const EPSILON = 1e-9;

/**
 * How far a model with these totals is trusted, 0..1.
 *
 * @example
 * maturity({ ham: 5, spam: 500 }); // 0
 */
export function maturity(totals: TokenCounts): number {
  const least = Math.min(totals.ham, totals.spam);
  if (least < MATURE_MIN) return 0;
  return Math.min(1, (least - MATURE_MIN) / (MATURE_FULL - MATURE_MIN));
}

function tokenProbability(counts: TokenCounts, totals: TokenCounts): number {
  const spamRatio = totals.spam > 0 ? Math.min(1, counts.spam / totals.spam) : 0;
  const hamRatio = totals.ham > 0 ? Math.min(1, counts.ham / totals.ham) : 0;
  const sum = spamRatio + hamRatio;
  return sum > 0 ? spamRatio / sum : UNKNOWN_PROBABILITY;
}

function accountWeight(tokens: readonly number[], account: ModelView, global: number): number {
  const learnt = account.totals.ham + account.totals.spam;
  if (learnt === 0) return 0;
  const scale = ACCOUNT_WEIGHT * Math.max(1, global / learnt);
  const trusted = maturity(account.totals);
  if (trusted >= 1 || tokens.length === 0) return scale * trusted;
  let known = 0;
  for (const token of tokens) {
    const counts = account.counts.get(token);
    if (counts !== undefined && counts.ham + counts.spam > 0) known++;
  }
  const coverage = known / tokens.length;
  const gate = Math.min(
    1,
    Math.max(0, (coverage - COVERAGE_NONE) / (COVERAGE_FULL - COVERAGE_NONE)),
  );
  return scale * Math.max(trusted, gate);
}

/** Chi-square survival function for an even number of degrees of freedom. */
function chi2Q(x2: number, degrees: number): number {
  const m = x2 / 2;
  let term = Math.exp(-m);
  let sum = term;
  for (let i = 1; i < degrees / 2; i++) {
    term *= m / i;
    sum += term;
  }
  return Math.min(sum, 1);
}

/**
 * Classifies a message's tokens against the global model and, if given, the account's model.
 *
 * @example
 * const result = classify(tokenize(facts), globalView, accountView);
 * bayesSymbol(result); // { name: "BAYES_SPAM", score: 5.5, detail: "0.9990" } or null
 */
export function classify(
  tokens: readonly number[],
  global: ModelView,
  account: ModelView | null,
): BayesResult {
  const globalWeight = maturity(global.totals);
  const globalLearnt = globalWeight * (global.totals.ham + global.totals.spam);
  const ownWeight = account === null ? 0 : accountWeight(tokens, account, globalLearnt);
  if (globalWeight === 0 && ownWeight === 0) return { probability: 0.5, used: 0 };
  const clues: number[] = [];
  for (const token of tokens) {
    let numerator = STRENGTH * UNKNOWN_PROBABILITY;
    let denominator = STRENGTH;
    if (globalWeight > 0) {
      const counts = global.counts.get(token);
      if (counts !== undefined) {
        const n = globalWeight * (counts.ham + counts.spam);
        numerator += n * tokenProbability(counts, global.totals);
        denominator += n;
      }
    }
    if (ownWeight > 0) {
      const counts = account!.counts.get(token);
      if (counts !== undefined) {
        const n = ownWeight * (counts.ham + counts.spam);
        numerator += n * tokenProbability(counts, account!.totals);
        denominator += n;
      }
    }
    const f = numerator / denominator;
    if (Math.abs(f - 0.5) >= MIN_STRENGTH) clues.push(f);
  }
  if (clues.length === 0) return { probability: 0.5, used: 0 };
  if (clues.length > MAX_CLUES) {
    clues.sort((a, b) => Math.abs(b - 0.5) - Math.abs(a - 0.5));
    clues.length = MAX_CLUES;
  }
  let lnHam = 0;
  let lnSpam = 0;
  for (const f of clues) {
    lnHam += Math.log(Math.max(f, EPSILON));
    lnSpam += Math.log(Math.max(1 - f, EPSILON));
  }
  const degrees = 2 * clues.length;
  const spamminess = 1 - chi2Q(-2 * lnSpam, degrees);
  const hamminess = 1 - chi2Q(-2 * lnHam, degrees);
  return { probability: (spamminess - hamminess + 1) / 2, used: clues.length };
}

/**
 * The classification with the global logistic model's probability (logistic.ts) blended in,
 * weighed by the global model's maturity; unchanged when Bayes knew nothing or the global model
 * is immature.
 *
 * @example
 * withLogistic(classify(tokens, global, account), global.totals, averagedProbability(...));
 */
export function withLogistic(
  result: BayesResult,
  globalTotals: TokenCounts,
  logistic: number,
): BayesResult {
  const weight = BLEND_WEIGHT * maturity(globalTotals);
  if (result.used === 0 || weight === 0) return result;
  return { ...result, probability: blend(result.probability, logistic, weight) };
}

/** Probability → points on the spam side, linear between the knees, flat past the last. */
const SPAM_POINTS: readonly [number, number][] = [[0.7, 0], [0.9, 2], [0.97, 4], [0.999, 5.5]];
/** The ham side, from 0.3 down. */
const HAM_POINTS: readonly [number, number][] = [[0.3, 0], [0.1, -1], [0.01, -2]];

function interpolate(x: number, knees: readonly [number, number][]): number {
  const rising = knees[knees.length - 1][0] > knees[0][0];
  for (let i = 1; i < knees.length; i++) {
    const [x0, y0] = knees[i - 1];
    const [x1, y1] = knees[i];
    if (rising ? x <= x1 : x >= x1) return y0 + (y1 - y0) * (x - x0) / (x1 - x0);
  }
  return knees[knees.length - 1][1];
}

/**
 * The symbol for a classification: BAYES_SPAM (positive points) or BAYES_HAM (negative), with
 * the probability in `detail`; null when it is unsure (0.3..0.7) or nothing was known.
 *
 * @example
 * bayesSymbol({ probability: 0.999, used: 150 }); // { name: "BAYES_SPAM", score: 5.5, detail: "0.9990" }
 */
export function bayesSymbol(result: BayesResult): SpamSymbol | null {
  const p = result.probability;
  if (result.used === 0 || (p > HAM_POINTS[0][0] && p < SPAM_POINTS[0][0])) return null;
  const detail = p.toFixed(4);
  if (p >= SPAM_POINTS[0][0]) {
    return { name: "BAYES_SPAM", score: round2(interpolate(p, SPAM_POINTS)), detail };
  }
  return { name: "BAYES_HAM", score: round2(interpolate(p, HAM_POINTS)), detail };
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
