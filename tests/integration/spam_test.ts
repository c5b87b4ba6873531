/**
 * The spam filter on the real server, as mail clients and senders see it: X-Spam-* header fields
 * on mail from other servers (none on submissions), rules from a rules file refusing or filing
 * mail (and a broken file stopping the server), DNS block lists through a test zone, greylisting
 * at RCPT, the LLM's verdict from an OpenAI-style stub (and mail still delivered when it never
 * answers), and `postern spam train|status|score`.
 */
import { assert, assertEquals, assertMatch, assertRejects } from "../helpers/assert.ts";
import { cli, startServer, type TestServer } from "../helpers/server.ts";
import { startDnsServer, type Zone } from "../helpers/dns_server.ts";
import { cliAll, messagesOf, readReply, send, submit } from "../helpers/mail.ts";
import { LineClient } from "../helpers/tls.ts";
import { jmapClient } from "../helpers/jmap.ts";
import { compose, deliver, LETTER, OFFER } from "../helpers/spam.ts";

const ALICE = "alice@example.com";
const BOB = "bob@example.com";
const PASSWORD = "spam-test-password-1";

const letter = (id: string, extra: string[] = []) =>
  compose(
    { from: "Jonas <jonas@uni.test>", to: ALICE, subject: "Grant report", id, extra },
    LETTER,
  );

const offer = (id: string) =>
  compose({ from: "Clearance <sales@shop.test>", to: ALICE, subject: "Clearance", id }, OFFER);

interface Filed {
  mailbox: string;
  status: string;
  score: string;
  result: string;
}

/** Where `user` finds the message with `messageId` over JMAP, with its X-Spam-* fields. */
async function filed(server: TestServer, user: string, messageId: string): Promise<Filed | null> {
  const client = await jmapClient(server, user, PASSWORD);
  const { list: mailboxes } = await client.one("Mailbox/get", { properties: ["name"] });
  const { ids } = await client.one("Email/query", {});
  const { list } = await client.one("Email/get", {
    ids,
    properties: [
      "messageId",
      "mailboxIds",
      "header:X-Spam-Status:asText",
      "header:X-Spam-Score:asText",
      "header:X-Spam-Result:asText",
    ],
  });
  const email = list.find((e: { messageId: string[] | null }) => e.messageId?.[0] === messageId);
  if (!email) return null;
  const mailboxId = Object.keys(email.mailboxIds)[0];
  return {
    mailbox: mailboxes.find((m: { id: string }) => m.id === mailboxId).name,
    status: email["header:X-Spam-Status:asText"] ?? "",
    score: email["header:X-Spam-Score:asText"] ?? "",
    result: email["header:X-Spam-Result:asText"] ?? "",
  };
}

/** Starts a server (options as startServer's) with Alice and Bob, runs `work`, stops it. */
async function withAccounts(
  work: (server: TestServer) => Promise<void>,
  options: Parameters<typeof startServer>[0] = {},
): Promise<void> {
  const server = await startServer(options);
  try {
    await cliAll(server, [
      ["account", "add", ALICE, "--password", PASSWORD],
      ["account", "add", BOB, "--password", PASSWORD],
    ]);
    await work(server);
  } catch (error) {
    console.error(server.logs.slice(-40).join("\n"));
    throw error;
  } finally {
    await server.stop();
  }
}

/** A fresh directory holding `files` (name → content), for a config to refer to. */
async function folderWith(files: Record<string, string>): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "postern-spam-test-" });
  for (const [name, content] of Object.entries(files)) {
    await Deno.writeTextFile(`${dir}/${name}`, content);
  }
  return dir;
}

Deno.test("spam: mail from other servers gets X-Spam-* fields; submissions get none", async () => {
  await withAccounts(async (server) => {
    assertMatch(await deliver(server, "jonas@uni.test", [ALICE], letter("h1@uni.test")), /^250/);
    const clean = await filed(server, ALICE, "h1@uni.test");
    assert(clean, "the letter was stored");
    assertEquals(clean.mailbox, "INBOX");
    assertMatch(clean.status, /^No, score=-?\d+\.\d\d required=5\.0$/);
    assertMatch(clean.score, /^-?\d+\.\d\d$/);
    assertEquals(clean.status.match(/score=(\S+)/)![1], clean.score);
    assert(clean.result.length > 0, "X-Spam-Result is present");

    const note = compose({ from: ALICE, to: BOB, subject: "Lunch", id: "n1@example.com" }, "Noon?");
    assertMatch(
      await submit(server, { user: ALICE, password: PASSWORD }, { from: ALICE, to: [BOB] }, note),
      /^250/,
    );
    const [received] = messagesOf(server, BOB);
    assertMatch(received, /^Message-ID: <n1@example\.com>/m);
    assert(!/^X-Spam-/im.test(received), received);
    const submitted = await filed(server, BOB, "n1@example.com");
    assertEquals(submitted?.mailbox, "INBOX");
  });
});

const RULES = `
[[rule]]
name = "TEST_REFUSE"
kind = "header"
header = "X-Test-Verdict"
pattern = "/refuse/i"
score = 20.0
description = "test: far past the reject threshold"

[[rule]]
name = "TEST_JUNK"
kind = "header"
header = "X-Test-Verdict"
pattern = "/junk/i"
score = 6.0
description = "test: past the junk threshold"
`;

Deno.test("spam: rules from the config's rules file refuse (550 5.7.1) or file into Junk", async () => {
  const dir = await folderWith({ "extra_rules.toml": RULES });
  await withAccounts(async (server) => {
    const refused = await deliver(
      server,
      "jonas@uni.test",
      [ALICE],
      letter("r1@uni.test", ["X-Test-Verdict: refuse"]),
    );
    assertMatch(refused, /^550 5\.7\.1 /);
    assertEquals(messagesOf(server, ALICE), []);

    assertMatch(
      await deliver(
        server,
        "jonas@uni.test",
        [ALICE],
        // The sender's own verdict must not pass for ours.
        letter("r2@uni.test", [
          "X-Test-Verdict: junk",
          "X-Spam-Status: No, score=-50.00 required=5.0",
          "X-Spam-Flag: NO",
        ]),
      ),
      /^250/,
    );
    const junk = await filed(server, ALICE, "r2@uni.test");
    assertEquals(junk?.mailbox, "Junk");
    assertMatch(junk!.status, /^Yes, /);
    assertMatch(junk!.result, /TEST_JUNK\(6\.00\)/);
    const [raw] = messagesOf(server, ALICE);
    assertEquals(raw.match(/^X-Spam-Status:.*$/gim), [`X-Spam-Status: ${junk!.status}`]);
    assert(!/^X-Spam-Flag:/im.test(raw), raw);

    assertMatch(await deliver(server, "jonas@uni.test", [ALICE], letter("r3@uni.test")), /^250/);
    const clean = await filed(server, ALICE, "r3@uni.test");
    assertEquals(clean?.mailbox, "INBOX");
    assert(!/TEST_/.test(clean!.result), clean!.result);
    assertEquals(messagesOf(server, ALICE).length, 2);
  }, { dir, extra: `[spam]\nrules = "extra_rules.toml"` });
});

Deno.test("spam: with [spam] enabled = false mail is neither scored nor refused", async () => {
  const dir = await folderWith({ "extra_rules.toml": RULES });
  await withAccounts(async (server) => {
    assertMatch(
      await deliver(
        server,
        "jonas@uni.test",
        [ALICE],
        letter("o1@uni.test", ["X-Test-Verdict: refuse"]),
      ),
      /^250/,
    );
    const kept = await filed(server, ALICE, "o1@uni.test");
    assertEquals(kept?.mailbox, "INBOX");
    assertEquals([kept!.status, kept!.score, kept!.result], ["", "", ""]);
  }, { dir, extra: `[spam]\nenabled = false\nrules = "extra_rules.toml"` });
});

Deno.test("spam: a rules file extends the defaults — same name replaces, metas use default names", async () => {
  const rules = `${RULES}
[[rule]]
name = "IPREV_FAIL"
score = 0

[[rule]]
name = "TEST_DATED_JUNK"
kind = "meta"
expression = 'TEST_JUNK && !MISSING_DATE'
score = 0.5
description = "test: a meta rule over a default rule"
`;
  const dir = await folderWith({ "extra_rules.toml": rules });
  await withAccounts(async (server) => {
    assertMatch(
      await deliver(
        server,
        "jonas@uni.test",
        [ALICE],
        letter("e1@uni.test", ["X-Test-Verdict: junk"]),
      ),
      /^250/,
    );
    const junk = await filed(server, ALICE, "e1@uni.test");
    assertEquals(junk?.mailbox, "Junk");
    assertMatch(junk!.result, /TEST_DATED_JUNK\(0\.50\)/);
    // The client (127.0.0.1) has no PTR name: IPREV_FAIL would match, but it is switched off.
    assert(!/IPREV_FAIL/.test(junk!.result), junk!.result);
  }, { dir, extra: `[spam]\nrules = "extra_rules.toml"` });
});

Deno.test("spam: a broken rules file stops the server with an error naming the rule", async () => {
  const broken = `${RULES}
[[rule]]
name = "TEST_BACKTRACKS"
kind = "body"
pattern = "/(a+)+$/"
score = 1.0
description = "test: catastrophic backtracking"
`;
  const dir = await folderWith({ "extra_rules.toml": broken });
  const error = await assertRejects(() =>
    startServer({ dir, extra: `[spam]\nrules = "extra_rules.toml"` })
  );
  assertMatch(String(error), /server exited before listening/);
  assertMatch(String(error), /extra_rules\.toml: rule TEST_BACKTRACKS: /);
  // The CLI that loads the rules refuses the same way.
  const score = await cli(`${dir}/config.toml`, ["spam", "score"], letter("x@uni.test"));
  assert(score.code !== 0, score.stdout);
  assertMatch(score.stderr, /rule TEST_BACKTRACKS/);
});

const LIST_RULES = `
[[rule]]
name = "TEST_LISTED_IP"
kind = "dnsbl"
zone = "bl.test"
target = "ip"
answers = { "127.0.0.2" = 3.5 }
description = "test: the client's address is on bl.test"

[[rule]]
name = "TEST_CLEAN_LIST"
kind = "dnsbl"
zone = "clean.test"
target = "ip"
answers = { "127.0.0.2" = 2.0 }
description = "test: a list that does not list the client"

[[rule]]
name = "TEST_SILENT_LIST"
kind = "dnsbl"
zone = "silent.test"
target = "ip"
answers = { "127.0.0.2" = 2.0 }
description = "test: a list whose server never answers"

[[rule]]
name = "TEST_REFUSING_LIST"
kind = "dnsbl"
zone = "refusing.test"
target = "ip"
answers = { "*" = 2.0 }
description = "test: a list answering with its query-refused code"
`;

Deno.test("spam: a DNS block list answering 127.0.0.2 for the client adds its symbol", async () => {
  const zone: Zone = {
    "1.0.0.127.zen.spamhaus.org": { A: ["127.0.0.2"] },
    "1.0.0.127.bl.test": { A: ["127.0.0.2"] },
    "1.0.0.127.silent.test": { DROP: true },
    // Spamhaus' "query from a public resolver refused": never a listing.
    "1.0.0.127.refusing.test": { A: ["127.255.255.254"] },
  };
  const dns = await startDnsServer(zone);
  const dir = await folderWith({ "extra_rules.toml": LIST_RULES });
  try {
    await withAccounts(async (server) => {
      assertMatch(await deliver(server, "jonas@uni.test", [ALICE], letter("l1@uni.test")), /^250/);
      const listed = await filed(server, ALICE, "l1@uni.test");
      assertMatch(listed!.result, /TEST_LISTED_IP\(3\.50\)/);
      // The default rules' Spamhaus ZEN entry, answered by the test zone.
      assertMatch(listed!.result, /RCVD_IN_ZEN\(2\.50\)/);
      assert(!/TEST_(CLEAN|SILENT|REFUSING)_LIST/.test(listed!.result), listed!.result);
      assert(
        dns.queries.some((q) => q.name === "1.0.0.127.clean.test" && q.type === "A"),
        "the clean list was asked too",
      );
      assert(dns.queries.some((q) => q.name === "1.0.0.127.silent.test"), "the silent list too");
    }, {
      dir,
      dns: `${dns.host}:${dns.port}`,
      extra: [
        "[spam]",
        `rules = "extra_rules.toml"`,
        "dns_lists_check_private = true",
        `dns_list_timeout = "1s"`,
      ].join("\n"),
    });
  } finally {
    await dns.close();
  }
});

Deno.test("spam: loopback clients are not looked up in IP block lists unless asked", async () => {
  const dns = await startDnsServer({ "1.0.0.127.zen.spamhaus.org": { A: ["127.0.0.2"] } });
  try {
    await withAccounts(async (server) => {
      assertMatch(await deliver(server, "jonas@uni.test", [ALICE], letter("p1@uni.test")), /^250/);
      const filedLetter = await filed(server, ALICE, "p1@uni.test");
      assertEquals(filedLetter?.mailbox, "INBOX");
      assert(!/RCVD_IN_ZEN/.test(filedLetter!.result), filedLetter!.result);
      assert(!dns.queries.some((q) => q.name.endsWith(".zen.spamhaus.org")), "ZEN was asked");
    }, { dns: `${dns.host}:${dns.port}` });
  } finally {
    await dns.close();
  }
});

Deno.test("spam: greylisting defers a new triplet with 451 4.7.1 until the delay has passed", async () => {
  await withAccounts(async (server) => {
    const smtp = await LineClient.connect(server.ports.smtp);
    try {
      await readReply(smtp);
      await send(smtp, "EHLO mx.uni.test");
      assertMatch(await send(smtp, "MAIL FROM:<jonas@uni.test>"), /^250/);
      assertMatch(await send(smtp, `RCPT TO:<${ALICE}>`), /^451 4\.7\.1 /);
      // An immediate retry is still too early.
      assertMatch(await send(smtp, `RCPT TO:<${ALICE}>`), /^451 4\.7\.1 /);
      assertMatch(await send(smtp, "RSET"), /^250/);
      // Another sender is a triplet of its own.
      assertMatch(await send(smtp, "MAIL FROM:<maria@other.test>"), /^250/);
      assertMatch(await send(smtp, `RCPT TO:<${ALICE}>`), /^451 4\.7\.1 /);
      assertMatch(await send(smtp, "RSET"), /^250/);
      // Past the delay (1 s) the first triplet passes.
      await new Promise((r) => setTimeout(r, 1_200));
      assertMatch(await send(smtp, "MAIL FROM:<jonas@uni.test>"), /^250/);
      assertMatch(await send(smtp, `RCPT TO:<${ALICE}>`), /^250/);
      assertMatch(await send(smtp, "DATA"), /^354/);
      assertMatch(await send(smtp, `${letter("g1@uni.test")}.`), /^250/);
    } finally {
      await smtp.close();
    }
    assertEquals((await filed(server, ALICE, "g1@uni.test"))?.mailbox, "INBOX");
    // Authenticated submission is never greylisted, even to a new recipient.
    const note = compose({ from: BOB, to: ALICE, subject: "Hi", id: "g2@example.com" }, "Hi.");
    assertMatch(
      await submit(server, { user: BOB, password: PASSWORD }, { from: BOB, to: [ALICE] }, note),
      /^250/,
    );
    assertEquals(messagesOf(server, ALICE).length, 2);
  }, { extra: `[spam.greylist]\nenabled = true\ndelay = "1s"\nexempt = []` });
});

Deno.test("spam: greylisting leaves this machine alone by default (exempt 127.0.0.0/8)", async () => {
  await withAccounts(async (server) => {
    assertMatch(await deliver(server, "jonas@uni.test", [ALICE], letter("g3@uni.test")), /^250/);
    assertEquals((await filed(server, ALICE, "g3@uni.test"))?.mailbox, "INBOX");
  }, { extra: `[spam.greylist]\nenabled = true\ndelay = "1h"` });
});

interface LlmStub {
  port: number;
  requests: { path: string; authorization: string | null; body: Record<string, unknown> }[];
  /** "answer": a spam verdict; "hang": never answers. */
  mode: "answer" | "hang";
  close(): Promise<void>;
}

/** An OpenAI-style chat-completions endpoint that calls everything spam, or never answers. */
function startLlmStub(): Promise<LlmStub> {
  const { promise: released, resolve: release } = Promise.withResolvers<void>();
  return new Promise((resolve) => {
    const stub: LlmStub = {
      port: 0,
      requests: [],
      mode: "answer",
      close: async () => {
        release();
        await server.shutdown();
      },
    };
    const server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      onListen: ({ port }) => {
        stub.port = port;
        resolve(stub);
      },
    }, async (request) => {
      stub.requests.push({
        path: new URL(request.url).pathname,
        authorization: request.headers.get("authorization"),
        body: await request.json(),
      });
      if (stub.mode === "hang") {
        await released;
        return new Response("too late", { status: 503 });
      }
      const verdict = { verdict: "spam", confidence: 0.9, reason: "stub says so" };
      return Response.json({
        id: "chatcmpl-1",
        object: "chat.completion",
        created: 1,
        model: "stub-model",
        choices: [{
          index: 0,
          message: { role: "assistant", content: JSON.stringify(verdict) },
          finish_reason: "stop",
        }],
      });
    });
  });
}

Deno.test("spam: the LLM's verdict appears as a symbol; an LLM that never answers does not stop delivery", async () => {
  const stub = await startLlmStub();
  try {
    const extra = [
      "[spam.llm]",
      `endpoint = "http://127.0.0.1:${stub.port}/v1"`,
      `model = "stub-model"`,
      `api_key = "stub-key"`,
      "band_low = -100",
      "band_high = 100",
      `timeout = "1s"`,
      "max_per_hour = 2",
    ].join("\n");
    await withAccounts(async (server) => {
      assertMatch(await deliver(server, "jonas@uni.test", [ALICE], letter("m1@uni.test")), /^250/);
      const judged = await filed(server, ALICE, "m1@uni.test");
      assertMatch(judged!.result, /LLM_SPAM\(3\.60\)/);
      assertEquals(stub.requests.length, 1);
      assertEquals(stub.requests[0].path, "/v1/chat/completions");
      assertEquals(stub.requests[0].body.model, "stub-model");
      assertEquals(stub.requests[0].authorization, "Bearer stub-key");
      assertMatch(JSON.stringify(stub.requests[0].body.messages), /Grant report/);

      stub.mode = "hang";
      assertMatch(await deliver(server, "jonas@uni.test", [ALICE], letter("m2@uni.test")), /^250/);
      assertEquals(stub.requests.length, 2);
      const unjudged = await filed(server, ALICE, "m2@uni.test");
      assertEquals(unjudged?.mailbox, "INBOX");
      assert(!/LLM_/.test(unjudged!.result), unjudged!.result);

      // Past max_per_hour the LLM is not asked at all.
      stub.mode = "answer";
      assertMatch(await deliver(server, "jonas@uni.test", [ALICE], letter("m3@uni.test")), /^250/);
      assertEquals(stub.requests.length, 2);
      const unasked = await filed(server, ALICE, "m3@uni.test");
      assert(!/LLM_/.test(unasked!.result), unasked!.result);
    }, { extra });
  } finally {
    await stub.close();
  }
});

Deno.test("spam: postern spam train, status and score", async () => {
  const copy = (n: number) => offer(`c${n}@shop.test`).replace(/\r\n/g, "\n");
  const spamDir = await folderWith({
    "one.eml": copy(1),
    "box.mbox": `From sales@shop.test Mon Jan  1 00:00:00 2024\n${copy(2)}\n` +
      `From sales@shop.test Mon Jan  1 00:00:01 2024\n${copy(3)}\n`,
  });
  const hamDir = await folderWith({ "letter.eml": letter("t1@uni.test").replace(/\r\n/g, "\n") });
  await withAccounts(async (server) => {
    const train = ["spam", "train", "--spam", spamDir, "--ham", hamDir, "--account", ALICE];
    const first = await cli(server.configPath, train);
    assertEquals(first.code, 0, first.stderr);
    assertMatch(first.stdout, /^learnt 1 ham and 3 spam \(0 already learnt so\)$/m);
    const second = await cli(server.configPath, train);
    assertEquals(second.code, 0, second.stderr);
    assertMatch(second.stdout, /^learnt 0 ham and 0 spam \(4 already learnt so\)$/m);

    const status = await cli(server.configPath, ["spam", "status", "--account", ALICE]);
    assertEquals(status.code, 0, status.stderr);
    assertMatch(status.stdout, /^global model: 1 ham, 3 spam learnt$/m);
    // The CLI's 4-gram model was written back before it exited.
    assertMatch(status.stdout, /^4-gram model: 1 ham, 3 spam learnt$/m);
    assertMatch(status.stdout, /^alice@example\.com: 1 ham, 3 spam learnt$/m);
    const nobody = await cli(server.configPath, [...train.slice(0, -1), "nobody@example.com"]);
    assert(nobody.code !== 0, nobody.stdout);
    assertMatch(nobody.stderr, /no account nobody@example\.com/);
    const nothing = await cli(server.configPath, ["spam", "train"]);
    assert(nothing.code !== 0, nothing.stdout);
    const bobs = await cli(server.configPath, ["spam", "status", "--account", BOB]);
    assertMatch(bobs.stdout, /^bob@example\.com: 0 ham, 0 spam learnt$/m);

    // Scored for Alice, a new copy of the offer is spam; for the (immature) global model alone
    // it is not; the letter is not spam for Alice.
    const forAlice = await cli(server.configPath, ["spam", "score", "--account", ALICE], copy(4));
    assertEquals(forAlice.code, 0, forAlice.stderr);
    assertMatch(forAlice.stdout, /^X-Spam-Status: Yes, score=/m);
    assertMatch(forAlice.stdout, /BAYES_SPAM/);
    assertMatch(forAlice.stdout, /^verdict: junk$/m);
    const global = await cli(server.configPath, ["spam", "score"], copy(4));
    assertEquals(global.code, 0, global.stderr);
    assertMatch(global.stdout, /^X-Spam-Status: No, score=/m);
    const letterScore = await cli(
      server.configPath,
      ["spam", "score", "--account", ALICE],
      letter("t2@uni.test"),
    );
    assertMatch(letterScore.stdout, /^X-Spam-Status: No, score=/m);

    // The running server uses what the CLI taught.
    assertMatch(await deliver(server, "sales@shop.test", [ALICE], offer("c5@shop.test")), /^250/);
    assertEquals((await filed(server, ALICE, "c5@shop.test"))?.mailbox, "Junk");
    assertMatch(await deliver(server, "sales@shop.test", [BOB], offer("c6@shop.test")), /^250/);
    assertEquals((await filed(server, BOB, "c6@shop.test"))?.mailbox, "INBOX");
  });
});
