/**
 * The spam filter's pipeline: analysis, rules, DNS block lists, the classifier (global and per
 * account), sender reputation and the optional LLM verdict, summed into a score and a verdict
 * per message and per recipient account. Also the one way anything learns (train).
 *
 * Implementation notes:
 * - A message is parsed and analysed once (analyze.ts); rules and DNS lists are per message;
 *   the classifier and reputation are per account, so one message can be junk for one
 *   recipient and ham for another. `message` is the verdict with the global model alone.
 * - DNS lists and the global model's counts are fetched in parallel; each account model costs
 *   one more read of the message's tokens.
 * - The global model is two classifiers over the same tokens: Bayes and averaged logistic
 *   regression (logistic.ts), blended in log-odds once the global model is mature; per-account
 *   models are Bayes only. Logistic regression learns online, so the order it is trained in
 *   matters: train ham and spam interleaved, not one folder after the other.
 * - A third classifier, global too, reads character 4-grams (GRAM_MODEL, logistic.ts): its
 *   symbol NGRAM_SPAM / NGRAM_HAM counts for the message and every account once the global
 *   model is mature. It learns whatever the global model learns, under the same key.
 * - The LLM is asked at most once per message, only when some account's score lies in the
 *   uncertain band; its symbol then counts for every account.
 * - Scoring never throws for a message: a message the MIME parser refuses (limits) is scored
 *   on nothing and gets the symbol MIME_UNPARSABLE; the delivery path refuses it anyway.
 * - Learning keys a message by the SHA-256 of its bytes: the same message judged twice counts
 *   once, and a changed judgement is unlearnt first (SpamStore.learn).
 */
import { MimeLimitError, type MimeLimits, parseMime } from "../mail/mime.ts";
import { sha256Hex } from "../store/blobs.ts";
import {
  GLOBAL_MODEL,
  type Judgement,
  type ModelTotals,
  type SpamStore,
  type TokenStats,
} from "../store/spam_types.ts";
import { analyzeMessage } from "./analyze.ts";
import { dnsListRules, evaluateRules, type RuleSet } from "./rules.ts";
import { gramTokens, tokenize } from "./tokenize.ts";
import { bayesSymbol, classify, maturity, withLogistic } from "./bayes.ts";
import { averagedProbability, gramPoints } from "./logistic.ts";
import { GramModel } from "./gram_model.ts";
import type { DnsLists } from "./dnsbl.ts";
import type { LlmClassifier } from "./llm.ts";
import { reputationSymbols, senderIdentities } from "./reputation.ts";
import type { Envelope, MessageFacts, SpamResult, SpamSymbol, SpamVerdict } from "./types.ts";

export interface SpamSettings {
  junkThreshold: number;
  /** 0: never reject. */
  rejectThreshold: number;
  /** The score band [low, high) in which the LLM is asked. */
  llmBand: [number, number];
  reputation: boolean;
}

export interface SpamEngineOptions {
  store: SpamStore;
  settings: SpamSettings;
  rules: RuleSet;
  /** Our authserv-id: only Authentication-Results with it are believed. */
  authservId: string;
  mimeLimits: MimeLimits;
  dnsLists?: DnsLists | null;
  llm?: LlmClassifier | null;
}

export interface Scored {
  /** The verdict with the global model alone (rules, lists, LLM, global classifier). */
  message: SpamResult;
  /** The verdict for each account asked about. */
  accounts: Map<number, SpamResult>;
}

/** A model as read from the store: what Bayes needs, plus the logistic weights. */
interface StoredModel {
  totals: ModelTotals;
  counts: Map<number, TokenStats>;
}

const NO_ENVELOPE: Envelope = {
  sender: "",
  recipients: [],
  remoteAddress: "",
  helo: "",
  authenticated: false,
};

export class SpamEngine {
  readonly #options: SpamEngineOptions;
  readonly #dnsRules;
  readonly #grams: GramModel;

  constructor(options: SpamEngineOptions) {
    this.#options = options;
    this.#dnsRules = dnsListRules(options.rules);
    this.#grams = new GramModel(options.store);
  }

  /** Writes back what the in-memory 4-gram model learnt; call before the store closes. */
  close(): Promise<void> {
    return this.#grams.close();
  }

  get settings(): SpamSettings {
    return this.#options.settings;
  }

  /** Scores a message for the global model and for each of `accountIds`. */
  async score(raw: Uint8Array, envelope: Envelope, accountIds: readonly number[]): Promise<Scored> {
    const facts = this.#facts(raw, envelope);
    if (!facts) {
      const symbols = [{ name: "MIME_UNPARSABLE", score: 0 }];
      const result = this.#result(symbols);
      return { message: result, accounts: new Map(accountIds.map((id) => [id, result])) };
    }
    const { store, dnsLists } = this.#options;
    const tokens = tokenize(facts);
    const grams = gramTokens(facts);
    const [listed, global, gram] = await Promise.all([
      dnsLists && this.#dnsRules.length > 0
        ? dnsLists.check(this.#dnsRules, facts)
        : Promise.resolve([]),
      this.#model(GLOBAL_MODEL, tokens),
      this.#grams.probability(grams),
    ]);
    const base = [...evaluateRules(this.#options.rules, facts), ...listed];
    const ngram = gramSymbol(global.totals, gram);
    if (ngram) base.push(ngram);
    const logistic = averagedProbability(global.totals, global.counts, tokens);
    const classified = (account: StoredModel | null) =>
      withLogistic(classify(tokens, global, account), global.totals, logistic);
    const globalBayes = bayesSymbol(classified(null));
    const messageSymbols = globalBayes ? [...base, globalBayes] : [...base];
    const perAccount = new Map<number, SpamSymbol[]>();
    const identities = senderIdentities(facts);
    for (const accountId of new Set(accountIds)) {
      const account = await this.#model(accountId, tokens);
      const bayes = bayesSymbol(classified(account));
      const symbols = bayes ? [...base, bayes] : [...base];
      if (this.#options.settings.reputation && identities.proven.length > 0) {
        const stats = await store.senderStats(accountId, identities.proven);
        symbols.push(...reputationSymbols(identities, stats));
      }
      perAccount.set(accountId, symbols);
    }
    const llm = await this.#askLlm(facts, [messageSymbols, ...perAccount.values()]);
    if (llm) {
      messageSymbols.push(llm);
      for (const symbols of perAccount.values()) symbols.push(llm);
    }
    const accounts = new Map<number, SpamResult>();
    for (const [id, symbols] of perAccount) accounts.set(id, this.#result(symbols));
    return { message: this.#result(messageSymbols), accounts };
  }

  /**
   * Learns a message as spam or ham: the global model always, and `accountId`'s model and
   * sender reputation when given. Returns false when nothing changed (already learnt so).
   */
  async train(raw: Uint8Array, judgement: Judgement, accountId: number | null): Promise<boolean> {
    const facts = this.#facts(raw, NO_ENVELOPE);
    if (!facts) return false;
    const models = accountId === null ? [GLOBAL_MODEL] : [GLOBAL_MODEL, accountId];
    const { store } = this.#options;
    const key = sha256Hex(raw);
    const changed = await store.learn(models, key, tokenize(facts), judgement);
    if (changed.includes(GLOBAL_MODEL)) await this.#grams.learn(key, gramTokens(facts), judgement);
    if (accountId !== null && changed.includes(accountId)) {
      const { proven } = senderIdentities(facts);
      await store.recordSenders(accountId, proven, judgement);
    }
    return changed.length > 0;
  }

  #facts(raw: Uint8Array, envelope: Envelope): MessageFacts | null {
    try {
      const mime = parseMime(raw, this.#options.mimeLimits);
      return analyzeMessage(raw, mime, envelope, this.#options.authservId);
    } catch (error) {
      if (error instanceof MimeLimitError) return null;
      throw error;
    }
  }

  async #model(model: number, tokens: number[]): Promise<StoredModel> {
    const { store } = this.#options;
    const totals = await store.totals(model);
    if (totals.ham + totals.spam === 0) return { totals, counts: new Map() };
    return { totals, counts: await store.tokenCounts(model, tokens) };
  }

  async #askLlm(facts: MessageFacts, lists: SpamSymbol[][]): Promise<SpamSymbol | null> {
    const { llm, settings } = this.#options;
    if (!llm) return null;
    const [low, high] = settings.llmBand;
    const uncertain = lists.some((symbols) => {
      const score = total(symbols);
      return score >= low && score < high;
    });
    return uncertain ? await llm.classify(facts) : null;
  }

  #result(symbols: SpamSymbol[]): SpamResult {
    const score = total(symbols);
    const { junkThreshold, rejectThreshold } = this.#options.settings;
    const verdict: SpamVerdict = rejectThreshold > 0 && score >= rejectThreshold
      ? "reject"
      : score >= junkThreshold
      ? "junk"
      : "ham";
    return { score, verdict, symbols: [...symbols].sort((a, b) => b.score - a.score) };
  }
}

/**
 * The 4-gram model's symbol: NGRAM_SPAM or NGRAM_HAM with its points (logistic.ts gramPoints)
 * and probability, or null while the global model is immature or the 4-gram model unsure.
 */
function gramSymbol(globalTotals: ModelTotals, probability: number | null): SpamSymbol | null {
  if (maturity(globalTotals) < 1 || probability === null) return null;
  const score = gramPoints(probability);
  if (score === 0) return null;
  return { name: score > 0 ? "NGRAM_SPAM" : "NGRAM_HAM", score, detail: probability.toFixed(4) };
}

function total(symbols: readonly SpamSymbol[]): number {
  return Math.round(symbols.reduce((sum, s) => sum + s.score, 0) * 100) / 100;
}

/**
 * The header fields describing a result, each ending in CR LF: X-Spam-Status (SpamAssassin's
 * form, which mail clients' filters know), X-Spam-Score and X-Spam-Result (the symbols).
 */
export function spamHeaders(result: SpamResult, junkThreshold: number): string {
  const flag = result.verdict === "ham" ? "No" : "Yes";
  const status = `X-Spam-Status: ${flag}, score=${result.score.toFixed(2)} required=${
    junkThreshold.toFixed(1)
  }\r\n`;
  const items = result.symbols.map((s) =>
    `${s.name}(${s.score.toFixed(2)})${s.detail ? `[${headerSafe(s.detail)}]` : ""}`
  );
  let line = "X-Spam-Result:";
  const lines: string[] = [];
  for (const [index, item] of items.entries()) {
    const piece = ` ${item}${index < items.length - 1 ? "," : ""}`;
    if (line.length + piece.length > 78 && line.length > 14) {
      lines.push(line);
      line = " ";
    }
    line += piece;
  }
  lines.push(items.length ? line : `${line} none`);
  return status + `X-Spam-Score: ${result.score.toFixed(2)}\r\n` + lines.join("\r\n") + "\r\n";
}

/** Detail text made safe for a header: printable ASCII without brackets, at most 60 chars. */
function headerSafe(text: string): string {
  return text.replace(/[^\x21-\x7e ]|[\[\]]/g, "?").slice(0, 60);
}

/**
 * The Sieve spamtest values (RFC 5235, RFC 3685): `score` 1..10 and `percent` 0..100, with the
 * junk threshold at 50%.
 */
export function sieveSpamValue(
  result: SpamResult,
  junkThreshold: number,
): { score: number; percent: number } {
  const percent = Math.max(0, Math.min(100, Math.round(50 * result.score / junkThreshold)));
  return { score: 1 + Math.floor(percent * 9 / 100), percent };
}
