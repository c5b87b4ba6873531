import { assert, assertEquals, assertRejects, assertThrows } from "../helpers/assert.ts";
import { SqliteStore } from "../../src/store/sqlite/store.ts";
import { LATEST_VERSION, SchemaTooNewError } from "../../src/store/sqlite/migrations.ts";
import { type NewEmail, StoreError } from "../../src/store/types.ts";
import { DEFAULT_MAILBOXES } from "../../src/directory/mailboxes.ts";
import { newEmail } from "../helpers/emails.ts";
import { DatabaseSync } from "node:sqlite";

async function withStore(work: (store: SqliteStore, dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "postern-store-" });
  const store = new SqliteStore({ path: `${dir}/db.sqlite` });
  try {
    await work(store, dir);
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

async function account(store: SqliteStore, address = "alice@example.com", quota = 0) {
  const domainName = address.split("@")[1];
  const domain = await store.getDomain(domainName) ?? await store.createDomain(domainName);
  return await store.createAccount({
    address,
    domainId: domain.id,
    displayName: "",
    quota,
    passwordHash: null,
    mailboxes: DEFAULT_MAILBOXES,
  });
}

function email(accountId: number, overrides: Partial<NewEmail> = {}): NewEmail {
  return newEmail(accountId, {
    blobHash: "a".repeat(64),
    subject: "hello",
    baseSubject: "hello",
    from: [{ name: "Bob", email: "bob@example.org" }],
    preview: "hi",
    fts: { subject: "hello", addresses: "bob@example.org", body: "hi there zebra" },
    ...overrides,
  });
}

Deno.test("a new database is migrated to the latest version with WAL and synchronous=FULL", async () => {
  await withStore(async (store) => {
    assertEquals(store.appliedMigrations.at(-1), LATEST_VERSION);
    assertEquals({ ...store.db.prepare("PRAGMA journal_mode").get() }, { journal_mode: "wal" });
    assertEquals({ ...store.db.prepare("PRAGMA synchronous").get() }, { synchronous: 2 });
    assertEquals(await store.integrityCheck(), "ok");
  });
});

Deno.test("a database from a newer Postern is refused", async () => {
  const dir = await Deno.makeTempDir();
  const db = new DatabaseSync(`${dir}/db.sqlite`);
  db.exec(`PRAGMA user_version = ${LATEST_VERSION + 5}`);
  db.close();
  const error = assertThrows(
    () => new SqliteStore({ path: `${dir}/db.sqlite` }),
    SchemaTooNewError,
  );
  assert(error.message.includes(`schema version ${LATEST_VERSION + 5}`));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("accounts get the default mailboxes with roles; duplicates conflict", async () => {
  await withStore(async (store) => {
    const alice = await account(store);
    const boxes = await store.listMailboxes(alice.id);
    assertEquals(boxes.map((b) => [b.path, b.role]), [
      ["INBOX", "inbox"],
      ["Drafts", "drafts"],
      ["Sent", "sent"],
      ["Junk", "junk"],
      ["Trash", "trash"],
      ["Archive", "archive"],
    ]);
    assert(boxes.every((b) => b.uidNext === 1 && b.uidValidity > 0));
    const error = await assertRejects(() => account(store), StoreError);
    assertEquals(error.code, "conflict");
  });
});

Deno.test("emails get consecutive UIDs, a modseq each, keywords and change-log rows", async () => {
  await withStore(async (store) => {
    const alice = await account(store);
    const results = await Promise.all(
      Array.from(
        { length: 5 },
        (_, i) =>
          store.insertEmail(email(alice.id, { keywords: i === 0 ? ["$Seen", "$seen"] : [] })),
      ),
    );
    assertEquals(results.map((r) => r.memberships[0].uid), [1, 2, 3, 4, 5]);
    const modseqs = results.map((r) => r.modseq);
    assertEquals(new Set(modseqs).size, 5);
    assertEquals(results[0].keywords, ["$seen"]);
    const inbox = (await store.listMailboxes(alice.id))[0];
    assertEquals([inbox.messages, inbox.unseen, inbox.size, inbox.uidNext], [5, 4, 500, 6]);
    // modseqs 1–6 were the six mailbox creations
    const changes = await store.changesSince(alice.id, 6);
    assertEquals(changes.filter((c) => c.type === "Email").length, 5);
    const updated = (await store.getAccountById(alice.id))!;
    assertEquals(updated.usedBytes, 500);
    // Full-text row is searchable.
    const hits = store.db.prepare("SELECT rowid FROM email_fts WHERE email_fts MATCH 'zebra'")
      .all();
    assertEquals(hits.length, 5);
  });
});

Deno.test("an email can be filed into several mailboxes, each with its own UID", async () => {
  await withStore(async (store) => {
    const alice = await account(store);
    const boxes = await store.listMailboxes(alice.id);
    const stored = await store.insertEmail(
      email(alice.id, { mailboxIds: [boxes[0].id, boxes[5].id] }),
    );
    assertEquals(stored.memberships.map((m) => [m.mailboxId, m.uid]), [[boxes[0].id, 1], [
      boxes[5].id,
      1,
    ]]);
    const error = await assertRejects(
      () => store.insertEmail(email(alice.id, { mailboxIds: [999] })),
      StoreError,
    );
    assertEquals(error.code, "not_found");
  });
});

Deno.test("quota: an email that would exceed it is refused, others in the same batch commit", async () => {
  await withStore(async (store) => {
    const alice = await account(store, "alice@example.com", 250);
    const outcomes = await Promise.allSettled([
      store.insertEmail(email(alice.id)),
      store.insertEmail(email(alice.id)),
      store.insertEmail(email(alice.id)),
    ]);
    assertEquals(outcomes.map((o) => o.status), ["fulfilled", "fulfilled", "rejected"]);
    const reason = (outcomes[2] as PromiseRejectedResult).reason;
    assert(reason instanceof StoreError && reason.code === "quota");
    assertEquals((await store.listMailboxes(alice.id))[0].messages, 2);
  });
});

Deno.test("threads join by Message-ID in any arrival order and merge", async () => {
  await withStore(async (store) => {
    const alice = await account(store);
    const root = await store.insertEmail(email(alice.id, { messageId: "root@x" }));
    const reply = await store.insertEmail(
      email(alice.id, { messageId: "reply@x", inReplyTo: ["root@x"], references: ["root@x"] }),
    );
    assertEquals(reply.threadId, root.threadId);
    // A grandchild arrives before its parent: separate thread until the parent links them.
    const grandchild = await store.insertEmail(
      email(alice.id, { messageId: "gc@x", references: ["other@x"] }),
    );
    assert(grandchild.threadId !== root.threadId);
    const linker = await store.insertEmail(
      email(alice.id, { messageId: "other@x", references: ["root@x"] }),
    );
    assertEquals(linker.threadId, root.threadId);
    assertEquals((await store.getEmail(alice.id, grandchild.id))!.threadId, root.threadId);
    const unrelated = await store.insertEmail(email(alice.id, { messageId: "new@x" }));
    assert(unrelated.threadId !== root.threadId);
  });
});

Deno.test("blobs are reference counted across accounts and collected when unused", async () => {
  await withStore(async (store) => {
    const alice = await account(store);
    const bob = await account(store, "bob@example.com");
    await store.insertEmail(email(alice.id));
    await store.insertEmail(email(bob.id));
    assertEquals({ ...store.db.prepare("SELECT refcount FROM blobs").get() }, { refcount: 2 });
    await store.deleteAccount(alice.id);
    const removed: string[] = [];
    assertEquals(await store.collectBlobs((h) => removed.push(h)), 0);
    await store.deleteAccount(bob.id);
    assertEquals(await store.collectBlobs((h) => removed.push(h)), 1);
    assertEquals(removed, ["a".repeat(64)]);
    assertEquals(await store.integrityCheck(), "ok");
  });
});

Deno.test("domains with accounts or aliases cannot be deleted", async () => {
  await withStore(async (store) => {
    const alice = await account(store);
    await store.addAlias("info@example.com", "alice@example.com", alice.domainId);
    const error = await assertRejects(() => store.deleteDomain("example.com"), StoreError);
    assertEquals(
      error.message,
      "domain example.com still has 1 account(s) and 1 alias(es); delete them first",
    );
    await store.deleteAccount(alice.id); // removes the alias pointing at alice too
    await store.deleteDomain("example.com");
    assertEquals(await store.listDomains(), []);
  });
});

Deno.test("an email naming a collected blob it did not write is refused as blob_missing", async () => {
  await withStore(async (store) => {
    const alice = await account(store);
    const error = await assertRejects(
      () => store.insertEmail(email(alice.id, { blobHash: "b".repeat(64), blobWritten: false })),
      StoreError,
    );
    assertEquals(error.code, "blob_missing");
    // Once the caller has written it, the same email goes in.
    const stored = await store.insertEmail(
      email(alice.id, { blobHash: "b".repeat(64), blobWritten: true }),
    );
    assertEquals(stored.blobHash, "b".repeat(64));
    // And a second email sharing the blob needs no write.
    await store.insertEmail(email(alice.id, { blobHash: "b".repeat(64), blobWritten: false }));
    assertEquals({ ...store.db.prepare("SELECT refcount FROM blobs").get() }, { refcount: 2 });
  });
});
