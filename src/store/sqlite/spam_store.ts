/**
 * The spam filter's state on SQLite (src/store/spam_types.ts has the model).
 *
 * Implementation notes:
 * - Token lists travel as one JSON array bound to `json_each`: one statement reads or learns a
 *   whole message's tokens, whatever their number, and no statement is prepared per list length.
 * - Learning commits relaxed (no fsync wait): a crash may forget the last judgements, which the
 *   user's next ones make up for; mail itself is never at stake.
 * - Unlearning floors counts at 0 and drops tokens that fall to 0 in both classes (their weight
 *   is then made only of the message's own steps).
 * - The global model's logistic step reads the message's weights and the bias and writes the
 *   update in the same IMMEDIATE transaction as the counts, in the same statements; spam_learnt
 *   keeps the step's delta and number so a changed mind takes back exactly what it added.
 * - Deleting an account deletes its model (trigger in migration 11) and its reputation rows.
 */
import { attempt, type Sql } from "./sql.ts";
import {
  GLOBAL_MODEL,
  type GreylistAnswer,
  type Judgement,
  type LearntStep,
  type ModelTotals,
  type SenderStats,
  type SpamStore,
  type TokenStats,
  type WeightModel,
} from "../spam_types.ts";
import { BIAS_SHARE, learningStep } from "../../spam/logistic.ts";

const DAY_MS = 86_400_000;

interface LearntRow {
  judgement: Judgement;
  delta: number;
  step: number;
}

/** A logistic update: its delta, the step number it was taken at, steps it adds (1 or 0). */
interface LogisticStep {
  delta: number;
  step: number;
  updates: number;
}

const NO_STEP: LogisticStep = { delta: 0, step: 0, updates: 0 };

export class SqliteSpamStore implements SpamStore {
  constructor(readonly sql: Sql) {}

  totals(model: number): Promise<ModelTotals> {
    return attempt(() => this.#totals(model));
  }

  #totals(model: number): ModelTotals {
    const row = this.sql.get(
      "SELECT ham, spam, bias, wbias, updates FROM spam_models WHERE model = ?",
      model,
    );
    return {
      ham: (row?.ham as number) ?? 0,
      spam: (row?.spam as number) ?? 0,
      bias: (row?.bias as number) ?? 0,
      wbias: (row?.wbias as number) ?? 0,
      updates: (row?.updates as number) ?? 0,
    };
  }

  tokenCounts(model: number, tokens: readonly number[]): Promise<Map<number, TokenStats>> {
    return attempt(() => {
      const counts = new Map<number, TokenStats>();
      if (tokens.length === 0) return counts;
      const rows = this.sql.arrays(
        `SELECT token, ham, spam, weight, wsum FROM spam_tokens
          WHERE model = ? AND token IN (SELECT value FROM json_each(?))`,
        model,
        JSON.stringify(tokens),
      );
      for (const row of rows) {
        counts.set(row[0] as number, {
          ham: row[1] as number,
          spam: row[2] as number,
          weight: row[3] as number,
          wsum: row[4] as number,
        });
      }
      return counts;
    });
  }

  learn(
    models: readonly number[],
    key: string,
    tokens: readonly number[],
    judgement: Judgement,
  ): Promise<number[]> {
    return attempt(() =>
      this.sql.transaction(() => {
        const list = JSON.stringify([...new Set(tokens)]);
        const day = Math.floor(Date.now() / DAY_MS);
        const changed: number[] = [];
        for (const model of new Set(models)) {
          const before = this.#learnt(model, key);
          if (before?.judgement === judgement) continue;
          const logistic = model === GLOBAL_MODEL;
          if (before) {
            const undo = logistic
              ? { delta: -before.delta, step: before.step, updates: 0 }
              : NO_STEP;
            this.#count(model, list, before.judgement, -1, day, undo);
          }
          const step = logistic ? this.#logisticStep(model, list, judgement) : NO_STEP;
          this.#count(model, list, judgement, 1, day, step);
          this.sql.run(
            `INSERT INTO spam_learnt (model, key, judgement, at, delta, step)
             VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT (model, key) DO UPDATE SET judgement = excluded.judgement,
               at = excluded.at, delta = excluded.delta, step = excluded.step`,
            model,
            key,
            judgement,
            Date.now(),
            logistic ? step.delta : null,
            logistic ? step.step : null,
          );
          changed.push(model);
        }
        return changed;
      }, "relaxed")
    );
  }

  learnt(model: number, key: string): Promise<Judgement | null> {
    return attempt(() => this.#learnt(model, key)?.judgement ?? null);
  }

  learntStep(model: number, key: string): Promise<LearntStep | null> {
    return attempt(() => {
      const row = this.#learnt(model, key);
      return row ? { key, judgement: row.judgement, delta: row.delta } : null;
    });
  }

  loadWeights(model: number): Promise<WeightModel> {
    return attempt(() => {
      const totals = this.#totals(model);
      const weights = new Map<number, number>();
      for (
        const [token, weight] of this.sql.arrays(
          "SELECT token, weight FROM spam_tokens WHERE model = ?",
          model,
        )
      ) {
        weights.set(token as number, weight as number);
      }
      return { totals, weights };
    });
  }

  addWeights(
    model: number,
    totals: ModelTotals,
    weights: readonly (readonly [number, number])[],
    learnt: readonly LearntStep[],
  ): Promise<ModelTotals> {
    return attempt(() =>
      this.sql.transaction(() => {
        const day = Math.floor(Date.now() / DAY_MS);
        if (weights.length > 0) {
          this.sql.run(
            `INSERT INTO spam_tokens (model, token, ham, spam, day, weight, wsum)
               SELECT ?, value ->> 0, 0, 0, ?, value ->> 1, 0 FROM json_each(?) WHERE true
             ON CONFLICT (model, token) DO UPDATE SET weight = weight + excluded.weight,
               day = excluded.day`,
            model,
            day,
            JSON.stringify(weights),
          );
        }
        this.sql.run(
          `INSERT INTO spam_models (model, ham, spam, bias, wbias, updates)
             VALUES (?, 0, 0, 0, 0, 0) ON CONFLICT (model) DO NOTHING`,
          model,
        );
        this.sql.run(
          `UPDATE spam_models SET ham = max(ham + ?, 0), spam = max(spam + ?, 0),
             bias = bias + ?, wbias = wbias + ?, updates = updates + ?
            WHERE model = ?`,
          totals.ham,
          totals.spam,
          totals.bias,
          totals.wbias,
          totals.updates,
          model,
        );
        for (const step of learnt) {
          this.sql.run(
            `INSERT INTO spam_learnt (model, key, judgement, at, delta, step)
             VALUES (?, ?, ?, ?, ?, NULL)
             ON CONFLICT (model, key) DO UPDATE SET judgement = excluded.judgement,
               at = excluded.at, delta = excluded.delta`,
            model,
            step.key,
            step.judgement,
            Date.now(),
            step.delta,
          );
        }
        return this.#totals(model);
      }, "relaxed")
    );
  }

  #learnt(model: number, key: string): LearntRow | null {
    const row = this.sql.get(
      "SELECT judgement, delta, step FROM spam_learnt WHERE model = ? AND key = ?",
      model,
      key,
    );
    if (!row) return null;
    return {
      judgement: row.judgement as Judgement,
      delta: (row.delta as number | null) ?? 0,
      step: (row.step as number | null) ?? 0,
    };
  }

  /** The logistic step for learning the listed tokens as `judgement`, from the current weights. */
  #logisticStep(model: number, list: string, judgement: Judgement): LogisticStep {
    const totals = this.sql.get(
      "SELECT bias, updates FROM spam_models WHERE model = ?",
      model,
    );
    const sum = this.sql.get(
      `SELECT total(weight) AS z FROM spam_tokens
        WHERE model = ? AND token IN (SELECT value FROM json_each(?))`,
      model,
      list,
    );
    const z = ((totals?.bias as number) ?? 0) + ((sum?.z as number) ?? 0);
    return {
      delta: learningStep(z, judgement),
      step: ((totals?.updates as number) ?? 0) + 1,
      updates: 1,
    };
  }

  /**
   * Adds `delta` (1 or -1) to the class `judgement` of the listed tokens and of the model, and
   * the logistic `step` to their weights (its delta, and step·delta to the running sums).
   */
  #count(
    model: number,
    list: string,
    judgement: Judgement,
    delta: 1 | -1,
    day: number,
    step: LogisticStep,
  ): void {
    const ham = judgement === "ham" ? 1 : 0;
    const spam = 1 - ham;
    const weighted = step.step * step.delta;
    if (delta > 0) {
      this.sql.run(
        `INSERT INTO spam_tokens (model, token, ham, spam, day, weight, wsum)
           SELECT ?, value, ?, ?, ?, ?, ? FROM json_each(?) WHERE true
         ON CONFLICT (model, token) DO UPDATE SET
           ham = ham + excluded.ham, spam = spam + excluded.spam, day = excluded.day,
           weight = weight + excluded.weight, wsum = wsum + excluded.wsum`,
        model,
        ham,
        spam,
        day,
        step.delta,
        weighted,
        list,
      );
    } else {
      this.sql.run(
        `UPDATE spam_tokens SET ham = max(ham - ?, 0), spam = max(spam - ?, 0),
           weight = weight + ?, wsum = wsum + ?
          WHERE model = ? AND token IN (SELECT value FROM json_each(?))`,
        ham,
        spam,
        step.delta,
        weighted,
        model,
        list,
      );
      this.sql.run(
        `DELETE FROM spam_tokens WHERE model = ? AND ham = 0 AND spam = 0
            AND token IN (SELECT value FROM json_each(?))`,
        model,
        list,
      );
    }
    this.sql.run(
      `INSERT INTO spam_models (model, ham, spam, bias, wbias, updates)
         VALUES (?, max(?, 0), max(?, 0), ?, ?, ?)
       ON CONFLICT (model) DO UPDATE SET
         ham = max(ham + ?, 0), spam = max(spam + ?, 0), bias = bias + excluded.bias,
         wbias = wbias + excluded.wbias, updates = updates + excluded.updates`,
      model,
      ham * delta,
      spam * delta,
      BIAS_SHARE * step.delta,
      BIAS_SHARE * weighted,
      step.updates,
      ham * delta,
      spam * delta,
    );
  }

  senderStats(
    accountId: number,
    identities: readonly string[],
  ): Promise<Map<string, SenderStats>> {
    return attempt(() => {
      const stats = new Map<string, SenderStats>();
      if (identities.length === 0) return stats;
      const rows = this.sql.arrays(
        `SELECT identity, ham, spam, sent FROM spam_senders
          WHERE account_id = ? AND identity IN (SELECT value FROM json_each(?))`,
        accountId,
        JSON.stringify(identities),
      );
      for (const row of rows) {
        stats.set(row[0] as string, {
          ham: row[1] as number,
          spam: row[2] as number,
          sent: row[3] as number,
        });
      }
      return stats;
    });
  }

  recordSenders(
    accountId: number,
    identities: readonly string[],
    event: "ham" | "spam" | "sent",
  ): Promise<void> {
    return attempt(() => {
      if (identities.length === 0) return;
      this.sql.transaction(() => {
        this.sql.run(
          `INSERT INTO spam_senders (account_id, identity, ham, spam, sent, last_seen)
             SELECT ?, value, ?, ?, ?, ? FROM json_each(?) WHERE true
           ON CONFLICT (account_id, identity) DO UPDATE SET
             ham = ham + excluded.ham, spam = spam + excluded.spam, sent = sent + excluded.sent,
             last_seen = excluded.last_seen`,
          accountId,
          event === "ham" ? 1 : 0,
          event === "spam" ? 1 : 0,
          event === "sent" ? 1 : 0,
          Date.now(),
          JSON.stringify([...new Set(identities)]),
        );
      }, "relaxed");
    });
  }

  greylist(
    key: string,
    now: number,
    delayMs: number,
    retryWindowMs: number,
    passTtlMs: number,
  ): Promise<GreylistAnswer> {
    return attempt(() =>
      this.sql.transaction((): GreylistAnswer => {
        const row = this.sql.get(
          "SELECT first_seen, last_seen, passed FROM spam_greylist WHERE key = ?",
          key,
        );
        const start = () => {
          this.sql.run(
            `INSERT INTO spam_greylist (key, first_seen, last_seen, passed) VALUES (?, ?, ?, 0)
             ON CONFLICT (key) DO UPDATE SET first_seen = ?, last_seen = ?, passed = 0`,
            key,
            now,
            now,
            now,
            now,
          );
          return "new" as const;
        };
        if (!row) return start();
        const first = row.first_seen as number;
        const last = row.last_seen as number;
        let answer: GreylistAnswer;
        if (row.passed) {
          if (now - last > passTtlMs) return start();
          answer = "pass";
        } else if (now - first < delayMs) answer = "early";
        else if (now - first > retryWindowMs) return start();
        else answer = "pass";
        this.sql.run(
          "UPDATE spam_greylist SET last_seen = ?, passed = ? WHERE key = ?",
          now,
          answer === "pass" ? 1 : 0,
          key,
        );
        return answer;
      }, "relaxed")
    );
  }

  pruneGreylist(passedBefore: number, waitingBefore: number): Promise<number> {
    return attempt(() =>
      Number(
        this.sql.run(
          `DELETE FROM spam_greylist
            WHERE (passed = 1 AND last_seen < ?) OR (passed = 0 AND first_seen < ?)`,
          passedBefore,
          waitingBefore,
        ).changes,
      )
    );
  }
}
