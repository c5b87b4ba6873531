/**
 * The spam filter learning from its users, end to end on the real server: IMAP MOVE into and out
 * of Junk and STORE $Junk, JMAP Email/set keywords and mailboxIds, each teaching only the account
 * that judged (accounts start with an empty global model); Sieve's spamtest seeing the score; and
 * what a user sends (correspondents, replies) counting for the sender.
 */
import { activateScript } from "../helpers/managesieve.ts";
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { cli, startServer, type TestServer } from "../helpers/server.ts";
import { startRemoteDomain } from "../helpers/smtp_peer.ts";
import { cliAll, submit } from "../helpers/mail.ts";
import { eventually, LineClient } from "../helpers/tls.ts";
import { jmapClient, type JmapTestClient, USING } from "../helpers/jmap.ts";
import { compose, deliver, LETTER, OFFER } from "../helpers/spam.ts";

const ALICE = "alice@example.com";
const BOB = "bob@example.com";
const CAROL = "carol@example.com";
const PASSWORD = "spam-training-password-1";

/** An IMAP session (implicit TLS, LOGIN) with tagged commands. */
class Imap {
  #tag = 0;
  private constructor(readonly client: LineClient) {}

  static async open(server: TestServer, user: string): Promise<Imap> {
    const ca = await Deno.readTextFile(`${server.dir}/data/tls/self-signed.crt`);
    const client = await LineClient.connect(server.ports.imaps, { implicitTls: { ca } });
    await client.readLine();
    const imap = new Imap(client);
    await imap.ok(`LOGIN ${user} ${PASSWORD}`);
    return imap;
  }

  /** Runs a command that must succeed; returns every line of the answer joined with CRLF. */
  async ok(command: string): Promise<string> {
    const tag = `t${++this.#tag}`;
    await this.client.write(`${tag} ${command}\r\n`);
    const lines = await this.client.readUntil((line) => line.startsWith(`${tag} `));
    assertMatch(lines[lines.length - 1], new RegExp(`^${tag} OK`), `${command}: ${lines}`);
    return lines.join("\r\n");
  }

  /** The header sections of the messages in `mailbox`, oldest first. */
  async headers(mailbox: string): Promise<string[]> {
    await this.ok(`EXAMINE "${mailbox}"`);
    const answer = await this.ok("UID FETCH 1:* (BODY.PEEK[HEADER])");
    return answer.split(/^\* \d+ FETCH /m).slice(1);
  }

  /** The UID of the message with this Message-ID in the selected-for-write `mailbox`. */
  async uidOf(mailbox: string, messageId: string): Promise<number> {
    await this.ok(`SELECT "${mailbox}"`);
    const found = /^\* SEARCH (\d+)/m.exec(
      await this.ok(`UID SEARCH HEADER Message-ID "<${messageId}>"`),
    );
    assert(found, `${messageId} not in ${mailbox}`);
    return Number(found[1]);
  }

  async move(messageId: string, from: string, to: string): Promise<void> {
    const uid = await this.uidOf(from, messageId);
    await this.ok(`UID MOVE ${uid} "${to}"`);
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

/** The header section of the message with `messageId` in `user`'s `mailbox`, or null. */
async function stored(
  server: TestServer,
  user: string,
  mailbox: string,
  messageId: string,
): Promise<string | null> {
  const imap = await Imap.open(server, user);
  try {
    const all = await imap.headers(mailbox);
    return all.find((header) => header.includes(`Message-ID: <${messageId}>`)) ?? null;
  } finally {
    await imap.close();
  }
}

/** Asserts the message is in `mailbox` with that X-Spam-Status flag; returns its header. */
async function assertFiled(
  server: TestServer,
  user: string,
  mailbox: string,
  messageId: string,
  flag: "Yes" | "No",
): Promise<string> {
  const header = await stored(server, user, mailbox, messageId);
  assert(header !== null, `${messageId} is not in ${user}'s ${mailbox}`);
  assertMatch(header, new RegExp(`^X-Spam-Status: ${flag}, score=`, "m"));
  return header;
}

/** How many judgements the server's trainer has learnt as `judgement` (from its log). */
function learnt(server: TestServer, judgement: "spam" | "ham"): number {
  return server.logs.filter((line) =>
    line.includes('"msg":"spam filter learnt"') && line.includes(`"as":"${judgement}"`)
  ).length;
}

async function waitLearnt(server: TestServer, judgement: "spam" | "ham", count: number) {
  await eventually(
    () => learnt(server, judgement) >= count,
    `${count} message(s) learnt as ${judgement}`,
    15_000,
  );
}

async function withAccounts(
  work: (server: TestServer) => Promise<void>,
  options: Parameters<typeof startServer>[0] = {},
): Promise<void> {
  const server = await startServer(options);
  try {
    await cliAll(
      server,
      [ALICE, BOB, CAROL].map((address) => ["account", "add", address, "--password", PASSWORD]),
    );
    await work(server);
  } catch (error) {
    console.error(server.logs.slice(-40).join("\n"));
    throw error;
  } finally {
    await server.stop();
  }
}

const offer = (id: string, to: string) =>
  compose({ from: "Clearance <sales@shop.test>", to, subject: "Clearance this week", id }, OFFER);

Deno.test("spam training: IMAP MOVE into Junk and STORE $Junk teach that account; moving out teaches ham", async () => {
  await withAccounts(async (server) => {
    // Before any judgement the offer is ordinary mail for everyone.
    assertMatch(
      await deliver(server, "sales@shop.test", [ALICE, BOB, CAROL], offer("o1@shop.test", ALICE)),
      /^250/,
    );
    for (const user of [ALICE, BOB, CAROL]) {
      await assertFiled(server, user, "INBOX", "o1@shop.test", "No");
    }
    // Alice moves it to Junk; Bob flags it $Junk where it is; Carol does nothing.
    const alice = await Imap.open(server, ALICE);
    try {
      await alice.move("o1@shop.test", "INBOX", "Junk");
    } finally {
      await alice.close();
    }
    const bob = await Imap.open(server, BOB);
    try {
      const uid = await bob.uidOf("INBOX", "o1@shop.test");
      await bob.ok(`UID STORE ${uid} +FLAGS ($Junk)`);
    } finally {
      await bob.close();
    }
    await waitLearnt(server, "spam", 2);

    // The next copy (new Message-ID and Date) is junk for Alice and Bob, not for Carol.
    for (const user of [ALICE, BOB, CAROL]) {
      assertMatch(
        await deliver(server, "sales@shop.test", [user], offer("o2@shop.test", user)),
        /^250/,
      );
    }
    assertMatch(
      await assertFiled(server, ALICE, "Junk", "o2@shop.test", "Yes"),
      /X-Spam-Result:[^]*BAYES_SPAM/,
    );
    assertEquals(await stored(server, ALICE, "INBOX", "o2@shop.test"), null);
    await assertFiled(server, BOB, "Junk", "o2@shop.test", "Yes");
    const carols = await assertFiled(server, CAROL, "INBOX", "o2@shop.test", "No");
    assert(!/BAYES_SPAM/.test(carols), carols);
    // One transaction to Alice and Carol: one stored message, each filed by their own verdict.
    assertMatch(
      await deliver(server, "sales@shop.test", [ALICE, CAROL], offer("o2b@shop.test", ALICE)),
      /^250/,
    );
    assert(await stored(server, ALICE, "Junk", "o2b@shop.test"), "Alice's copy is in Junk");
    assert(await stored(server, CAROL, "INBOX", "o2b@shop.test"), "Carol's copy is in INBOX");

    // Alice changes her mind: out of Junk teaches ham, and her next copy stays in the INBOX.
    const again = await Imap.open(server, ALICE);
    try {
      await again.move("o2@shop.test", "Junk", "INBOX");
    } finally {
      await again.close();
    }
    await waitLearnt(server, "ham", 1);
    assertMatch(
      await deliver(server, "sales@shop.test", [ALICE], offer("o3@shop.test", ALICE)),
      /^250/,
    );
    assertMatch(
      await deliver(server, "sales@shop.test", [BOB], offer("o3@shop.test", BOB)),
      /^250/,
    );
    await assertFiled(server, ALICE, "INBOX", "o3@shop.test", "No");
    assertEquals(await stored(server, ALICE, "Junk", "o3@shop.test"), null);
    // Bob did not change his mind.
    await assertFiled(server, BOB, "Junk", "o3@shop.test", "Yes");
  });
});

Deno.test("spam training: deleting from Junk (a move to Trash, IMAP or JMAP) teaches nothing", async () => {
  await withAccounts(async (server) => {
    for (const user of [ALICE, BOB, CAROL]) {
      assertMatch(
        await deliver(server, "sales@shop.test", [user], offer("d1@shop.test", user)),
        /^250/,
      );
    }
    // What mail clients do on delete: the spam goes from Junk to Trash. It is still spam.
    const alice = await Imap.open(server, ALICE);
    try {
      await alice.move("d1@shop.test", "INBOX", "Junk");
      await alice.move("d1@shop.test", "Junk", "Trash");
    } finally {
      await alice.close();
    }
    const bob = await jmapClient(server, BOB, PASSWORD);
    const bobRoles = await roles(bob);
    const bobCopy = await emailIn(bob, "inbox", "d1@shop.test");
    const into = (from: string, to: string) => ({
      [`mailboxIds/${bobRoles[from]}`]: null,
      [`mailboxIds/${bobRoles[to]}`]: true,
    });
    await update(bob, bobCopy!.id, into("inbox", "junk"));
    await update(bob, bobCopy!.id, into("junk", "trash"));
    // Judgements are learnt in order: once Carol's later one is, the others were handled.
    const carol = await Imap.open(server, CAROL);
    try {
      await carol.move("d1@shop.test", "INBOX", "Junk");
    } finally {
      await carol.close();
    }
    await waitLearnt(server, "spam", 3);
    assertEquals(learnt(server, "ham"), 0, "a move from Junk to Trash was learnt as ham");
    assertMatch(await spamStatus(server, ALICE), /^alice@example\.com: 0 ham, 1 spam learnt$/m);
    assertMatch(await spamStatus(server, BOB), /^bob@example\.com: 0 ham, 1 spam learnt$/m);
    assertMatch(
      await deliver(server, "sales@shop.test", [ALICE], offer("d2@shop.test", ALICE)),
      /^250/,
    );
    await assertFiled(server, ALICE, "Junk", "d2@shop.test", "Yes");
  });
});

Deno.test("spam training: a message is refused only when every recipient account would refuse it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "postern-spam-test-" });
  await Deno.writeTextFile(
    `${dir}/extra_rules.toml`,
    `[[rule]]
name = "TEST_SUSPICIOUS"
kind = "header"
header = "X-Test-Verdict"
pattern = '/suspicious/'
score = 4.0
description = "test: a few points"
`,
  );
  const suspicious = (id: string, to: string) =>
    offer(id, to).replace("MIME-Version:", "X-Test-Verdict: suspicious\r\nMIME-Version:");
  await withAccounts(async (server) => {
    assertMatch(
      await deliver(server, "sales@shop.test", [ALICE, BOB], offer("v1@shop.test", ALICE)),
      /^250/,
    );
    // Alice calls the offer spam, Bob calls it wanted.
    const alice = await Imap.open(server, ALICE);
    try {
      await alice.move("v1@shop.test", "INBOX", "Junk");
    } finally {
      await alice.close();
    }
    const bob = await Imap.open(server, BOB);
    try {
      await bob.ok(`UID STORE ${await bob.uidOf("INBOX", "v1@shop.test")} +FLAGS ($NotJunk)`);
    } finally {
      await bob.close();
    }
    await waitLearnt(server, "spam", 1);
    await waitLearnt(server, "ham", 1);

    // For Alice alone the suspicious copy passes reject_threshold (10): refused, not stored.
    assertMatch(
      await deliver(server, "sales@shop.test", [ALICE], suspicious("v2@shop.test", ALICE)),
      /^550 5\.7\.1 /,
    );
    assertEquals(await stored(server, ALICE, "Junk", "v2@shop.test"), null);
    assertEquals(await stored(server, ALICE, "INBOX", "v2@shop.test"), null);
    // With Bob among the recipients it is accepted: Alice's copy goes to Junk, Bob's to INBOX.
    assertMatch(
      await deliver(server, "sales@shop.test", [ALICE, BOB], suspicious("v3@shop.test", ALICE)),
      /^250/,
    );
    assert(await stored(server, ALICE, "Junk", "v3@shop.test"), "Alice's copy is in Junk");
    assert(await stored(server, BOB, "INBOX", "v3@shop.test"), "Bob's copy is in INBOX");
  }, { dir, extra: `[spam]\nrules = "extra_rules.toml"\nreject_threshold = 10` });
});

/** The JMAP id of the message with `messageId` in the mailbox with `role`, or null. */
async function emailIn(
  client: JmapTestClient,
  role: string,
  messageId: string,
): Promise<{ id: string; status: string; result: string } | null> {
  const { list: mailboxes } = await client.one("Mailbox/get", { properties: ["role"] });
  const mailbox = mailboxes.find((m: { role: string | null }) => m.role === role);
  const { ids } = await client.one("Email/query", { filter: { inMailbox: mailbox.id } });
  const { list } = await client.one("Email/get", {
    ids,
    properties: ["messageId", "header:X-Spam-Status:asText", "header:X-Spam-Result:asText"],
  });
  const email = list.find((e: { messageId: string[] }) => e.messageId?.[0] === messageId);
  return email
    ? {
      id: email.id,
      status: email["header:X-Spam-Status:asText"],
      result: email["header:X-Spam-Result:asText"],
    }
    : null;
}

async function roles(client: JmapTestClient): Promise<Record<string, string>> {
  const { list } = await client.one("Mailbox/get", { properties: ["role"] });
  return Object.fromEntries(
    list.filter((m: { role: string | null }) => m.role).map((m: { id: string; role: string }) => [
      m.role,
      m.id,
    ]),
  );
}

async function update(client: JmapTestClient, id: string, patch: Record<string, unknown>) {
  const result = await client.one("Email/set", { update: { [id]: patch } });
  assert(id in (result.updated ?? {}), JSON.stringify(result));
}

Deno.test("spam training: JMAP $junk, a move into Junk and $notjunk teach only that account", async () => {
  await withAccounts(async (server) => {
    assertMatch(
      await deliver(server, "sales@shop.test", [ALICE, BOB, CAROL], offer("j1@shop.test", ALICE)),
      /^250/,
    );
    const [alice, bob, carol] = await Promise.all(
      [ALICE, BOB, CAROL].map((user) => jmapClient(server, user, PASSWORD)),
    );
    for (const client of [alice, bob, carol]) {
      assertMatch((await emailIn(client, "inbox", "j1@shop.test"))!.status, /^\s*No,/);
    }
    // Alice sets $junk and leaves it in the INBOX; Bob only moves it into Junk.
    const aliceCopy = await emailIn(alice, "inbox", "j1@shop.test");
    await update(alice, aliceCopy!.id, { "keywords/$junk": true });
    const bobRoles = await roles(bob);
    const bobCopy = await emailIn(bob, "inbox", "j1@shop.test");
    await update(bob, bobCopy!.id, {
      [`mailboxIds/${bobRoles.inbox}`]: null,
      [`mailboxIds/${bobRoles.junk}`]: true,
    });
    await waitLearnt(server, "spam", 2);

    for (const user of [ALICE, BOB, CAROL]) {
      assertMatch(
        await deliver(server, "sales@shop.test", [user], offer("j2@shop.test", user)),
        /^250/,
      );
    }
    const junked = await emailIn(alice, "junk", "j2@shop.test");
    assert(junked, "Alice's second copy is in Junk");
    assertMatch(junked.status, /^\s*Yes,/);
    assertMatch(junked.result, /BAYES_SPAM/);
    assertMatch((await emailIn(bob, "junk", "j2@shop.test"))?.status ?? "", /^\s*Yes,/);
    assertMatch((await emailIn(carol, "inbox", "j2@shop.test"))?.status ?? "", /^\s*No,/);

    // Alice: $notjunk, and back to the INBOX. Her next copy is ham; Bob's is still junk.
    const aliceRoles = await roles(alice);
    await update(alice, junked.id, {
      "keywords/$junk": null,
      "keywords/$notjunk": true,
      [`mailboxIds/${aliceRoles.junk}`]: null,
      [`mailboxIds/${aliceRoles.inbox}`]: true,
    });
    await waitLearnt(server, "ham", 1);
    for (const user of [ALICE, BOB]) {
      assertMatch(
        await deliver(server, "sales@shop.test", [user], offer("j3@shop.test", user)),
        /^250/,
      );
    }
    assertMatch((await emailIn(alice, "inbox", "j3@shop.test"))?.status ?? "", /^\s*No,/);
    assertMatch((await emailIn(bob, "junk", "j3@shop.test"))?.status ?? "", /^\s*Yes,/);
  });
});

/** Uploads and activates `script` for `user` (ManageSieve, tests/helpers/managesieve.ts). */
function activate(server: TestServer, user: string, script: string): Promise<void> {
  return activateScript(server, { user, password: PASSWORD }, script);
}

Deno.test("spam training: Sieve spamtest sees the score — trained spam into a folder, clean mail not", async () => {
  await withAccounts(async (server) => {
    const alice = await Imap.open(server, ALICE);
    try {
      await alice.ok('CREATE "Spammy"');
      await alice.ok('CREATE "Untested"');
    } finally {
      await alice.close();
    }
    await activate(
      server,
      ALICE,
      `require ["spamtestplus", "fileinto", "relational", "comparator-i;ascii-numeric"];
if spamtest :percent :value "ge" :comparator "i;ascii-numeric" "50" {
  fileinto "Spammy";
  stop;
}
if spamtest :value "eq" :comparator "i;ascii-numeric" "0" {
  fileinto "Untested";
}
`,
    );
    assertMatch(
      await deliver(server, "sales@shop.test", [ALICE], offer("s1@shop.test", ALICE)),
      /^250/,
    );
    await assertFiled(server, ALICE, "INBOX", "s1@shop.test", "No");
    const imap = await Imap.open(server, ALICE);
    try {
      await imap.move("s1@shop.test", "INBOX", "Junk");
    } finally {
      await imap.close();
    }
    await waitLearnt(server, "spam", 1);

    // The trained offer scores past the junk threshold: spamtest :percent >= 50.
    assertMatch(
      await deliver(server, "sales@shop.test", [ALICE], offer("s2@shop.test", ALICE)),
      /^250/,
    );
    await assertFiled(server, ALICE, "Spammy", "s2@shop.test", "Yes");
    // A clean letter is tested (not "0") and below 50%: it stays in the INBOX.
    const letter = compose(
      { from: "Jonas <jonas@uni.test>", to: ALICE, subject: "Grant report", id: "l1@uni.test" },
      LETTER,
    );
    assertMatch(await deliver(server, "jonas@uni.test", [ALICE], letter), /^250/);
    await assertFiled(server, ALICE, "INBOX", "l1@uni.test", "No");
    // Mail a local user submits is never scored: spamtest says "0" (not tested).
    const submitted = compose(
      { from: BOB, to: ALICE, subject: "Lunch", id: "lunch@example.com" },
      "Lunch at noon?",
    );
    assertMatch(
      await submit(
        server,
        { user: BOB, password: PASSWORD },
        { from: BOB, to: [ALICE] },
        submitted,
      ),
      /^250/,
    );
    const untested = await stored(server, ALICE, "Untested", "lunch@example.com");
    assert(untested !== null, "the submitted message is filed as untested");
    assert(!/^X-Spam-/m.test(untested), untested);
    assertEquals(await stored(server, ALICE, "Untested", "l1@uni.test"), null);
  });
});

async function spamStatus(server: TestServer, account: string): Promise<string> {
  const result = await cli(server.configPath, ["spam", "status", "--account", account]);
  assertEquals(result.code, 0, result.stderr);
  return result.stdout;
}

Deno.test("spam training: a correspondent gets REP_CORRESPONDENT; a reply to a Junk message teaches ham", async () => {
  const { peer, dns, serverOptions } = await startRemoteDomain({
    "remote.test": { TXT: ["v=spf1 ip4:127.0.0.1 -all"] },
  });
  try {
    await withAccounts(async (server) => {
      const login = { user: ALICE, password: PASSWORD };
      const note = compose(
        { from: ALICE, to: "bob@remote.test", subject: "Minutes", id: "minutes@example.com" },
        "Here are the minutes of today's meeting.",
      );
      assertMatch(
        await submit(server, login, { from: ALICE, to: ["bob@remote.test"] }, note),
        /^250/,
      );
      await eventually(() => peer.accepted.length === 1, "the peer to receive the minutes");

      // Bob (SPF pass for remote.test, From aligned) is someone Alice wrote to; Dave is not.
      const fromBob = compose(
        { from: "Bob <bob@remote.test>", to: ALICE, subject: "Re: Minutes", id: "b1@remote.test" },
        LETTER,
      );
      assertMatch(await deliver(server, "bob@remote.test", [ALICE], fromBob), /^250/);
      const bobs = await assertFiled(server, ALICE, "INBOX", "b1@remote.test", "No");
      assertMatch(bobs, /spf=pass/);
      assertMatch(bobs, /REP_CORRESPONDENT/);
      const fromDave = compose(
        { from: "Dave <dave@remote.test>", to: ALICE, subject: "Hello", id: "d1@remote.test" },
        LETTER,
      );
      assertMatch(await deliver(server, "dave@remote.test", [ALICE], fromDave), /^250/);
      const daves = await assertFiled(server, ALICE, "INBOX", "d1@remote.test", "No");
      assertMatch(daves, /spf=pass/);
      assert(!/REP_CORRESPONDENT/.test(daves), daves);

      // The same for mail sent through JMAP (EmailSubmission/set).
      const jmap = await jmapClient(server, ALICE, PASSWORD);
      const using = [...USING, "urn:ietf:params:jmap:submission"];
      const accountId = jmap.accountId;
      const [[, identities]] = await jmap.call(
        [["Identity/get", { accountId, ids: null }, "0"]],
        using,
      );
      const drafts = (await roles(jmap)).drafts;
      const responses = await jmap.call([
        ["Email/set", {
          accountId,
          create: {
            d: {
              mailboxIds: { [drafts]: true },
              keywords: { $draft: true },
              from: [{ email: ALICE }],
              to: [{ email: "carol@remote.test" }],
              subject: "Agenda",
              textBody: [{ partId: "t", type: "text/plain" }],
              bodyValues: { t: { value: "The agenda for Monday." } },
            },
          },
        }, "0"],
        ["EmailSubmission/set", {
          accountId,
          create: { s: { identityId: identities.list[0].id, emailId: "#d" } },
        }, "1"],
      ], using);
      assert(responses[1][1].created?.s, JSON.stringify(responses[1][1]));
      await eventually(() => peer.accepted.length === 2, "the peer to receive the agenda");
      const fromCarol = compose(
        {
          from: "Carol <carol@remote.test>",
          to: ALICE,
          subject: "Re: Agenda",
          id: "c1@remote.test",
        },
        LETTER,
      );
      assertMatch(await deliver(server, "carol@remote.test", [ALICE], fromCarol), /^250/);
      assertMatch(
        await assertFiled(server, ALICE, "INBOX", "c1@remote.test", "No"),
        /REP_CORRESPONDENT/,
      );

      // An offer Alice put in Junk, then answered: the reply teaches that it is wanted.
      const promo = (id: string) =>
        compose({ from: "Sales <sales@remote.test>", to: ALICE, subject: "Clearance", id }, OFFER);
      assertMatch(
        await deliver(server, "sales@remote.test", [ALICE], promo("p1@remote.test")),
        /^250/,
      );
      const imap = await Imap.open(server, ALICE);
      try {
        await imap.move("p1@remote.test", "INBOX", "Junk");
      } finally {
        await imap.close();
      }
      await waitLearnt(server, "spam", 1);
      assertMatch(await spamStatus(server, ALICE), /^alice@example\.com: 0 ham, 1 spam learnt$/m);
      assertMatch(
        await deliver(server, "sales@remote.test", [ALICE], promo("p2@remote.test")),
        /^250/,
      );
      // Its proven sender now has a spam history with Alice.
      assertMatch(
        await assertFiled(server, ALICE, "Junk", "p2@remote.test", "Yes"),
        /REP_SENDER_SPAM\(\d+\.\d\d\)\[sales@remote\.test ham=0 spam=1\]/,
      );

      const answer = compose({
        from: ALICE,
        to: "sales@remote.test",
        subject: "Re: Clearance",
        id: "answer@example.com",
        inReplyTo: "p1@remote.test",
      }, "Please send me the catalogue.");
      assertMatch(
        await submit(server, login, { from: ALICE, to: ["sales@remote.test"] }, answer),
        /^250/,
      );
      await waitLearnt(server, "ham", 1);
      assertMatch(await spamStatus(server, ALICE), /^alice@example\.com: 1 ham, 0 spam learnt$/m);
      assertMatch(
        await deliver(server, "sales@remote.test", [ALICE], promo("p3@remote.test")),
        /^250/,
      );
      await assertFiled(server, ALICE, "INBOX", "p3@remote.test", "No");
    }, serverOptions);
  } finally {
    await dns.close();
    await peer.close();
  }
});
