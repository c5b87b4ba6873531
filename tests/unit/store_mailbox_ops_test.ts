/**
 * The store's IMAP mailbox operations (src/store/sqlite/mailbox_ops.ts) on a real SQLite file:
 * mailbox create/rename/delete with hierarchy and INBOX rules, UID maps, keyword changes with
 * modseqs and UNCHANGEDSINCE, expunge (with VANISHED records and destroying orphaned emails),
 * copy and move with UIDPLUS mappings, and the change log that JMAP and QRESYNC read.
 */
import { assert, assertEquals, assertRejects } from "../helpers/assert.ts";
import { SqliteStore } from "../../src/store/sqlite/store.ts";
import { type NewEmail, StoreError } from "../../src/store/types.ts";
import { DEFAULT_MAILBOXES } from "../../src/directory/mailboxes.ts";
import { newEmail } from "../helpers/emails.ts";

async function withAccount(
  work: (store: SqliteStore, accountId: number, inbox: number) => Promise<void>,
) {
  const dir = await Deno.makeTempDir({ prefix: "postern-mailbox-ops-" });
  const store = new SqliteStore({ path: `${dir}/db.sqlite` });
  try {
    const domain = await store.createDomain("example.com");
    const account = await store.createAccount({
      address: "alice@example.com",
      domainId: domain.id,
      displayName: "",
      quota: 0,
      passwordHash: null,
      mailboxes: DEFAULT_MAILBOXES,
    });
    const inbox = (await store.listMailboxes(account.id)).find((m) => m.role === "inbox")!;
    await work(store, account.id, inbox.id);
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

function email(accountId: number, mailboxIds: number[], keywords: string[] = []): NewEmail {
  return newEmail(accountId, { mailboxIds, keywords });
}

async function pathOf(store: SqliteStore, accountId: number, id: number) {
  return (await store.listMailboxes(accountId)).find((m) => m.id === id)?.path;
}

Deno.test("create makes missing parents; names are case-sensitive except INBOX", async () => {
  await withAccount(async (store, accountId) => {
    const deep = await store.createMailbox(accountId, "Projects/2026/Q4");
    assertEquals(await pathOf(store, accountId, deep.id), "Projects/2026/Q4");
    const paths = (await store.listMailboxes(accountId)).map((m) => m.path);
    assert(paths.includes("Projects") && paths.includes("Projects/2026"), paths.join());
    await store.createMailbox(accountId, "projects"); // a different name
    await assertRejects(() => store.createMailbox(accountId, "Projects/2026"), StoreError);
    await assertRejects(() => store.createMailbox(accountId, "inbox"), StoreError);
    const child = await store.createMailbox(accountId, "inbox/Child");
    assertEquals(await pathOf(store, accountId, child.id), "INBOX/Child");
    await assertRejects(() => store.createMailbox(accountId, "a//b"), StoreError);
    await assertRejects(() => store.createMailbox(accountId, "Archive2", "archive"), StoreError);
    assert(deep.uidValidity > 0 && deep.uidNext === 1);
  });
});

Deno.test("rename moves a subtree; INBOX's rename moves its messages and INBOX stays", async () => {
  await withAccount(async (store, accountId, inbox) => {
    const a = await store.createMailbox(accountId, "A");
    const child = await store.createMailbox(accountId, "A/Child");
    await store.renameMailbox(accountId, a.id, "B/A2");
    assertEquals(await pathOf(store, accountId, child.id), "B/A2/Child");
    await assertRejects(() => store.renameMailbox(accountId, a.id, "B/A2/Child/X"), StoreError);
    await assertRejects(() => store.renameMailbox(accountId, child.id, "B"), StoreError);

    await store.insertEmail(email(accountId, [inbox]));
    await store.insertEmail(email(accountId, [inbox]));
    await store.renameMailbox(accountId, inbox, "Old Inbox");
    const boxes = await store.listMailboxes(accountId);
    assertEquals(boxes.find((m) => m.id === inbox)?.messages, 0);
    const old = boxes.find((m) => m.path === "Old Inbox")!;
    assertEquals(old.messages, 2);
    assertEquals((await store.mailboxMessages(accountId, old.id)).map((m) => m.uid), [1, 2]);
  });
});

Deno.test("delete: not INBOX, not with children; its messages are expunged", async () => {
  await withAccount(async (store, accountId, inbox) => {
    await assertRejects(() => store.deleteMailbox(accountId, inbox), StoreError);
    const parent = await store.createMailbox(accountId, "P");
    await store.createMailbox(accountId, "P/C");
    await assertRejects(() => store.deleteMailbox(accountId, parent.id), StoreError);
    const solo = await store.createMailbox(accountId, "Solo");
    const only = await store.insertEmail(email(accountId, [solo.id]));
    const shared = await store.insertEmail(email(accountId, [solo.id, inbox]));
    await store.deleteMailbox(accountId, solo.id);
    assertEquals(await store.getEmail(accountId, only.id), null, "in no mailbox: destroyed");
    assert(await store.getEmail(accountId, shared.id), "still in INBOX: kept");
    await assertRejects(() => store.mailboxMessages(accountId, solo.id), StoreError);
  });
});

Deno.test("keywords: add, remove, set; modseq grows; UNCHANGEDSINCE; shared across mailboxes", async () => {
  await withAccount(async (store, accountId, inbox) => {
    const archive = await store.createMailbox(accountId, "Kept");
    const one = await store.insertEmail(email(accountId, [inbox, archive.id]));
    await store.insertEmail(email(accountId, [inbox], ["$seen"]));
    const before = await store.mailboxMessages(accountId, inbox);
    assertEquals(before.map((m) => m.keywords), [[], ["$seen"]]);

    const added = await store.updateKeywords(accountId, inbox, [1, 2], {
      add: ["$Seen", "$flagged"],
    });
    assertEquals(added.failed, []);
    assertEquals(added.updated.map((m) => m.keywords), [["$flagged", "$seen"], [
      "$flagged",
      "$seen",
    ]]);
    const modseq = added.updated[0].modseq;
    assert(modseq > Math.max(...before.map((m) => m.modseq)));
    // The same email in the other mailbox shows the change, with the new modseq.
    const inArchive = await store.mailboxMessages(accountId, archive.id);
    assertEquals(inArchive[0].keywords, ["$flagged", "$seen"]);
    assertEquals(inArchive[0].modseq, modseq);
    const boxes = await store.listMailboxes(accountId);
    assertEquals(boxes.find((m) => m.id === archive.id)?.highestModseq, modseq);

    // No change: no new modseq.
    const same = await store.updateKeywords(accountId, inbox, [1], { add: ["$seen"] });
    assertEquals(same.updated, []);
    // UNCHANGEDSINCE older than the message's modseq: refused for it.
    const guarded = await store.updateKeywords(accountId, inbox, [1, 2], { set: [] }, modseq - 1);
    assertEquals(guarded, { updated: [], failed: [1, 2] });
    const cleared = await store.updateKeywords(
      accountId,
      inbox,
      [1],
      { remove: ["$flagged"] },
      modseq,
    );
    assertEquals(cleared.updated[0].keywords, ["$seen"]);
    const changes = await store.changesSince(accountId, modseq);
    assert(
      changes.some((c) => c.type === "Email" && c.objectId === one.id),
      JSON.stringify(changes),
    );
  });
});

Deno.test("expunge records VANISHED UIDs, destroys orphaned emails, never reuses a UID", async () => {
  await withAccount(async (store, accountId, inbox) => {
    for (let i = 0; i < 3; i++) await store.insertEmail(email(accountId, [inbox]));
    const start = (await store.listMailboxes(accountId)).find((m) => m.id === inbox)!.highestModseq;
    assertEquals(await store.expunge(accountId, inbox, [2, 3, 99]), [2, 3]);
    assertEquals(await store.expunge(accountId, inbox, [2]), []);
    assertEquals((await store.mailboxMessages(accountId, inbox)).map((m) => m.uid), [1]);
    assertEquals(await store.expungedSince(accountId, inbox, start), [2, 3]);
    const next = await store.insertEmail(email(accountId, [inbox]));
    assertEquals(next.memberships[0].uid, 4);
    assertEquals((await store.listEmails(accountId)).length, 2);
  });
});

Deno.test("copy and move map UIDs (UIDPLUS); move keeps the email and expunges the source", async () => {
  await withAccount(async (store, accountId, inbox) => {
    const target = await store.createMailbox(accountId, "Target");
    const first = await store.insertEmail(email(accountId, [inbox], ["$seen"]));
    await store.insertEmail(email(accountId, [inbox]));
    const copied = await store.copyMessages(accountId, inbox, [1, 2, 7], target.id);
    assertEquals(copied, { uidValidity: target.uidValidity, pairs: [[1, 1], [2, 2]] });
    assertEquals((await store.mailboxMessages(accountId, inbox)).length, 2);

    const moved = await store.moveMessages(accountId, inbox, [1], target.id);
    assertEquals(moved.pairs, [[1, 3]]);
    assertEquals((await store.mailboxMessages(accountId, inbox)).map((m) => m.uid), [2]);
    const inTarget = await store.mailboxMessages(accountId, target.id);
    assertEquals(inTarget.map((m) => [m.uid, m.emailId]), [[1, first.id], [2, 2], [3, first.id]]);
    assertEquals(inTarget[2].keywords, ["$seen"]);
    assertEquals(await store.expungedSince(accountId, inbox, 0), [1]);
    await assertRejects(() => store.moveMessages(accountId, inbox, [2], inbox), StoreError);
  });
});

Deno.test("flag changes and expunges commit relaxed; the connection is back to full sync after, even on error", async () => {
  await withAccount(async (store, accountId, inbox) => {
    const synchronous = () =>
      (store.db.prepare("PRAGMA synchronous").get() as { synchronous: number }).synchronous;
    assertEquals(synchronous(), 2); // FULL
    await store.insertEmail(email(accountId, [inbox]));
    await store.updateKeywords(accountId, inbox, [1], { add: ["$seen"] });
    assertEquals(synchronous(), 2);
    await assertRejects(() => store.updateKeywords(accountId, 9999, [1], { add: ["$seen"] }));
    assertEquals(synchronous(), 2);
    assertEquals(await store.expunge(accountId, inbox, [1]), [1]);
    assertEquals(synchronous(), 2);
    // The expunge is in the database as soon as it returns.
    assertEquals(await store.mailboxMessages(accountId, inbox), []);
  });
});

Deno.test("ids of emails, threads and mailboxes are never reused, even for the newest row", async () => {
  await withAccount(async (store, accountId, inbox) => {
    const first = await store.insertEmail(email(accountId, [inbox]));
    await store.destroyEmails(accountId, [first.id]);
    const second = await store.insertEmail(email(accountId, [inbox]));
    assert(second.id > first.id, `email id ${first.id} reused`);
    assert(second.threadId > first.threadId, `thread id ${first.threadId} reused`);
    const box = await store.createMailbox(accountId, "Temp");
    await store.deleteMailbox(accountId, box.id);
    const again = await store.createMailbox(accountId, "Temp");
    assert(again.id > box.id, `mailbox id ${box.id} reused`);
    const object = await store.putObject(accountId, "Identity", null, "{}");
    await store.deleteObject(accountId, "Identity", object.id);
    const next = await store.putObject(accountId, "Identity", null, "{}");
    assert(next.id > object.id, `object id ${object.id} reused`);
  });
});
