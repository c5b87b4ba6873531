/**
 * Postern's Sieve against Pigeonhole's answers: every case of tests/fixtures/sieve (whose
 * expected outcomes come from Dovecot's sieve-test; tests/interop/sieve_pigeonhole_corpus_test.ts
 * keeps them honest) runs through compileSieve and runSieve, and the outcome, written in the
 * corpus's normalized lines, must equal the expected file — except the cases listed in
 * tests/fixtures/sieve/DIVERGENCES.md, each with its reason. A listed case that starts to agree
 * fails the test too, so the list only ever shrinks to what is deliberate.
 */
import { assertEquals } from "../helpers/assert.ts";
import { CORPUS_DIR, loadCorpus, type SieveCase } from "../helpers/sieve_corpus.ts";
import { compileSieve } from "../../src/sieve/compile.ts";
import { runSieve } from "../../src/sieve/interpret.ts";

import { parseMime } from "../../src/mail/mime.ts";
import { parseHeaderFields, unfold } from "../../src/mail/headers.ts";
import { shouldReply } from "../../src/mail/vacation.ts";
import { applyHeaderEdits, parseMailto } from "../../src/sieve/deliver.ts";
import type { ParsedMessage } from "../../src/mail/ingest.ts";

const quote = (text: string) => JSON.stringify(text);
const SPECIAL_USE: Record<string, string[]> = { Junk: ["\\Junk"], Sent: ["\\Sent"] };
const flagList = (flags: string[]) =>
  `flags=[${[...new Set(flags.map((f) => f.toLowerCase()))].sort().join(" ")}]`;

/** The normalized action lines (tests/fixtures/sieve/README.md) of Postern's outcome. */
function postern(test: SieveCase): string[] {
  const compiled = compileSieve(test.script, {
    maxSize: 1 << 20,
    maxNesting: 64,
  });
  if (!compiled.ok) return ["invalid", "keep flags=[]"];
  const raw = test.message;
  const mime = parseMime(raw, { maxHeaderSize: 1 << 20, maxDepth: 50, maxParts: 1000 });
  const fields = parseHeaderFields(raw, mime.headerStart, mime.headerEnd)
    .map((f): [string, string] => [f.name.toLowerCase(), unfold(f.raw).trim()]);
  const header = (name: string) => fields.find(([n]) => n === name)?.[1];
  const spamScore = Number(header("x-spam-score") ?? NaN);
  const mailboxes = new Set(["INBOX", ...test.mailboxes]);
  const outcome = runSieve(
    compiled.script,
    {
      raw,
      mime,
      // The envelope recipient as given in RCPT TO, before alias resolution (Postern's delivery
      // passes the same).
      envelope: { from: test.envelope.from, to: test.envelope.originalTo ?? test.envelope.to },
      mailboxExists: (name) => mailboxes.has(name.toUpperCase() === "INBOX" ? "INBOX" : name),
      // dovecot.conf gives Junk and Sent their special-use attributes.
      specialUseOf: (name) => mailboxes.has(name) ? SPECIAL_USE[name] ?? [] : [],
      include: (name) => {
        // personal/NAME.sieve beside the case's script, compiled as an upload would be.
        let source: string;
        try {
          source = Deno.readTextFileSync(`${test.dir}/personal/${name}.sieve`);
        } catch {
          return null;
        }
        const included = compileSieve(source, {
          maxSize: 1 << 20,
          maxNesting: 64,
        });
        return included.ok ? { script: included.script, requires: included.requires } : null;
      },
      specialUseExists: (attribute) =>
        Object.entries(SPECIAL_USE).some(([name, attributes]) =>
          mailboxes.has(name) && attributes.some((a) => a.toLowerCase() === attribute)
        ),
      spam: Number.isNaN(spamScore) ? null : { score: spamScore, percent: spamScore * 10 },
      virus: header("x-virus-score") === undefined ? null : Number(header("x-virus-score")),
      now: new Date(),
    },
    { maxActions: 32, maxRedirects: 4, budget: 1_000_000 },
    compiled.requires,
  );
  if (outcome.errors.length) return ["error", "keep flags=[]"];
  const lines: string[] = [];
  if (outcome.keep) lines.push(`keep ${flagList(outcome.keep.flags)}`);
  for (const target of outcome.fileinto) {
    if (target.mailbox.toUpperCase() === "INBOX") {
      lines.push(`keep ${flagList(target.flags)}`);
      continue;
    }
    let line = `fileinto ${quote(target.mailbox)} ${flagList(target.flags)}`;
    if (target.create) line += " create";
    if (target.specialUse) line += ` specialuse=${target.specialUse}`;
    lines.push(line);
  }
  for (const redirect of outcome.redirects) lines.push(`redirect ${quote(redirect.address)}`);
  if (outcome.reject) lines.push(`reject ${quote(outcome.reject.reason.replace(/\r?\n/g, "??"))}`);
  if (outcome.discard) lines.push("discard");
  for (const notification of outcome.notifications) {
    const mailto = parseMailto(notification.method);
    if (!mailto) {
      lines.push(`unknown ${quote(notification.method)}`);
      continue;
    }
    let line = `notify "mailto" importance=${notification.importance}`;
    if (notification.from !== null) line += ` from=${quote(notification.from)}`;
    const subject = mailto.subject ?? notification.message;
    if (subject !== null) line += ` subject=${quote(subject)}`;
    const recipients = [
      ...mailto.to.map((a) => `To: ${a}`),
      ...mailto.cc.map((a) => `Cc: ${a}`),
    ];
    lines.push(`${line} recipients=[${recipients.join(", ")}]`);
  }
  // Pigeonhole prints the handle only when the script gives one.
  for (const tracked of outcome.duplicates) {
    lines.push(
      tracked.handle === null ? "duplicate-track" : `duplicate-track ${quote(tracked.handle)}`,
    );
  }
  if (outcome.vacation) {
    const v = outcome.vacation;
    const own = new Set([test.envelope.to, ...v.addresses].map((a) => a.toLowerCase()));
    const decision = shouldReply(
      {
        isEnabled: true,
        fromDate: null,
        toDate: null,
        subject: v.subject,
        textBody: v.reason,
        htmlBody: null,
      },
      { returnPath: test.envelope.from, fields },
      new Date(),
      (address) => own.has(address.toLowerCase()),
    );
    if (decision.reply) {
      let line = `vacation to=${quote(test.envelope.from)} seconds=${v.period}`;
      if (v.subject !== null) line += ` subject=${quote(v.subject)}`;
      if (v.from !== null) line += ` from=${quote(v.from)}`;
      line += ` mime=${v.mime ? "yes" : "no"} reason=${quote(v.reason.replace(/\r\n/g, "\n"))}`;
      lines.push(line);
    } else {
      const codes: Record<string, string> = {
        "not addressed to the recipient": "recipient-not-in-headers",
        "automatic service": "system-address",
        "mailing list": "mailing-list",
        "auto-submitted": "auto-submitted",
        "precedence": "precedence",
        "own address": "own-address",
      };
      lines.push(`vacation-skipped ${codes[decision.reason] ?? quote(decision.reason)}`);
    }
  }
  if (test.checkHeaders) {
    // The header fields each stored copy gets (editheader), as delivery writes them.
    const edited = applyHeaderEdits(raw, { mime } as ParsedMessage, outcome);
    const text = new TextDecoder().decode(edited).replaceAll("\r\n", "\n").split("\n\n")[0];
    const fieldsOut = text.replace(/\n[ \t]/g, " ").split("\n");
    const targets = [
      ...(outcome.keep ? ["INBOX"] : []),
      ...outcome.fileinto.map((f) => f.mailbox.toUpperCase() === "INBOX" ? "INBOX" : f.mailbox),
    ];
    for (const mailbox of new Set(targets)) {
      lines.push(`headers ${quote(mailbox)} [${fieldsOut.map(quote).join(", ")}]`);
    }
  }
  return [...new Set(lines)].sort();
}

/** Case name → reason, from DIVERGENCES.md ("- `name`: reason" lines). */
async function divergences(): Promise<Map<string, string>> {
  const text = await Deno.readTextFile(`${CORPUS_DIR}DIVERGENCES.md`).catch(() => "");
  const map = new Map<string, string>();
  for (const match of text.matchAll(/^- `([^`]+)`: (.+)$/gm)) map.set(match[1], match[2]);
  return map;
}

Deno.test("sieve corpus: Postern's outcomes equal Pigeonhole's, or the divergence is listed", async () => {
  const corpus = await loadCorpus();
  const listed = await divergences();
  const unexpected: string[] = [];
  const fixed: string[] = [];
  let agree = 0;
  for (const test of corpus) {
    const actual = postern(test);
    const same = JSON.stringify(actual) === JSON.stringify(test.expected);
    if (same) agree++;
    if (!same && !listed.has(test.name)) {
      unexpected.push(
        `${test.name}\n  expected ${JSON.stringify(test.expected)}\n  actual   ${
          JSON.stringify(actual)
        }`,
      );
    }
    if (same && listed.has(test.name)) fixed.push(test.name);
  }
  console.log(`sieve corpus: ${agree} of ${corpus.length} cases agree with Pigeonhole`);
  if (Deno.env.get("SIEVE_CORPUS_REPORT")) console.log(unexpected.join("\n"));
  assertEquals(unexpected, [], "cases that differ from Pigeonhole and are not in DIVERGENCES.md");
  assertEquals(fixed, [], "cases in DIVERGENCES.md that agree now: remove them from the list");
});
