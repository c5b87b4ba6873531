/**
 * Sieve extensions the interpreter carries out beyond the base language, on real MIME messages:
 * body :content (RFC 5173 5); mime, foreverypart, extracttext (RFC 5703); duplicate (RFC 7352);
 * special-use (RFC 8579); mailboxid (RFC 9042); include (RFC 6609).
 */
import { assertEquals } from "../helpers/assert.ts";
import { compileSieve } from "../../src/sieve/compile.ts";
import { runSieve, type SieveEnvironment, type SieveOutcome } from "../../src/sieve/interpret.ts";
import { parseMime } from "../../src/mail/mime.ts";
import { SieveRuntime } from "../../src/sieve/runtime.ts";
import type { Store, StoredEmail } from "../../src/store/types.ts";
import { SqliteStore } from "../../src/store/sqlite/store.ts";
import { BlobStore } from "../../src/store/blobs.ts";
import { ChangeBus } from "../../src/store/bus.ts";
import { MessagePath } from "../../src/mail/ingest.ts";
import { DEFAULT_MAILBOXES } from "../../src/directory/mailboxes.ts";
import { Directory } from "../../src/directory/directory.ts";
import { AuthLimiter } from "../../src/directory/ratelimit.ts";
import { LoginCache } from "../../src/directory/login_cache.ts";
import { decodeEncodedWords, parseHeaderFields, unfold } from "../../src/mail/headers.ts";
import { deliverWithSieve, parseMailto } from "../../src/sieve/deliver.ts";

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

Deno.test("mime: :type, :subtype, :contenttype and :param read the Content-Type pieces", () => {
  const outcome = run(`require ["mime", "fileinto"];
    if allof (header :mime :type "Content-Type" "multipart",
              header :mime :subtype "Content-Type" "mixed",
              header :mime :contenttype "Content-Type" "multipart/mixed",
              header :mime :param "boundary" "Content-Type" "b1") { fileinto "Work"; }`);
  assertEquals(outcome.errors, []);
  assertEquals(filed(outcome), ["Work"]);
});

Deno.test("mime: without a Content-Type field :type has no default to match", () => {
  const plain = "From: a@example.net\r\nSubject: x\r\n\r\nhello\r\n";
  assertEquals(
    filed(run(
      `require ["mime", "fileinto"];
      if header :mime :type "Content-Type" "text" { fileinto "Work"; }`,
      plain,
    )),
    [],
  );
});

Deno.test("mime: :anychild looks at every part under the current one", () => {
  assertEquals(
    filed(run(`require ["mime", "fileinto"];
      if exists :mime :anychild "Content-Disposition" { fileinto "Work"; }`)),
    ["Work"],
  );
  assertEquals(
    filed(run(`require ["mime", "fileinto"];
      if exists :mime "Content-Disposition" { fileinto "Work"; }`)),
    [],
  );
  assertEquals(
    filed(run(`require ["mime", "fileinto"];
      if header :mime :anychild :param "filename" "Content-Disposition" "q3.pdf"
      { fileinto "Work"; }`)),
    ["Work"],
  );
});

Deno.test("foreverypart: the message and each part once; break leaves the loop", () => {
  const count = run(`require ["foreverypart", "variables", "fileinto", "mailbox"];
    set "n" ""; foreverypart { set "n" "\${n}x"; } fileinto :create "N\${n}";`);
  assertEquals(filed(count), ["Nxxxx"]);
  const broken = run(`require ["foreverypart", "mime", "variables", "fileinto", "mailbox"];
    set "n" "";
    foreverypart { set "n" "\${n}x";
      if header :mime :subtype "Content-Type" "html" { break; } }
    fileinto :create "N\${n}";`);
  assertEquals(filed(broken), ["Nxxx"]);
});

Deno.test("foreverypart: a nested loop visits the parts under the outer loop's part", () => {
  const outcome = run(`require ["foreverypart", "mime", "variables", "fileinto", "mailbox"];
    set "n" "";
    foreverypart :name "outer" {
      foreverypart { set "n" "\${n}x"; break :name "outer"; }
    }
    fileinto :create "N\${n}";`);
  assertEquals(outcome.errors, []);
  assertEquals(filed(outcome), ["Nx"]);
});

Deno.test("extracttext: the current part's decoded text, :first characters, modifiers", () => {
  const outcome = run(`require ["extracttext", "foreverypart", "mime", "variables", "fileinto"];
    foreverypart {
      if header :mime :subtype "Content-Type" "plain" { extracttext :first 5 :upper "plain"; }
      if header :mime :subtype "Content-Type" "html" { extracttext "html"; }
    }
    if allof (string :is "\${plain}" "GRÜSSE", string :contains "\${html}" "the html part",
              not string :contains "\${html}" "<b>") { fileinto "Work"; }`);
  assertEquals(outcome.errors, []);
  assertEquals(filed(outcome), ["Work"]);
});

Deno.test("duplicate: asks the list, and returns the ids to record after a successful run", () => {
  const asked: string[] = [];
  const seen = new Set(["\u0000<m1@example.net>"]);
  const message = "Message-ID: <m1@example.net>\r\nSubject: s\r\n\r\nbody\r\n";
  const outcome = run(
    `require ["duplicate", "fileinto"];
    if duplicate { fileinto "Work"; }
    if duplicate :uniqueid "x" :handle "h" :seconds 60 :last { discard; }`,
    message,
    {
      duplicate: (id) => {
        asked.push(id);
        return seen.has(id);
      },
    },
  );
  assertEquals(asked, ["\u0000<m1@example.net>", "h\u0000x"]);
  assertEquals(filed(outcome), ["Work"]);
  assertEquals(outcome.discard, false);
  assertEquals(outcome.duplicates, [
    { id: "\u0000<m1@example.net>", handle: null, seconds: 7 * 86400, last: false },
    { id: "h\u0000x", handle: "h", seconds: 60, last: true },
  ]);
});

Deno.test("duplicate: a second test of one id in a run answers alike; no id, no test", () => {
  const outcome = run(`require ["duplicate", "fileinto"];
    if duplicate { fileinto "Work"; }
    if not duplicate { fileinto "INBOX"; }
    if duplicate :header "X-None" { discard; }`);
  assertEquals(outcome.errors, []);
  assertEquals(filed(outcome), ["INBOX"]);
  assertEquals(outcome.duplicates, []);
  const twice = run(
    `require "duplicate"; if duplicate { discard; } if duplicate { discard; }`,
    "Message-ID: <m2@example.net>\r\n\r\nx\r\n",
  );
  assertEquals(twice.errors, []);
  assertEquals(twice.duplicates.length, 1);
});

const ROLES: Partial<SieveEnvironment> = {
  specialUseOf: (name) => name === "Junk" ? ["\\Junk"] : [],
  specialUseExists: (attribute) => attribute.toLowerCase() === "\\junk",
  mailboxIdExists: (id) => id === "M7",
};

Deno.test("special-use: specialuse_exists with and without a mailbox; fileinto :specialuse", () => {
  const outcome = run(
    `require ["special-use", "fileinto"];
    if allof (specialuse_exists "\\\\junk", not specialuse_exists "\\\\Archive",
              not specialuse_exists "Work" "\\\\Junk") {
      fileinto :specialuse "\\\\Junk" "Spam";
    }`,
    MULTIPART,
    { ...ROLES, mailboxExists: (name) => ["INBOX", "Work", "Junk"].includes(name) },
  );
  assertEquals(outcome.errors, []);
  assertEquals(outcome.fileinto.map((f) => [f.mailbox, f.specialUse]), [["Spam", "\\Junk"]]);
});

Deno.test("mailboxid: mailboxidexists and fileinto :mailboxid", () => {
  const outcome = run(
    `require ["mailboxid", "fileinto"];
    if allof (mailboxidexists "M7", not mailboxidexists ["M7", "M8"]) {
      fileinto :mailboxid "M7" "Work";
    }`,
    MULTIPART,
    ROLES,
  );
  assertEquals(outcome.errors, []);
  assertEquals(outcome.fileinto.map((f) => [f.mailbox, f.mailboxId]), [["Work", "M7"]]);
});

function personal(scripts: Record<string, string>): Partial<SieveEnvironment> {
  return {
    include: (name) => {
      if (!(name in scripts)) return null;
      const compiled = compileSieve(scripts[name], {
        maxSize: 65536,
        maxNesting: 32,
      });
      if (!compiled.ok) throw new Error(compiled.errors[0].message);
      return { script: compiled.script, requires: compiled.requires };
    },
  };
}

Deno.test("include: a personal script's actions join the outcome; return ends it only", () => {
  const outcome = run(
    `require ["include", "fileinto"]; include :personal "sub"; fileinto "After";`,
    MULTIPART,
    personal({ sub: `require ["include", "fileinto"]; fileinto "Sub"; return; discard;` }),
  );
  assertEquals(outcome.errors, []);
  assertEquals(filed(outcome), ["Sub", "After"]);
  assertEquals(outcome.discard, false);
});

Deno.test("include: variables are the script's own unless both declare them global", () => {
  const outcome = run(
    `require ["include", "variables", "fileinto"];
    global "box"; set "box" "Work"; set "local" "Work";
    include "sub";
    fileinto "\${box}-\${local}";`,
    MULTIPART,
    personal({
      sub: `require ["include", "variables", "fileinto"];
        global "box"; fileinto "\${box}\${local}"; set "box" "Changed"; set "local" "Sub";`,
    }),
  );
  assertEquals(outcome.errors, []);
  assertEquals(filed(outcome), ["Work", "Changed-Work"]);
});

Deno.test("include: :once, :optional, no global scripts, loops and depth fail", () => {
  const once = run(
    `require ["include", "imap4flags"]; include :once "sub"; include :once "sub";`,
    MULTIPART,
    personal({ sub: `require "imap4flags"; addflag "x\${n}"; addflag "y";` }),
  );
  assertEquals(once.errors, []);
  assertEquals(once.keep, { flags: ["x${n}", "y"] });
  const optional = run(`require "include"; include :optional "nope"; discard;`);
  assertEquals([optional.errors, optional.discard], [[], true]);
  assertEquals(run(`require "include"; include "nope";`).errors.length, 1);
  assertEquals(run(`require "include"; include :global "g";`).errors.length, 1);
  const loop = run(
    `require "include"; include "a";`,
    MULTIPART,
    personal({ a: `require "include"; include "b";`, b: `require "include"; include "a";` }),
  );
  assertEquals(loop.keep, { flags: [] });
  assertEquals(loop.errors.length, 1);
  const chain: Record<string, string> = {};
  for (let i = 0; i < 20; i++) chain[`s${i}`] = `require "include"; include "s${i + 1}";`;
  chain.s20 = "discard;";
  const deep = run(`require "include"; include "s0";`, MULTIPART, personal(chain));
  assertEquals(deep.errors.length, 1);
  assertEquals(deep.discard, false);
});

Deno.test("SieveRuntime: the active script comes with the personal scripts it includes", async () => {
  const scripts: Record<string, string> = {
    main: `require "include"; include "a"; if true { include :optional "missing"; }`,
    a: `require "include"; include "b"; include :global "g";`,
    b: `require "include"; include "a"; discard;`,
    unused: `discard;`,
  };
  const store = {
    getActiveSieveScript: () => Promise.resolve({ name: "main", content: scripts.main }),
    getSieveScript: (_: number, name: string) =>
      Promise.resolve(name in scripts ? { name, content: scripts[name] } : null),
  } as unknown as Store;
  const runtime = new SieveRuntime(store, {
    maxActions: 32,
    maxRedirects: 4,
    budget: 100_000,
    maxScriptSize: 65536,
    maxNesting: 32,
    maxScripts: 32,
  });
  const active = await runtime.scriptFor(1);
  assertEquals([...active!.includes.keys()].sort(), ["a", "b"]);
});

Deno.test("regex: a pattern that does not compile or nests quantifiers fails the script", () => {
  // A constant bad pattern is refused when the script is compiled (compile.ts); one made with
  // variables fails the run, and the message is kept.
  const bad = compileSieve(
    `require ["regex", "fileinto"];
    if header :regex "subject" "(" { fileinto "Work"; }`,
    { maxSize: 65536, maxNesting: 32 },
  );
  assertEquals(bad.ok, false);
  const nested = run(`require ["regex", "variables", "fileinto"];
    set "p" "(a+)+$"; if header :regex "subject" "\${p}" { fileinto "Work"; }`);
  assertEquals(nested.errors.length, 1);
  const good = run(`require ["regex", "fileinto"];
    if header :regex "subject" "^rep(o)rt$" { fileinto "Work"; }`);
  assertEquals(filed(good), ["Work"]);
});

Deno.test("enotify: :encodeurl percent-encodes all but unreserved characters; :from is kept", () => {
  const outcome = run(`require ["variables", "enotify"];
    set :encodeurl "s" "a b&c/ü!~";
    notify :from "me@example.com" :message "\${s}" "mailto:carol@example.org";`);
  assertEquals(outcome.errors, []);
  assertEquals(outcome.notifications, [{
    method: "mailto:carol@example.org",
    message: "a%20b%26c%2F%C3%BC%21~",
    importance: "2",
    from: "me@example.com",
  }]);
});

Deno.test("parseMailto: recipients from the path, to= and cc=, and a decoded subject", () => {
  assertEquals(
    parseMailto("mailto:a@example.org,b@example.org?cc=c%40example.org&subject=Hi%20there"),
    { to: ["a@example.org", "b@example.org"], cc: ["c@example.org"], subject: "Hi there" },
  );
  assertEquals(parseMailto("xmpp:a@example.org"), null);
});

const parsedReplacement = (outcome: SieveOutcome) => {
  const raw = outcome.replacement!;
  return {
    text: new TextDecoder().decode(raw),
    mime: parseMime(raw, { maxHeaderSize: 65536, maxDepth: 20, maxParts: 100 }),
  };
};

Deno.test("replace: outside a loop the body goes, other fields stay, :subject and :from", () => {
  const outcome = run(`require "replace";
    replace :subject "Neu: Grüße" :from "filter@example.com" "The attachment was removed.";`);
  assertEquals(outcome.errors, []);
  const { text, mime } = parsedReplacement(outcome);
  assertEquals([mime.type, mime.subtype], ["text", "plain"]);
  const header = text.split("\r\n\r\n")[0];
  assertEquals(header.includes("To: bob@example.com"), true);
  assertEquals(header.includes("Original-Subject: report"), true);
  assertEquals(header.includes("Original-From: alice@example.net"), true);
  assertEquals(header.includes("From: filter@example.com"), true);
  assertEquals(header.includes("Subject: =?"), true);
  assertEquals(header.includes("multipart/mixed"), false);
  assertEquals(text.endsWith("The attachment was removed."), true);
});

Deno.test("replace: inside foreverypart only the current part is replaced", () => {
  const outcome = run(`require ["replace", "foreverypart", "mime"];
    foreverypart {
      if header :mime :contenttype "Content-Type" "application/pdf" {
        replace :mime "Content-Type: text/plain\r\n\r\nPDF removed, Grüße";
      }
    }`);
  assertEquals(outcome.errors, []);
  const { text, mime } = parsedReplacement(outcome);
  assertEquals(mime.parts.map((p) => `${p.type}/${p.subtype}`), [
    "text/plain",
    "text/html",
    "text/plain",
  ]);
  assertEquals(text.includes("PDF removed, Grüße"), true);
  assertEquals(text.includes("Gr=C3=BC=C3=9Fe from the plain part"), true);
});

Deno.test("enclose: a new message with a text part and the original as message/rfc822", () => {
  const outcome = run(`require "enclose";
    enclose :subject "Quarantined" :headers ["from", "to"] "This message was quarantined.";`);
  assertEquals(outcome.errors, []);
  const { text, mime } = parsedReplacement(outcome);
  assertEquals([mime.type, mime.subtype], ["multipart", "mixed"]);
  assertEquals(mime.parts.map((p) => `${p.type}/${p.subtype}`), ["text/plain", "message/rfc822"]);
  const header = text.split("\r\n\r\n")[0];
  assertEquals(header.includes("From: alice@example.net"), true);
  assertEquals(header.includes("Subject: Quarantined"), true);
  assertEquals(mime.parts[1].message?.subtype, "mixed");
  assertEquals(run(`require "fileinto"; fileinto "Work";`).replacement, null);
});

/** Delivery (sieve/deliver.ts) on a real store: the extensions' effects in the mailboxes. */
async function withDelivery(
  work: (deliver: (script: string, message?: string) => Promise<StoredEmail | null>, ctx: {
    store: SqliteStore;
    blobs: BlobStore;
    accountId: number;
    mailboxId: (role: string) => number;
  }) => Promise<void>,
) {
  const dir = await Deno.makeTempDir({ prefix: "postern-sieve-" });
  const store = new SqliteStore({ path: `${dir}/db.sqlite` });
  const blobs = new BlobStore(`${dir}/blobs`);
  await blobs.init();
  try {
    const domain = await store.createDomain("example.com");
    const account = await store.createAccount({
      address: "bob@example.com",
      domainId: domain.id,
      displayName: "",
      quota: 0,
      passwordHash: null,
      mailboxes: DEFAULT_MAILBOXES,
    });
    const path = new MessagePath(store, blobs, new ChangeBus(), {
      maxMessageSize: 1 << 20,
      maxHeaderSize: 65536,
      maxMimeDepth: 20,
      maxMimeParts: 100,
    });
    const runtime = new SieveRuntime(store, {
      maxActions: 32,
      maxRedirects: 4,
      budget: 100_000,
      maxScriptSize: 65536,
      maxNesting: 32,
      maxScripts: 32,
    });
    const mailboxes = await store.listMailboxes(account.id, { counts: false });
    const directory = new Directory(store, {
      subAddressSeparator: "+",
      defaultQuota: 0,
      argon2: { memoryKiB: 8, iterations: 1, parallelism: 1 },
      limiter: new AuthLimiter({
        maxFailuresPerIp: 10,
        maxFailuresPerAccount: 10,
        windowSeconds: 60,
      }),
      loginCache: new LoginCache({ ttlSeconds: 0 }),
    });
    await work(async (script, message = MULTIPART) => {
      await store.putSieveScript(account.id, "main", script, 10);
      await store.setActiveSieveScript(account.id, "main");
      const active = await runtime.scriptFor(account.id);
      return await deliverWithSieve({
        path,
        directory,
        account,
        parsed: path.prepare(new TextEncoder().encode(message)),
        envelopeTo: account.address,
        script: active!,
        limits: runtime.limits,
      });
    }, {
      store,
      blobs,
      accountId: account.id,
      mailboxId: (role) => mailboxes.find((m) => m.role === role)!.id,
    });
    directory.close();
  } finally {
    await blobs.close();
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const placedIn = (email: StoredEmail | null) => email!.memberships.map((m) => m.mailboxId);

Deno.test("delivery: duplicate remembers a Message-ID across deliveries", async () => {
  await withDelivery(async (deliver, { mailboxId }) => {
    const script = `require ["duplicate", "fileinto"]; if duplicate { fileinto "Trash"; }`;
    const message = `Message-ID: <dup@example.net>\r\nSubject: d\r\n\r\nx\r\n`;
    assertEquals(placedIn(await deliver(script, message)), [mailboxId("inbox")]);
    assertEquals(placedIn(await deliver(script, message)), [mailboxId("trash")]);
  });
});

Deno.test("delivery: :specialuse and :mailboxid choose the mailbox before its name", async () => {
  await withDelivery(async (deliver, { mailboxId }) => {
    assertEquals(
      placedIn(
        await deliver(`require ["special-use", "fileinto"];
        fileinto :specialuse "\\\\Junk" "Spam";`),
      ),
      [mailboxId("junk")],
    );
    assertEquals(
      placedIn(
        await deliver(`require ["mailboxid", "fileinto"];
        fileinto :mailboxid "M${mailboxId("archive")}" "Nope";`),
      ),
      [mailboxId("archive")],
    );
  });
});

Deno.test("delivery: include runs a personal script; replace changes the stored bytes", async () => {
  await withDelivery(async (deliver, { store, blobs, accountId, mailboxId }) => {
    await store.putSieveScript(accountId, "sub", `require "fileinto"; fileinto "Trash";`, 10);
    assertEquals(
      placedIn(await deliver(`require "include"; include "sub";`)),
      [mailboxId("trash")],
    );
    const stored = await deliver(`require "replace"; replace :subject "Short" "Gone.";`);
    assertEquals(stored!.subject, "Short");
    const bytes = new TextDecoder().decode(await blobs.get(stored!.blobHash));
    assertEquals(bytes.endsWith("Gone."), true);
    assertEquals(bytes.includes("Original-Subject: report"), true);
  });
});

Deno.test("date: a Received field's date-time is the part after its last semicolon", () => {
  const message = [
    "Received: from a by b; Tue, 15 Apr 2025 10:31:00 +0200",
    "Received: from c by a; Tue, 15 Apr 2025 10:30:10 +0200",
    "Subject: r",
    "",
    "x",
    "",
  ].join("\r\n");
  const outcome = run(
    `require ["date", "index", "variables", "fileinto"];
    if date :index 1 :last :originalzone :matches "received" "time" "*" { fileinto "T\${1}"; }
    if date :originalzone "received" "time" "10:31:00" { fileinto "First"; }`,
    message,
  );
  assertEquals(filed(outcome), ["T10:30:10", "First"]);
});

Deno.test("delivery: reject and notify queue valid mail, non-ASCII subjects as encoded words", async () => {
  await withDelivery(async (deliver, { store, blobs }) => {
    const message = "Return-Path: <alice@remote.test>\r\nFrom: alice@remote.test\r\n" +
      "To: bob@example.com\r\nSubject: =?UTF-8?B?R3LDvMOfZQ==?=\r\n\r\nHello.\r\n";
    const kept = await deliver(
      `require ["reject", "enotify"]; notify "mailto:carol@remote.test"; reject "Nein, danke ü";`,
      message,
    );
    assertEquals(kept, null); // rejected: nothing stored
    const queued = await store.listQueue();
    assertEquals(queued.map((q) => [q.returnPath, q.recipients[0].address]).sort(), [
      ["", "alice@remote.test"],
      ["", "carol@remote.test"],
    ]);
    for (const item of queued) {
      const bytes = await blobs.get(item.blobHash);
      const mime = parseMime(bytes, { maxHeaderSize: 65536, maxDepth: 10, maxParts: 10 });
      const header = new TextDecoder().decode(bytes.subarray(0, mime.headerEnd));
      assertEquals([...header].some((c) => c.charCodeAt(0) > 0x7f), false, header); // 7-bit
      const subject = parseHeaderFields(bytes, mime.headerStart, mime.headerEnd)
        .find((f) => f.name.toLowerCase() === "subject")!;
      const decoded = decodeEncodedWords(unfold(subject.raw)).trim();
      assertEquals(
        decoded,
        item.recipients[0].address === "alice@remote.test" ? "Rejected: Grüße" : "New mail: Grüße",
      );
    }
  });
});
