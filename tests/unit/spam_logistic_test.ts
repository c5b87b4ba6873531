import { assert, assertEquals } from "../helpers/assert.ts";
import { mulberry32 } from "../helpers/random.ts";
import {
  averagedProbability,
  BIAS_SHARE,
  blend,
  DEAD_ZONE,
  GRAM_DEAD_ZONE,
  GRAM_MAX_POINTS,
  GRAM_MIN_POINTS,
  GRAM_RATE,
  GRAM_WEIGHT,
  gramPoints,
  gramProbability,
  gramStep,
  LEARNING_RATE,
  learningStep,
  type LogisticTotals,
  logit,
  sigmoid,
  type TokenWeight,
} from "../../src/spam/logistic.ts";

function near(actual: number, expected: number, within = 1e-12): void {
  assert(Math.abs(actual - expected) < within, `${actual} is not ${expected}`);
}

/** Learns as the store does for the global model. */
function learn(
  totals: LogisticTotals,
  weights: Map<number, TokenWeight>,
  tokens: number[],
  judgement: "spam" | "ham",
): void {
  let z = totals.bias;
  for (const token of tokens) z += weights.get(token)?.weight ?? 0;
  const delta = learningStep(z, judgement);
  const step = totals.updates + 1;
  totals.bias += BIAS_SHARE * delta;
  totals.wbias += BIAS_SHARE * step * delta;
  totals.updates++;
  for (const token of tokens) {
    const w = weights.get(token) ?? { weight: 0, wsum: 0 };
    w.weight += delta;
    w.wsum += step * delta;
    weights.set(token, w);
  }
}

Deno.test("logistic: sigmoid and logit are inverse, and logit stays finite", () => {
  for (const p of [0.01, 0.3, 0.5, 0.9]) near(sigmoid(logit(p)), p);
  assert(Number.isFinite(logit(0)) && Number.isFinite(logit(1)));
  assertEquals(sigmoid(0), 0.5);
});

Deno.test("logistic: a step moves towards the judgement, by the rate times the error", () => {
  near(learningStep(0, "spam"), LEARNING_RATE / 2);
  near(learningStep(0, "ham"), -LEARNING_RATE / 2);
  assert(learningStep(10, "spam") < 1e-5);
});

Deno.test("logistic: the averaged weights are the mean of the weights after each step", () => {
  const totals: LogisticTotals = { bias: 0, wbias: 0, updates: 0 };
  const weights = new Map<number, TokenWeight>();
  const history: number[] = [];
  const random = mulberry32(7);
  for (let i = 0; i < 50; i++) {
    const spam = random() < 0.4;
    learn(totals, weights, spam ? [1, 2] : [1, 3], spam ? "spam" : "ham");
    history.push(weights.get(2)?.weight ?? 0);
  }
  // w − wsum/C, C = steps + 1, is the mean of the weight over the steps and the zero before.
  const mean = history.reduce((a, b) => a + b, 0) / (history.length + 1);
  const w = weights.get(2)!;
  near(w.weight - w.wsum / (totals.updates + 1), mean);
  assert(averagedProbability(totals, weights, [1, 2]) > 0.5);
  assert(averagedProbability(totals, weights, [1, 3]) < 0.5);
  assertEquals(averagedProbability({ bias: 0, wbias: 0, updates: 0 }, new Map(), [1]), 0.5);
});

Deno.test("logistic: blend counts only a confident second opinion, by its weight", () => {
  assertEquals(blend(0.9, 0.5, 0.3), 0.9);
  assertEquals(blend(0.9, sigmoid(DEAD_ZONE - 0.1), 0.3), 0.9);
  assertEquals(blend(0.9, 0.999, 0), 0.9);
  near(blend(0.9, sigmoid(DEAD_ZONE + 2), 0.5), sigmoid(logit(0.9) + 1), 1e-9);
  near(blend(0.9, sigmoid(-DEAD_ZONE - 2), 0.5), sigmoid(logit(0.9) - 1), 1e-9);
});

Deno.test("gram model: the step is normalised by the square root of the 4-grams' number", () => {
  near(gramStep(0, 0, 400, "spam"), GRAM_RATE * 0.5 / 20);
  near(gramStep(0, 0, 400, "ham"), -GRAM_RATE * 0.5 / 20);
  // A message already scored spammy moves the weights less.
  assert(gramStep(0, 40, 400, "spam") < gramStep(0, 0, 400, "spam"));
  // No grams: no division by zero.
  near(gramStep(0, 0, 0, "spam"), GRAM_RATE * 0.5);
  const weights = new Map([[1, { weight: 20, wsum: 0 }], [2, { weight: 20, wsum: 0 }]]);
  near(gramProbability(0, weights, [1, 2, 3, 4]), sigmoid(40 / 2));
  near(gramProbability(0.5, new Map(), []), sigmoid(0.5));
});

Deno.test("gram model: points grow past the dead zone and stay within their bounds", () => {
  assertEquals(gramPoints(0.5), 0);
  assertEquals(gramPoints(sigmoid(GRAM_DEAD_ZONE * 0.99)), 0);
  assertEquals(gramPoints(sigmoid(-GRAM_DEAD_ZONE * 0.99)), 0);
  near(gramPoints(sigmoid(GRAM_DEAD_ZONE + 1)), GRAM_WEIGHT, 0.01);
  near(gramPoints(sigmoid(-GRAM_DEAD_ZONE - 0.5)), -GRAM_WEIGHT / 2, 0.01);
  assertEquals(gramPoints(1), GRAM_MAX_POINTS);
  assertEquals(gramPoints(0), GRAM_MIN_POINTS);
  // Monotonic over the whole range.
  let last = -Infinity;
  for (let z = -30; z <= 30; z += 0.25) {
    const points = gramPoints(sigmoid(z));
    assert(points >= last, `points fell at z = ${z}`);
    last = points;
  }
});
