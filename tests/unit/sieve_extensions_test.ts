/**
 * Sieve extensions the interpreter carries out beyond the base language, on real MIME messages:
 * body :content (RFC 5173 5), and the others as they are added.
 */
import { assertEquals } from "../helpers/assert.ts";
import { compileSieve } from "../../src/sieve/compile.ts";
import {
  IMPLEMENTED_EXTENSIONS,
  runSieve,
  type SieveEnvironment,
  type SieveOutcome,
} from "../../src/sieve/interpret.ts";
import { parseMime } from "../../src/mail/mime.ts";

const MULTIPART = [
  "From: alice@example.net",
  "To: bob@example.com",
  "Subject: report",
  "MIME-Version: 1.0",
  'Content-Type: multipart/mixed; boundary="b1"',
  "",
  "This is a multi-part message in MIME format.",
  "--b1",
  "Content-Type: text/plain; charset=utf-8",
  "Content-Transfer-Encoding: quoted-printable",
  "",
  "Gr=C3=BC=C3=9Fe from the plain part",
  "--b1",
  'Content-Type: text/html; charset="utf-8"',
  "",
  "<p>the <b>html</b> part</p>",
  "--b1",
  'Content-Type: application/pdf; name="q3.pdf"',
  "Content-Disposition: attachment; filename=q3.pdf",
  "Content-Transfer-Encoding: base64",
  "",
  btoa("%PDF-1.4 quarterly"),
  "--b1--",
  "",
].join("\r\n");

function run(
  source: string,
  message = MULTIPART,
  extra: Partial<SieveEnvironment> = {},
): SieveOutcome {
  const compiled = compileSieve(source, {
    maxSize: 65536,
    maxNesting: 32,
    enabled: new Set(IMPLEMENTED_EXTENSIONS),
  });
  if (!compiled.ok) throw new Error(compiled.errors[0].message);
  const raw = new TextEncoder().encode(message);
  const mime = parseMime(raw, { maxHeaderSize: 65536, maxDepth: 20, maxParts: 100 });
  return runSieve(
    compiled.script,
    {
      raw,
      mime,
      envelope: { from: "alice@example.net", to: "bob@example.com" },
      mailboxExists: (name) => ["INBOX", "Work"].includes(name),
      ...extra,
    },
    { maxActions: 32, maxRedirects: 4, budget: 100_000 },
    compiled.requires,
  );
}

const filed = (outcome: SieveOutcome) => outcome.fileinto.map((f) => f.mailbox);

Deno.test("body :content: a text part is searched decoded, in UTF-8", () => {
  const outcome = run(`require ["body", "fileinto"];
    if body :content "text/plain" :contains "Grüße" { fileinto "Work"; }`);
  assertEquals(outcome.errors, []);
  assertEquals(filed(outcome), ["Work"]);
});

Deno.test("body :content: a type alone matches its subtypes; HTML keeps its tags", () => {
  assertEquals(
    filed(run(`require ["body", "fileinto"];
      if body :content "text" :contains "<b>html</b>" { fileinto "Work"; }`)),
    ["Work"],
  );
  assertEquals(
    filed(run(`require ["body", "fileinto"];
      if body :content "text/plain" :contains "<b>html</b>" { fileinto "Work"; }`)),
    [],
  );
});

Deno.test("body :content: a base64 attachment is searched with its encoding removed", () => {
  assertEquals(
    filed(run(`require ["body", "fileinto"];
      if body :content "application/pdf" :contains "PDF-1.4" { fileinto "Work"; }`)),
    ["Work"],
  );
});

Deno.test("body :content: a multipart is searched in its prologue only, not its children", () => {
  assertEquals(
    filed(run(`require ["body", "fileinto"];
      if body :content "multipart" :contains "multi-part message" { fileinto "Work"; }`)),
    ["Work"],
  );
  assertEquals(
    filed(run(`require ["body", "fileinto"];
      if body :content "multipart" :contains "plain part" { fileinto "Work"; }`)),
    [],
  );
});
