/**
 * The selected-mailbox view (src/imap/selected.ts) over a real store, as two sessions on one
 * mailbox see each other's changes: EXISTS for new mail, FETCH for flag changes (with MODSEQ
 * under CONDSTORE), EXPUNGE held back while expunges are not allowed, VANISHED under QRESYNC,
 * and no echo of a session's own changes.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { SqliteStore } from "../../src/store/sqlite/store.ts";
import type { MailboxMessage, NewEmail } from "../../src/store/types.ts";
import { DEFAULT_MAILBOXES } from "../../src/directory/mailboxes.ts";
import { newEmail } from "../helpers/emails.ts";
import { SelectedMailbox } from "../../src/imap/selected.ts";
import { MailboxCache } from "../../src/imap/mailbox_cache.ts";
import { flagList, keywordOf } from "../../src/imap/flags.ts";
import { mulberry32 } from "../helpers/random.ts";

function email(accountId: number, mailboxIds: number[]): NewEmail {
  return newEmail(accountId, { mailboxIds, size: 10, receivedAt: new Date() });
}

async function withMailbox(
  work: (store: SqliteStore, account: number, inbox: number, path: string) => Promise<void>,
) {
  const dir = await Deno.makeTempDir({ prefix: "postern-selected-" });
  const store = new SqliteStore({ path: `${dir}/db.sqlite` });
  try {
    const domain = await store.createDomain("example.com");
    const account = await store.createAccount({
      address: "a@example.com",
      domainId: domain.id,
      displayName: "",
      quota: 0,
      passwordHash: null,
      mailboxes: DEFAULT_MAILBOXES,
    });
    const inbox = (await store.listMailboxes(account.id)).find((m) => m.role === "inbox")!.id;
    await work(store, account.id, inbox, `${dir}/db.sqlite`);
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("flags: IMAP system flags map to JMAP keywords and back", () => {
  assertEquals(keywordOf("\\Seen"), "$seen");
  assertEquals(keywordOf("\\DELETED"), "$deleted");
  assertEquals(keywordOf("$Junk"), "$junk");
  assertEquals(flagList(["$junk", "$seen", "$answered", "work"]), "(\\Answered \\Seen $Junk work)");
});

Deno.test("two views: new mail, flag changes, held-back expunges", async () => {
  await withMailbox(async (store, account, inbox) => {
    for (let i = 0; i < 3; i++) await store.insertEmail(email(account, [inbox]));
    const options = { condstore: false, qresync: false };
    const cache = new MailboxCache(store);
    const a = await SelectedMailbox.open(cache, account, inbox, options);
    const b = await SelectedMailbox.open(cache, account, inbox, {
      condstore: true,
      qresync: false,
    });
    assertEquals([a.exists, a.seqOf(2), a.uidAt(3)], [3, 2, 3]);

    await store.insertEmail(email(account, [inbox]));
    await b.sync();
    assertEquals(b.flush(true), ["* 4 EXISTS"]);

    // a sets \Seen on UID 2 and reports it itself; b hears of it, with MODSEQ.
    const { updated } = await store.updateKeywords(account, inbox, [2], { add: ["$seen"] });
    a.noteOwn(updated[0]);
    await a.sync();
    assertEquals(a.flush(true), ["* 4 EXISTS"]);
    await b.sync();
    assertEquals(b.flush(true), [`* 2 FETCH (UID 2 FLAGS (\\Seen) MODSEQ (${updated[0].modseq}))`]);

    // UIDs 1 and 3 are expunged elsewhere: held back during a FETCH, then reported.
    await store.expunge(account, inbox, [1, 3]);
    await store.insertEmail(email(account, [inbox]));
    await b.sync();
    assertEquals(b.flush(false), ["* 5 EXISTS"]);
    assertEquals([b.isExpunged(1), b.seqOf(4)], [true, 4]);
    assertEquals(b.flush(true), ["* 3 EXPUNGE", "* 1 EXPUNGE"]);
    assertEquals([...b.uids], [2, 4, 5]);
    assertEquals(b.exists, 3);
  });
});

Deno.test("QRESYNC views report VANISHED once; own expunges are reported at the next flush", async () => {
  await withMailbox(async (store, account, inbox) => {
    for (let i = 0; i < 4; i++) await store.insertEmail(email(account, [inbox]));
    const view = await SelectedMailbox.open(new MailboxCache(store), account, inbox, {
      condstore: true,
      qresync: true,
    });
    await store.expunge(account, inbox, [2, 3]);
    await view.sync();
    assertEquals(view.flush(true), ["* VANISHED 2:3"]);
    assertEquals(view.flush(true), []);
    assertEquals(view.exists, 2);
    const expunged = await store.expunge(account, inbox, [4]);
    view.noteOwnExpunge(expunged);
    assertEquals(view.flush(true), ["* VANISHED 4"]);
    await view.sync();
    assertEquals(view.flush(true), []);
    assertEquals([...view.uids], [1]);
  });
});

Deno.test("a view whose mailbox was evicted from the cache still learns what happened meanwhile", async () => {
  await withMailbox(async (store, account, inbox) => {
    for (let i = 0; i < 4; i++) await store.insertEmail(email(account, [inbox]));
    const other = (await store.listMailboxes(account)).find((m) => m.role === "archive")!.id;
    const cache = new MailboxCache(store, { maxEntries: 1 });
    const view = await SelectedMailbox.open(cache, account, inbox, {
      condstore: false,
      qresync: false,
    });
    await store.expunge(account, inbox, [1]);
    await store.updateKeywords(account, inbox, [3], { add: ["$flagged"] });
    await store.insertEmail(email(account, [inbox]));
    await cache.current(account, other); // evicts INBOX: the view's entry is stale now
    await view.sync();
    assertEquals(view.flush(true), [
      "* 3 FETCH (UID 3 FLAGS (\\Flagged))",
      "* 1 EXPUNGE",
      "* 4 EXISTS",
    ]);
    assertEquals([...view.uids], [2, 3, 4, 5]);
  });
});

Deno.test("more changes than the cache's log holds: a view far behind compares it all", async () => {
  await withMailbox(async (store, account, inbox) => {
    for (let i = 0; i < 3; i++) await store.insertEmail(email(account, [inbox]));
    const cache = new MailboxCache(store);
    const behind = await SelectedMailbox.open(cache, account, inbox, {
      condstore: true,
      qresync: false,
    });
    const keeping = await SelectedMailbox.open(cache, account, inbox, {
      condstore: false,
      qresync: false,
    });
    // 5,000 flag changes, each seen by the cache (another session syncing after each).
    let last = 0;
    for (let i = 0; i < 5000; i++) {
      const uid = (i % 2) + 2;
      const { updated } = await store.updateKeywords(account, inbox, [uid], {
        [i % 4 < 2 ? "add" : "remove"]: ["$seen"],
      });
      last = updated[0]?.modseq ?? last;
      await keeping.sync();
    }
    await behind.sync();
    const lines = behind.flush(true);
    assertEquals(lines.length, 2);
    assertEquals(lines[0].startsWith("* 2 FETCH (UID 2 FLAGS ("), true);
    assertEquals(
      lines[1],
      `* 3 FETCH (UID 3 FLAGS ${flagList(behind.keywordsOf(3))} MODSEQ (${last}))`,
    );
  });
});

Deno.test("the cache sees changes another process made to the same database", async () => {
  await withMailbox(async (store, account, inbox, path) => {
    await store.insertEmail(email(account, [inbox]));
    const cache = new MailboxCache(store);
    const view = await SelectedMailbox.open(cache, account, inbox, {
      condstore: false,
      qresync: false,
    });
    const elsewhere = new SqliteStore({ path });
    try {
      await elsewhere.insertEmail(email(account, [inbox]));
      await elsewhere.updateKeywords(account, inbox, [1], { add: ["$answered"] });
    } finally {
      await elsewhere.close();
    }
    await view.sync();
    assertEquals(view.flush(true), ["* 1 FETCH (UID 1 FLAGS (\\Answered))", "* 2 EXISTS"]);
  });
});

Deno.test("the cache keeps at most maxMessages, least recently used mailbox first", async () => {
  await withMailbox(async (store, account, inbox) => {
    const archive = (await store.listMailboxes(account)).find((m) => m.role === "archive")!.id;
    for (let i = 0; i < 3; i++) await store.insertEmail(email(account, [inbox]));
    for (let i = 0; i < 3; i++) await store.insertEmail(email(account, [archive]));
    let loads = 0;
    const counting = new Proxy(store, {
      get(target, name) {
        if (name === "mailboxMessages") loads++;
        const value = Reflect.get(target, name, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const cache = new MailboxCache(counting, { maxMessages: 4 });
    assertEquals((await cache.current(account, inbox)).uids, [1, 2, 3]);
    assertEquals((await cache.current(account, inbox)).uids, [1, 2, 3]);
    assertEquals(loads, 1); // the second read came from memory
    await cache.current(account, archive); // 6 messages in all: INBOX goes
    await cache.current(account, archive);
    assertEquals(loads, 2);
    assertEquals((await cache.current(account, inbox)).uids, [1, 2, 3]);
    assertEquals(loads, 3);
  });
});

for (const qresync of [false, true]) {
  Deno.test(
    `fuzz: a client following one view's responses always ends up with the store's state${
      qresync ? " (QRESYNC)" : ""
    }`,
    () => followTheView(qresync),
  );
}

async function followTheView(qresync: boolean) {
  await withMailbox(async (store, account, inbox) => {
    const archive = (await store.listMailboxes(account)).find((m) => m.role === "archive")!.id;
    const random = mulberry32(7);
    const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)];
    const some = (uids: readonly number[]) => uids.filter(() => random() < 0.3);
    const flags = ["$seen", "$flagged", "$answered", "$junk"];
    for (let i = 0; i < 5; i++) await store.insertEmail(email(account, [inbox]));
    // Two mailboxes, one entry: reading the other evicts INBOX now and then.
    const cache = new MailboxCache(store, { maxEntries: 1 });
    const options = { condstore: true, qresync };
    const view = await SelectedMailbox.open(cache, account, inbox, options);
    const other = await SelectedMailbox.open(cache, account, inbox, options);
    const stored = async () =>
      new Map((await store.mailboxMessages(account, inbox)).map((m) => [m.uid, m.keywords]));
    // What the client knows: UIDs in sequence order and their flags, from the responses alone
    // (plus, for new messages, what a FETCH would tell it).
    const initial = await stored();
    const client = { uids: [...view.uids], flags: new Map(initial) };
    const follow = async (lines: string[]) => {
      const now = await stored();
      for (const line of lines) {
        let match = line.match(/^\* VANISHED ([\d:,]+)$/);
        if (match) {
          const gone = match[1].split(",").flatMap((range) => {
            const [low, high = low] = range.split(":").map(Number);
            return Array.from({ length: high - low + 1 }, (_, i) => low + i);
          });
          assert(gone.every((uid) => client.uids.includes(uid)), line);
          client.uids = client.uids.filter((uid) => !gone.includes(uid));
          continue;
        }
        match = line.match(/^\* (\d+) EXPUNGE$/);
        if (match) {
          client.uids.splice(Number(match[1]) - 1, 1);
          continue;
        }
        match = line.match(/^\* (\d+) EXISTS$/);
        if (match) {
          const fresh = view.uids.slice(client.uids.length, Number(match[1]));
          for (const uid of fresh) client.flags.set(uid, now.get(uid) ?? []);
          client.uids.push(...fresh);
          continue;
        }
        match = line.match(/^\* (\d+) FETCH \(UID (\d+) FLAGS \(([^)]*)\) MODSEQ \(\d+\)\)$/);
        assert(match, line);
        assertEquals(client.uids[Number(match[1]) - 1], Number(match[2]), line);
        client.flags.set(
          Number(match[2]),
          match[3] === "" ? [] : match[3].split(" ").map(keywordOf).sort(),
        );
      }
      assertEquals(client.uids.length, view.exists, lines.join("\n"));
    };
    for (let round = 0; round < 400; round++) {
      const present = [...(await stored()).keys()];
      switch (Math.floor(random() * 8)) {
        case 0:
          await store.insertEmail(email(account, [inbox]));
          break;
        case 1:
        case 2:
          await store.updateKeywords(account, inbox, some(present), {
            [random() < 0.5 ? "add" : "remove"]: [pick(flags)],
          });
          break;
        case 3:
          if (present.length > 3) await store.expunge(account, inbox, some(present));
          break;
        case 4: {
          // This session's own STORE: it reports the new flags itself.
          const mine = some(client.uids.filter((u) => !view.isExpunged(u)));
          const { updated } = await store.updateKeywords(account, inbox, mine, {
            add: [pick(flags)],
          });
          for (const message of updated) {
            view.noteOwn(message);
            client.flags.set(message.uid, message.keywords);
          }
          break;
        }
        case 5:
          await cache.current(account, archive);
          break;
        case 6:
          await other.sync();
          other.flush(random() < 0.5);
          break;
        case 7:
          await view.sync();
          await follow(view.flush(false)); // during FETCH/STORE/SEARCH: no expunges yet
          break;
      }
      if (round % 5 === 4) {
        await view.sync();
        await follow(view.flush(true));
        const now = await stored();
        assertEquals(client.uids, [...now.keys()], `round ${round}`);
        for (const uid of client.uids) {
          assertEquals(client.flags.get(uid), now.get(uid), `round ${round}, UID ${uid}`);
        }
      }
    }
  });
}

Deno.test("a refresh already under way with an older mailbox row is not taken as up to date", async () => {
  await withMailbox(async (store, account, inbox) => {
    await store.insertEmail(email(account, [inbox]));
    let hold: Promise<void> | null = null;
    let release = () => {};
    // The store, but the next changedMessages waits until released (after reading its rows).
    const slow = new Proxy(store, {
      get(target, name) {
        const value = Reflect.get(target, name, target);
        if (name !== "changedMessages" || !hold) {
          return typeof value === "function" ? value.bind(target) : value;
        }
        const waiting = hold;
        hold = null;
        return async (...args: Parameters<SqliteStore["changedMessages"]>) => {
          const rows = await target.changedMessages(...args);
          await waiting;
          return rows;
        };
      },
    });
    const cache = new MailboxCache(slow);
    await cache.current(account, inbox);
    await store.insertEmail(email(account, [inbox])); // UID 2
    hold = new Promise((resolve) => release = resolve);
    const first = cache.current(account, inbox); // reads up to UID 2, then waits
    await new Promise((resolve) => setTimeout(resolve, 10));
    await store.insertEmail(email(account, [inbox])); // UID 3, after that refresh read
    const second = cache.current(account, inbox); // sees UID 3's modseq in the mailbox row
    await new Promise((resolve) => setTimeout(resolve, 10));
    release();
    assertEquals((await first).uids.length >= 2, true);
    assertEquals((await second).uids, [1, 2, 3]);
  });
});

Deno.test("a refresh bringing 250,000 changes at once (STORE 1:* on a huge mailbox)", async () => {
  await withMailbox(async (store, account, inbox) => {
    await store.insertEmail(email(account, [inbox]));
    // The store, but answering as if a quarter million messages had changed at the next modseq.
    let many: MailboxMessage[] = [];
    const bulk = new Proxy(store, {
      get(target, name) {
        if (name === "changedMessages") return () => Promise.resolve(many);
        const value = Reflect.get(target, name, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const cache = new MailboxCache(bulk);
    const view = await SelectedMailbox.open(cache, account, inbox, {
      condstore: false,
      qresync: false,
    });
    const { updated } = await store.updateKeywords(account, inbox, [1], { add: ["$seen"] });
    many = Array.from({ length: 250_000 }, (_, i) => ({ ...updated[0], uid: i + 1 }));
    const entry = await cache.current(account, inbox);
    assertEquals(entry.uids.length, 250_000);
    await view.sync();
    const lines = view.flush(true);
    assertEquals(lines[0], "* 1 FETCH (UID 1 FLAGS (\\Seen))");
    assertEquals(lines.at(-1), "* 250000 EXISTS");
  });
});
