/**
 * The message path and the directory, in process against a real data directory: recipient
 * resolution (aliases, catch-all, sub-addressing), limits, quota, line-end normalisation, change
 * notifications, and the shared authentication service.
 */
import { assert, assertEquals, assertRejects } from "../helpers/assert.ts";
import { makeTestConfig } from "../helpers/server.ts";
import { loadConfig } from "../../src/config/load.ts";
import { type App, openApp } from "../../src/app.ts";
import { deliverLocal } from "../../src/mail/deliver.ts";
import { IngestError } from "../../src/mail/ingest.ts";
import { webCryptoSha256 } from "../helpers/hash.ts";
import { configureLogging } from "../../src/observability/log.ts";

configureLogging({ level: "error" });

async function withApp(
  work: (app: App) => Promise<void>,
  limits: Record<string, string | number> = {},
  auth: Record<string, string | number> = {},
) {
  const { dir, configPath } = await makeTestConfig({ limits, auth });
  const app = await openApp(await loadConfig(configPath, { env: {} }));
  try {
    await app.directory.addDomain("example.com");
    await app.directory.addDomain("example.net");
    await work(app);
  } finally {
    await app.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const message = (subject: string) =>
  new TextEncoder().encode(`From: x@example.org\r\nSubject: ${subject}\r\n\r\nhello\r\n`);

async function inboxCount(app: App, address: string) {
  const account = (await app.directory.getAccount(address))!;
  return (await app.store.listMailboxes(account.id))[0].messages;
}

Deno.test("recipients resolve through accounts, aliases, sub-addresses and catch-all", async () => {
  await withApp(async (app) => {
    const d = app.directory;
    await d.addAccount("alice@example.com", { password: "a" });
    await d.addAccount("bob@example.com", { password: "b" });
    await d.addAccount("carol@example.net", { password: "c" });
    await d.addAlias("team@example.com", "alice@example.com");
    await d.addAlias("team@example.com", "bob@example.com");
    await d.addAlias("chain@example.com", "team@example.com");
    await d.addAlias("fwd@example.com", "someone@elsewhere.test");
    await d.addAlias("@example.net", "carol@example.net");

    const names = async (rcpt: string) =>
      (await d.resolveRecipient(rcpt))?.accounts.map((a) => a.address).sort() ?? null;
    assertEquals(await names("alice@example.com"), ["alice@example.com"]);
    assertEquals(await names("ALICE@Example.COM"), ["alice@example.com"]);
    assertEquals(await names("alice+lists@example.com"), ["alice@example.com"]);
    assertEquals(await names("team@example.com"), ["alice@example.com", "bob@example.com"]);
    assertEquals(await names("team+x@example.com"), ["alice@example.com", "bob@example.com"]);
    assertEquals(await names("chain@example.com"), ["alice@example.com", "bob@example.com"]);
    assertEquals(await names("anything@example.net"), ["carol@example.net"]);
    assertEquals(await names("nobody@example.com"), null); // no catch-all on example.com
    assertEquals(await names("alice@elsewhere.test"), null); // not our domain
    assertEquals(await names("not an address"), null);
    assertEquals(await d.resolveRecipient("fwd@example.com"), {
      accounts: [],
      external: ["someone@elsewhere.test"],
    });
  });
});

Deno.test("deliver: one parse, one blob, one copy per account, clear failures per recipient", async () => {
  await withApp(async (app) => {
    await app.directory.addAccount("alice@example.com", { password: "a" });
    await app.directory.addAccount("bob@example.com", { password: "b" });
    await app.directory.addAlias("both@example.com", "alice@example.com");
    await app.directory.addAlias("both@example.com", "bob@example.com");
    const results = await deliverLocal(app.messages, app.directory, message("multi"), [
      "alice@example.com",
      "both@example.com",
      "ghost@example.com",
    ]);
    assertEquals(results.map((r) => [r.recipient, r.status]), [
      ["alice@example.com", "delivered"],
      ["both@example.com", "delivered"],
      ["ghost@example.com", "failed"],
    ]);
    const failure = results[2];
    assert(failure.status === "failed");
    assertEquals([failure.code, failure.error], [
      "unknown_recipient",
      "no such recipient ghost@example.com",
    ]);
    assertEquals(await inboxCount(app, "alice@example.com"), 1); // not twice
    assertEquals(await inboxCount(app, "bob@example.com"), 1);
    const blobs = [];
    for await (const blob of app.blobs.list()) blobs.push(blob.hash);
    assertEquals(blobs.length, 1);
  });
});

Deno.test("ingest normalises line ends to CRLF and stores the exact bytes it hashed", async () => {
  await withApp(async (app) => {
    const alice = await app.directory.addAccount("alice@example.com", { password: "a" });
    const lf = new TextEncoder().encode("Subject: lf\n\nline one\nline two\n");
    const stored = await app.messages.ingest(lf, { accountId: alice.id });
    const expected = "Subject: lf\r\n\r\nline one\r\nline two\r\n";
    const bytes = await app.blobs.get(stored.blobHash);
    assertEquals(new TextDecoder().decode(bytes), expected);
    assertEquals(stored.size, expected.length);
    assertEquals(await webCryptoSha256(bytes), stored.blobHash);
  });
});

Deno.test("limits and quota refuse with IngestError codes, nothing half-stored", async () => {
  await withApp(
    async (app) => {
      const alice = await app.directory.addAccount("alice@example.com", { password: "a" }, {
        quota: 100, // the two small messages below (45 + 46 bytes) fit; a third does not
      });
      const big = new Uint8Array(2100).fill(0x61);
      let error = await assertRejects(
        () => app.messages.ingest(big, { accountId: alice.id }),
        IngestError,
      );
      assertEquals(error.code, "too_large");
      const hugeHeader = new TextEncoder().encode(`X-Big: ${"b".repeat(1500)}\r\n\r\nbody`);
      error = await assertRejects(
        () => app.messages.ingest(hugeHeader, { accountId: alice.id }),
        IngestError,
      );
      assertEquals(error.code, "header_size");
      const deep = new TextEncoder().encode(
        Array.from(
          { length: 6 },
          (_, i) => `Content-Type: multipart/mixed; boundary="b${i}"\r\n\r\n--b${i}\r\n`,
        ).join("") + "x",
      );
      error = await assertRejects(
        () => app.messages.ingest(deep, { accountId: alice.id }),
        IngestError,
      );
      assertEquals(error.code, "depth");
      await app.messages.ingest(message("fits"), { accountId: alice.id });
      await app.messages.ingest(message("fits2"), { accountId: alice.id });
      error = await assertRejects(
        () => app.messages.ingest(message("over quota"), { accountId: alice.id }),
        IngestError,
      );
      assertEquals(error.code, "quota");
      assertEquals(await inboxCount(app, "alice@example.com"), 2);
      assertEquals(await app.store.integrityCheck(), "ok");
    },
    { max_message_size: 2000, max_header_size: 1024, max_mime_depth: 4 },
  );
});

Deno.test("every committed delivery is announced on the change bus after the commit", async () => {
  await withApp(async (app) => {
    const alice = await app.directory.addAccount("alice@example.com", { password: "a" });
    const seen: number[] = [];
    const off = app.bus.subscribe(alice.id, async (event) => {
      // By the time we hear of it, the email is readable.
      const emails = await app.store.listEmails(alice.id);
      seen.push(emails.length);
      assertEquals(event.types.includes("Email"), true);
    });
    await app.messages.ingest(message("one"), { accountId: alice.id });
    await app.messages.ingest(message("two"), { accountId: alice.id });
    off();
    await app.messages.ingest(message("three"), { accountId: alice.id });
    await new Promise((r) => setTimeout(r, 10));
    assertEquals(seen, [1, 2]);
  });
});

Deno.test("parsed header fields are stored for JMAP and threading", async () => {
  await withApp(async (app) => {
    const alice = await app.directory.addAccount("alice@example.com", { password: "a" });
    const raw = new TextEncoder().encode(
      'From: =?utf-8?q?J=C3=BCrgen?= <j@example.org>\r\nTo: a@example.com, "B, C" <b@example.com>\r\n' +
        "Subject: =?iso-8859-1?q?R=E9sum=E9?=\r\nDate: Tue, 1 Sep 2026 10:00:00 +0200\r\n" +
        "Message-ID: <m1@example.org>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
        "Grüße aus Berlin\r\n",
    );
    const stored = await app.messages.ingest(raw, { accountId: alice.id });
    assertEquals(stored.subject, "Résumé");
    const app2 = app.store as unknown as { db: import("node:sqlite").DatabaseSync };
    const row = app2.db.prepare(
      "SELECT from_, to_, sent_at, message_id, preview FROM emails WHERE id = ?",
    ).get(stored.id) as Record<string, unknown>;
    assertEquals(JSON.parse(row.from_ as string), [{ name: "Jürgen", email: "j@example.org" }]);
    assertEquals(JSON.parse(row.to_ as string), [
      { name: null, email: "a@example.com" },
      { name: "B, C", email: "b@example.com" },
    ]);
    assertEquals(row.sent_at, Date.UTC(2026, 8, 1, 8, 0, 0));
    assertEquals(row.message_id, "m1@example.org");
    assertEquals(row.preview, "Grüße aus Berlin");
    const hits = app2.db.prepare("SELECT rowid FROM email_fts WHERE email_fts MATCH 'gruße'")
      .all();
    assertEquals(hits.length, 1, "full-text search folds diacritics");
  });
});

Deno.test("authentication: same answer for unknown users, rate limits, legacy hashes upgraded", async () => {
  await withApp(
    async (app) => {
      const d = app.directory;
      await d.addAccount("alice@example.com", { password: "correct horse" });
      // A migrated account with a legacy (here: plain) hash.
      await d.addAccount("bob@example.com", { hash: "{PLAIN}legacy" });

      const ok = await d.authenticate("Alice@example.com", "correct horse", "192.0.2.1");
      assert(ok.ok);
      assertEquals(ok.account.address, "alice@example.com");
      assertEquals(await d.authenticate("alice@example.com", "wrong", "192.0.2.1"), {
        ok: false,
        reason: "invalid",
      });
      assertEquals(await d.authenticate("nobody@example.com", "wrong", "192.0.2.1"), {
        ok: false,
        reason: "invalid",
      });

      const bob = (await d.getAccount("bob@example.com"))!;
      assertEquals(await app.store.getPasswordHash(bob.id), "{PLAIN}legacy");
      assert((await d.authenticate("bob@example.com", "legacy", "192.0.2.2")).ok);
      const upgraded = (await app.store.getPasswordHash(bob.id))!;
      assert(upgraded.startsWith("{ARGON2ID}$argon2id$"), upgraded);
      assert((await d.authenticate("bob@example.com", "legacy", "192.0.2.2")).ok);

      // Three failures from one IP (limit 3) block even the right password from that IP…
      for (let i = 0; i < 3; i++) await d.authenticate("alice@example.com", "bad", "198.51.100.7");
      assertEquals(await d.authenticate("alice@example.com", "correct horse", "198.51.100.7"), {
        ok: false,
        reason: "rate_limited",
      });
      // …but another address still gets in.
      assert((await d.authenticate("alice@example.com", "correct horse", "203.0.113.9")).ok);
    },
    {},
    { max_failures_per_ip: 3 },
  );
});
