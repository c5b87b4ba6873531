/**
 * `deno task bench sieve [--messages N] [--rules R]`: compile a generated script of R rules
 * (header, address and envelope tests with :is, :contains and :matches, a few :regex; fileinto
 * and addflag) and print the compile time; then run it in-process against N generated messages
 * (bench/corpus.ts), parsed beforehand, and print the total and per-message time with the
 * limits of a default `[sieve]` section.
 *
 * No peer figure: Pigeonhole's sieve-test starts a process per message (and compiles the script
 * each time), so a side-by-side ratio would measure process start-up, not the interpreter.
 */
import { parseArgs } from "node:util";
import { configSchema } from "../src/config/schema.ts";
import { compileSieve } from "../src/sieve/compile.ts";
import { runSieve, type SieveEnvironment } from "../src/sieve/interpret.ts";
import { type MimePart, parseMime } from "../src/mail/mime.ts";
import { makeMessage } from "./corpus.ts";

const PHRASES = [
  "quarterly report",
  "invoice budget",
  "project update",
  "security notice",
  "travel hotel",
  "meeting agenda",
  "shipping delivery",
  "customer order",
];
const WORDS = ["report", "invoice", "meeting", "deadline", "password", "proposal", "lunch"];

/** One rule of the generated script, by its number. */
function rule(i: number): string {
  const phrase = PHRASES[i % PHRASES.length];
  const word = WORDS[i % WORDS.length];
  const folder = `Folder/${i}`;
  if (i % 25 === 7) {
    return `if header :regex "subject" "^(re|fwd): .*${word} [a-z]+" { fileinto "${folder}"; }`;
  }
  switch (i % 6) {
    case 0:
      return `if header :contains "subject" "${phrase}" { fileinto "${folder}"; }`;
    case 1:
      return `if address :is :domain "from" "d${i}.example.org" { fileinto "${folder}"; stop; }`;
    case 2:
      return `if envelope :matches "from" "sender${i % 97}@*" { addflag "$from${i % 97}"; }`;
    case 3:
      return `if header :matches "subject" "*${word}*${phrase.split(" ")[1]}*" ` +
        `{ addflag "\\\\Flagged"; }`;
    case 4:
      return `if allof (address :localpart :is "to" "list${i}", ` +
        `header :contains "list-id" "<l${i}.example.org>") { fileinto "Lists/${i}"; }`;
    default:
      return `if anyof (header :is "x-priority" "${i % 5}", ` +
        `address :all :contains "from" "boss${i}@") { addflag "urgent${i}"; }`;
  }
}

export function makeScript(rules: number): string {
  const lines = ['require ["fileinto", "envelope", "imap4flags", "regex"];'];
  for (let i = 0; i < rules; i++) lines.push(rule(i));
  return lines.join("\r\n") + "\r\n";
}

export function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      messages: { type: "string", default: "10000" },
      rules: { type: "string", default: "200" },
    },
  });
  const count = Number(values.messages);
  const rules = Number(values.rules);
  const config = configSchema.parse({});
  const source = makeScript(rules);
  const options = {
    maxSize: Math.max(config.sieve.max_script_size, source.length),
    maxNesting: config.sieve.max_nesting_depth,
  };

  let started = performance.now();
  const compiled = compileSieve(source, options);
  const firstCompile = performance.now() - started;
  if (!compiled.ok) throw new Error(`the generated script does not compile: ${compiled.errors}`);
  const repeats = 100;
  started = performance.now();
  for (let i = 0; i < repeats; i++) compileSieve(source, options);
  const meanCompile = (performance.now() - started) / repeats;
  console.log(
    `compile: ${rules} rules, ${(source.length / 1024).toFixed(1)} KiB: first ` +
      `${firstCompile.toFixed(2)} ms, mean of ${repeats} ${meanCompile.toFixed(3)} ms`,
  );

  const raws = Array.from({ length: count }, (_, i) => makeMessage(i, 2048 + (i * 7919) % 16384));
  const limits = {
    maxHeaderSize: config.limits.max_header_size,
    maxDepth: config.limits.max_mime_depth,
    maxParts: config.limits.max_mime_parts,
  };
  started = performance.now();
  const parsed: MimePart[] = raws.map((raw) => parseMime(raw, limits));
  const parseMs = performance.now() - started;
  console.log(
    `corpus: ${count} messages, 2–18 KB, parsed in ${parseMs.toFixed(0)} ms (not counted below)`,
  );

  const sieveLimits = {
    maxActions: config.sieve.max_actions,
    maxRedirects: config.sieve.max_redirects,
    budget: config.sieve.max_steps,
  };
  let filed = 0;
  let flagged = 0;
  let failed = 0;
  started = performance.now();
  for (let i = 0; i < count; i++) {
    const env: SieveEnvironment = {
      raw: raws[i],
      mime: parsed[i],
      envelope: { from: `sender${i % 97}@example.net`, to: "alice@example.com" },
      mailboxExists: () => true,
    };
    const outcome = runSieve(compiled.script, env, sieveLimits, compiled.requires);
    if (outcome.fileinto.length > 0) filed++;
    if ((outcome.keep?.flags.length ?? 0) > 0) flagged++;
    if (outcome.errors.length > 0) failed++;
  }
  const runMs = performance.now() - started;
  console.log(
    `run: ${count} messages in ${runMs.toFixed(0)} ms, ${(runMs * 1000 / count).toFixed(1)} µs ` +
      `a message, ${(count / (runMs / 1000)).toFixed(0)} messages/s`,
  );
  console.log(`outcomes: ${filed} filed, ${flagged} kept with flags, ${failed} run-time errors`);
  return Promise.resolve();
}
