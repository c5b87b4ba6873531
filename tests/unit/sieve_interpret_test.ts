/** The Sieve interpreter (src/sieve/interpret.ts) on parsed scripts and real MIME messages. */
import { assertEquals, assertMatch } from "../helpers/assert.ts";
import { parseSieve } from "../../src/sieve/parser.ts";
import { runSieve, type SieveOutcome } from "../../src/sieve/interpret.ts";
import { parseMime } from "../../src/mail/mime.ts";
import type { Script } from "../../src/sieve/ast.ts";

const MESSAGE = [
  "Return-Path: <alice@example.net>",
  "From: Alice <alice@example.net>",
  "To: Bob <bob+lists@example.com>, carol@example.org",
  "Cc: =?UTF-8?B?R3LDvMOfZQ==?= <dave@example.com>",
  "Subject: [acme-users] [fwd] Weekly report",
  "Date: Tue, 1 Sep 2026 10:00:00 +0200",
  "X-Priority: 1",
  "X-Priority: 3",
  "Message-ID: <m1@example.net>",
  "",
  "The quarterly numbers are in.",
  "",
].join("\r\n");

function requiresOf(script: Script): Set<string> {
  const out = new Set<string>();
  for (const command of script.commands) {
    if (command.name !== "require") continue;
    for (const arg of command.arguments) {
      if (arg.kind === "string") out.add(arg.value);
      if (arg.kind === "stringList") arg.values.forEach((v) => out.add(v));
    }
  }
  return out;
}

function run(
  source: string,
  options: {
    message?: string;
    from?: string;
    to?: string;
    mailboxes?: string[];
    budget?: number;
  } = {},
): SieveOutcome {
  const script = parseSieve(source, { maxSize: 65536, maxNesting: 32 });
  const raw = new TextEncoder().encode(options.message ?? MESSAGE);
  const mime = parseMime(raw, { maxHeaderSize: 65536, maxDepth: 20, maxParts: 100 });
  const mailboxes = new Set(options.mailboxes ?? ["INBOX", "Lists", "Work"]);
  return runSieve(
    script,
    {
      raw,
      mime,
      envelope: {
        from: options.from ?? "alice@example.net",
        to: options.to ?? "bob+lists@example.com",
      },
      mailboxExists: (name) => mailboxes.has(name),
      now: new Date("2026-09-01T12:00:00Z"),
    },
    { maxActions: 32, maxRedirects: 4, budget: options.budget ?? 100_000 },
    requiresOf(script),
  );
}

const stored = (o: SieveOutcome) => [
  ...(o.keep ? [`keep ${o.keep.flags.join(" ")}`.trim()] : []),
  ...o.fileinto.map((f) => `fileinto ${f.mailbox} ${f.flags.join(" ")}`.trim()),
];

Deno.test("sieve run: implicit keep, fileinto cancels it, :copy keeps it, stop", () => {
  assertEquals(stored(run("")), ["keep"]);
  assertEquals(stored(run('require "fileinto"; fileinto "Work";')), ["fileinto Work"]);
  assertEquals(stored(run('require ["fileinto", "copy"]; fileinto :copy "Work";')), [
    "keep",
    "fileinto Work",
  ]);
  assertEquals(stored(run("discard;")), []);
  assertEquals(stored(run("discard; keep;")), ["keep"]);
  assertEquals(stored(run('require "fileinto"; stop; fileinto "Work";')), ["keep"]);
});

Deno.test("sieve run: header, address and envelope tests with match types", () => {
  const script = (test: string) =>
    `require ["fileinto", "envelope", "subaddress"]; if ${test} { fileinto "Work"; }`;
  const filed = (test: string) => stored(run(script(test)))[0] === "fileinto Work";
  assertEquals(filed('header :contains "subject" "weekly"'), true);
  assertEquals(filed('header :is "subject" "weekly"'), false);
  assertEquals(filed('header :matches "subject" "[*] *"'), true);
  assertEquals(filed('address :domain :is "to" "example.org"'), true);
  assertEquals(filed('address :localpart :is "from" "alice"'), true);
  assertEquals(filed('address :all :is "from" "Alice"'), false);
  assertEquals(filed('address :user "to" "bob"'), true);
  assertEquals(filed('address :detail "to" "lists"'), true);
  assertEquals(filed('address :detail "from" ""'), false);
  assertEquals(filed('envelope :domain "to" "example.com"'), true);
  assertEquals(filed('envelope :detail "to" "lists"'), true);
  // RFC 2047 decoded before matching.
  assertEquals(filed('header :contains "cc" "Grüße"'), true);
  assertEquals(filed('exists ["x-priority", "message-id"]'), true);
  assertEquals(filed('exists ["x-priority", "x-missing"]'), false);
  assertEquals(filed("size :over 100"), true);
  assertEquals(filed("size :under 100"), false);
  assertEquals(filed('anyof (false, not header :is "x-priority" "9")'), true);
  assertEquals(filed('allof (true, header :is "x-priority" "9")'), false);
});

Deno.test("sieve run: relational and comparators on repeated headers", () => {
  const filed = (test: string) =>
    stored(run(
      `require ["fileinto", "relational", "comparator-i;ascii-numeric"]; if ${test} { fileinto "Work"; }`,
    ))[0] === "fileinto Work";
  assertEquals(filed('header :value "lt" :comparator "i;ascii-numeric" "x-priority" "2"'), true);
  assertEquals(filed('header :count "eq" :comparator "i;ascii-numeric" "x-priority" "2"'), true);
  assertEquals(filed('address :count "ge" :comparator "i;ascii-numeric" ["to", "cc"] "3"'), true);
});

Deno.test("sieve run: variables, match variables and modifiers", () => {
  const outcome = run(`
    require ["fileinto", "variables", "mailbox"];
    if header :matches "subject" "[*] *" {
      set :lower :upperfirst "list" "\${1}";
      fileinto :create "Lists/\${list}";
    }`);
  assertEquals(outcome.fileinto.map((f) => [f.mailbox, f.create]), [["Lists/Acme-users", true]]);
  const length = run(`
    require ["variables", "fileinto"];
    set :length "n" "hello";
    if string :is "\${n}" "5" { fileinto "Work"; }`);
  assertEquals(stored(length), ["fileinto Work"]);
});

Deno.test("sieve run: imap4flags feed keep and fileinto", () => {
  const outcome = run(`
    require ["imap4flags", "fileinto"];
    setflag "\\\\Seen";
    addflag ["\\\\Flagged", "work"];
    removeflag "work";
    fileinto "Work";
    keep;`);
  assertEquals(stored(outcome), ["keep \\Seen \\Flagged", "fileinto Work \\Seen \\Flagged"]);
  const explicit = run(
    'require ["imap4flags", "fileinto"]; fileinto :flags "\\\\Answered" "Work";',
  );
  assertEquals(stored(explicit), ["fileinto Work \\Answered"]);
});

Deno.test("sieve run: redirect, reject, vacation and their limits", () => {
  const redirected = run('redirect "x@example.org"; redirect "X@example.org";');
  assertEquals(redirected.redirects, [{ address: "x@example.org", copy: false }]);
  assertEquals(redirected.keep, null);
  const many = run(
    Array.from({ length: 5 }, (_, i) => `redirect "r${i}@example.org";`).join(" "),
  );
  assertEquals(many.keep, { flags: [] }); // too many: error, implicit keep
  assertMatch(many.errors[0], /more than 4 redirects/);
  const rejected = run('require "reject"; reject "no thanks";');
  assertEquals(rejected.reject, { reason: "no thanks", extended: false });
  assertEquals(rejected.keep, null);
  const away = run('require "vacation"; vacation :days 3 :subject "Away" "I am away";');
  assertEquals(away.vacation?.period, 3 * 86400);
  assertEquals(away.vacation?.subject, "Away");
  assertEquals(away.keep, { flags: [] });
  // 200 tests fit the budget of 1,000 steps; a budget of 100 stops the run, which keeps the
  // message and drops the script's fileinto.
  const tests = 'require "fileinto"; ' +
    Array.from({ length: 200 }, () => 'if header :contains "subject" "x" { stop; }').join(" ") +
    ' fileinto "Work";';
  assertEquals(stored(run(tests, { budget: 1000 })), ["fileinto Work"]);
  const stopped = run(tests, { budget: 100 });
  assertMatch(stopped.errors[0], /execution budget/);
  assertEquals(stored(stopped), ["keep"]);
});

Deno.test("sieve run: date, editheader and body", () => {
  const filed = (test: string) =>
    stored(
      run(`require ["fileinto", "date", "relational", "body"]; if ${test} { fileinto "Work"; }`),
    )[0] ===
      "fileinto Work";
  assertEquals(filed('date :is "date" "date" "2026-09-01"'), true);
  assertEquals(filed('date :zone "+0000" :is "date" "hour" "08"'), true);
  assertEquals(filed('currentdate :is "year" "2026"'), true);
  assertEquals(filed('body :text :contains "quarterly"'), true);
  assertEquals(filed('body :text :contains "annual"'), false);
  const edited = run(`
    require ["editheader"];
    addheader "X-Sieve" "seen";
    deleteheader "x-priority";
    if exists "x-sieve" { if not exists "x-priority" { discard; } }`);
  assertEquals(edited.discard, true);
  assertEquals(edited.headerEdits.length, 2);
});
