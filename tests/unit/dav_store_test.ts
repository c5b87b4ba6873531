/**
 * The DAV tree of the store (src/store/dav_types.ts) on a real SQLite store: homes, PUT
 * preconditions, quota and blob references, CTags, sync changes and tombstones, COPY/MOVE,
 * deletes, the time-range index and sharing.
 */
import { assert, assertEquals, assertRejects } from "../helpers/assert.ts";
import { SqliteStore } from "../../src/store/sqlite/store.ts";
import { StoreError } from "../../src/store/types.ts";
import type { DavNode, DavResourceInput } from "../../src/store/dav_types.ts";
import { DEFAULT_MAILBOXES } from "../../src/directory/mailboxes.ts";

const DEFAULTS = {
  calendarProps: { "{DAV:}displayname": "<displayname xmlns='DAV:'>Calendar</displayname>" },
  addressbookProps: { "{DAV:}displayname": "<displayname xmlns='DAV:'>Contacts</displayname>" },
};

async function withStore(work: (store: SqliteStore) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "postern-dav-store-" });
  const store = new SqliteStore({ path: `${dir}/db.sqlite` });
  try {
    await work(store);
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

async function account(store: SqliteStore, address = "alice@example.com", quota = 0) {
  const domainName = address.split("@")[1];
  const domain = await store.getDomain(domainName) ?? await store.createDomain(domainName);
  const created = await store.createAccount({
    address,
    domainId: domain.id,
    displayName: "",
    quota,
    passwordHash: null,
    mailboxes: DEFAULT_MAILBOXES,
  });
  await store.dav.ensureHome(created.id, DEFAULTS);
  return created;
}

async function at(store: SqliteStore, accountId: number, path: string): Promise<DavNode> {
  const chain = await store.dav.lookup(accountId, path.split("/"));
  assert(chain, `${path} exists`);
  return chain[chain.length - 1];
}

async function exists(store: SqliteStore, accountId: number, path: string): Promise<boolean> {
  return (await store.dav.lookup(accountId, path.split("/"))) !== null;
}

let etagCounter = 0;

/** A file of `size` bytes whose content is the blob `hash` (one hex digit repeated). */
function file(size: number, digit = "a"): DavResourceInput {
  return {
    contentType: "application/octet-stream",
    size,
    etag: `"e${++etagCounter}"`,
    blobHash: digit.repeat(64),
    blobWritten: true,
  };
}

function event(
  uid: string,
  timeStart: number | null = null,
  timeEnd: number | null = null,
): DavResourceInput {
  const content =
    `BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:${uid}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n`;
  return {
    contentType: "text/calendar; charset=utf-8",
    size: content.length,
    etag: `"e${++etagCounter}"`,
    content,
    uid,
    component: "VEVENT",
    timeStart,
    timeEnd,
  };
}

async function put(
  store: SqliteStore,
  parent: DavNode,
  name: string,
  input: DavResourceInput,
): Promise<DavNode> {
  const result = await store.dav.putResource(parent.id, name, input, {});
  assert(result.ok, `PUT ${name}: ${JSON.stringify(result)}`);
  return result.node;
}

async function mkcol(store: SqliteStore, parent: DavNode, name: string): Promise<DavNode> {
  const node = await store.dav.createCollection(parent.id, name, "collection", {});
  assert(node, `MKCOL ${name}`);
  return node;
}

async function usedBytes(store: SqliteStore, accountId: number): Promise<number> {
  return (await store.getAccountById(accountId))!.usedBytes;
}

function refcounts(store: SqliteStore): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const row of store.db.prepare("SELECT hash, refcount FROM blobs ORDER BY hash").all()) {
    counts[(row.hash as string)[0]] = row.refcount as number;
  }
  return counts;
}

function count(store: SqliteStore, sql: string, ...params: number[]): number {
  return store.db.prepare(sql).get(...params)!.n as number;
}

function names(nodes: DavNode[]): string[] {
  return nodes.map((node) => node.name).sort();
}

async function tree(store: SqliteStore, node: DavNode, prefix = ""): Promise<string[]> {
  const lines: string[] = [];
  for (const child of await store.dav.children(node.id)) {
    lines.push(`${prefix}${child.name}${child.isCollection ? "/" : ""}`);
    if (child.isCollection) lines.push(...await tree(store, child, `${prefix}${child.name}/`));
  }
  return lines;
}

Deno.test("ensureHome creates the roots, default calendar, inbox, outbox and address book once", async () => {
  await withStore(async (store) => {
    const alice = await account(store);
    const shape = async () => {
      const roots = ["files", "calendars", "addressbooks"];
      const result: Record<string, [string, string, Record<string, string>][]> = {};
      for (const root of roots) {
        const node = await at(store, alice.id, root);
        assertEquals([node.kind, node.parentId], ["root", null]);
        result[root] = (await store.dav.children(node.id)).map((c) => [c.name, c.kind, c.props]);
      }
      return result;
    };
    const expected = {
      files: [],
      calendars: [
        ["default", "calendar", DEFAULTS.calendarProps],
        ["inbox", "schedule-inbox", {}],
        ["outbox", "schedule-outbox", {}],
      ],
      addressbooks: [["default", "addressbook", DEFAULTS.addressbookProps]],
    };
    assertEquals(await shape(), expected);
    const modseq = () =>
      store.db.prepare("SELECT modseq FROM principals WHERE id = ?").get(alice.id)!.modseq;
    const before = modseq();
    const calendar = await at(store, alice.id, "calendars/default");

    await store.dav.ensureHome(alice.id, DEFAULTS);
    assertEquals(await shape(), expected);
    assertEquals((await at(store, alice.id, "calendars/default")).id, calendar.id);
    assertEquals(
      count(store, "SELECT count(*) AS n FROM dav_nodes WHERE account_id = ?", alice.id),
      7,
    );
    assertEquals(modseq(), before);

    // A user who deleted the default calendar does not get it back.
    assert(await store.dav.remove(calendar.id));
    await store.dav.ensureHome(alice.id, DEFAULTS);
    assertEquals(await exists(store, alice.id, "calendars/default"), false);
    assertEquals(await exists(store, alice.id, "addressbooks/default"), true);
  });
});

Deno.test("putResource creates and replaces under If-Match / If-None-Match", async () => {
  await withStore(async (store) => {
    const alice = await account(store);
    const files = await at(store, alice.id, "files");
    const dav = store.dav;

    const missingMatch = await dav.putResource(files.id, "a.txt", file(10), { ifMatch: "*" });
    assertEquals(missingMatch, { ok: false, reason: "precondition" });
    const created = await dav.putResource(files.id, "a.txt", file(10), { ifNoneMatch: "*" });
    assert(created.ok && created.created);
    assertEquals([created.node.name, created.node.size], ["a.txt", 10]);
    const etag = created.node.etag!;

    assertEquals(
      await dav.putResource(files.id, "a.txt", file(11), { ifNoneMatch: "*" }),
      { ok: false, reason: "precondition" },
    );
    assertEquals(
      await dav.putResource(files.id, "a.txt", file(11), { ifNoneMatch: etag }),
      { ok: false, reason: "precondition" },
    );
    assertEquals(
      await dav.putResource(files.id, "a.txt", file(11), { ifMatch: '"stale"' }),
      { ok: false, reason: "precondition" },
    );
    assertEquals((await at(store, alice.id, "files/a.txt")).etag, etag);

    const replaced = await dav.putResource(files.id, "a.txt", file(12), { ifMatch: etag });
    assert(replaced.ok && !replaced.created);
    assertEquals([replaced.node.id, replaced.node.size], [created.node.id, 12]);
    assert(replaced.node.etag !== etag);
    const again = await dav.putResource(files.id, "a.txt", file(13), { ifMatch: "*" });
    assert(again.ok && !again.created);
    const other = await dav.putResource(files.id, "a.txt", file(14), { ifNoneMatch: etag });
    assert(other.ok && !other.created, "If-None-Match with an old etag holds");

    // A name taken by a collection, and a parent that is a resource or gone.
    await mkcol(store, files, "dir");
    assertEquals(await dav.putResource(files.id, "dir", file(1), {}), {
      ok: false,
      reason: "conflict",
    });
    assertEquals(await dav.putResource(created.node.id, "x", file(1), {}), {
      ok: false,
      reason: "parent_missing",
    });
    assertEquals(await dav.putResource(987654, "x", file(1), {}), {
      ok: false,
      reason: "parent_missing",
    });
  });
});

Deno.test("a calendar refuses a second object with the same UID and names the holder", async () => {
  await withStore(async (store) => {
    const alice = await account(store);
    const calendar = await at(store, alice.id, "calendars/default");
    const dav = store.dav;
    await put(store, calendar, "one.ics", event("uid-1"));
    assertEquals(
      await dav.putResource(calendar.id, "two.ics", event("uid-1"), { uniqueUid: true }),
      { ok: false, reason: "uid_conflict", conflictName: "one.ics" },
    );
    // Replacing the holder itself with the same UID is fine.
    const same = await dav.putResource(calendar.id, "one.ics", event("uid-1"), {
      uniqueUid: true,
    });
    assert(same.ok && !same.created);
    // Another calendar of the same account may hold the UID.
    const other = await store.dav.createCollection(
      (await at(store, alice.id, "calendars")).id,
      "work",
      "calendar",
      {},
    );
    const elsewhere = await dav.putResource(other!.id, "one.ics", event("uid-1"), {
      uniqueUid: true,
    });
    assert(elsewhere.ok);
    // Changing two.ics's UID to a taken one is refused too.
    await put(store, calendar, "two.ics", event("uid-2"));
    assertEquals(
      await dav.putResource(calendar.id, "two.ics", event("uid-1"), { uniqueUid: true }),
      { ok: false, reason: "uid_conflict", conflictName: "one.ics" },
    );
    assertEquals(names(await dav.children(calendar.id)), ["one.ics", "two.ics"]);
  });
});

Deno.test("quota: used bytes follow puts, replaces, deletes, copies and moves; over it is refused", async () => {
  await withStore(async (store) => {
    const alice = await account(store, "alice@example.com", 1000);
    const files = await at(store, alice.id, "files");
    const dav = store.dav;
    const dir = await mkcol(store, files, "dir");

    const a = await put(store, files, "a.bin", file(400, "a"));
    assertEquals(await usedBytes(store, alice.id), 400);
    assertEquals(await dav.putResource(files.id, "b.bin", file(601, "b"), {}), {
      ok: false,
      reason: "quota",
    });
    assertEquals(await exists(store, alice.id, "files/b.bin"), false);
    assertEquals(await usedBytes(store, alice.id), 400);

    // A replace counts the difference: growing to the limit is allowed, past it is not.
    await put(store, files, "a.bin", file(1000, "a"));
    assertEquals(await usedBytes(store, alice.id), 1000);
    assertEquals(await dav.putResource(files.id, "a.bin", file(1001, "a"), {}), {
      ok: false,
      reason: "quota",
    });
    await put(store, files, "a.bin", file(400, "a"));
    assertEquals(await usedBytes(store, alice.id), 400);

    // Copies count, moves do not, deletes release.
    const copy = await dav.copyMove("copy", a.id, dir.id, "copy.bin", {
      overwrite: false,
      depth: "infinity",
    });
    assert(copy.ok);
    assertEquals(await usedBytes(store, alice.id), 800);
    const tooMany = await dav.copyMove("copy", dir.id, files.id, "dir2", {
      overwrite: false,
      depth: "infinity",
    });
    assertEquals(tooMany, { ok: false, reason: "quota" });
    assertEquals(await exists(store, alice.id, "files/dir2"), false);
    assertEquals(await usedBytes(store, alice.id), 800);
    const moved = await dav.copyMove("move", a.id, dir.id, "moved.bin", {
      overwrite: false,
      depth: "infinity",
    });
    assert(moved.ok);
    assertEquals(await usedBytes(store, alice.id), 800);
    assert(await dav.remove(dir.id));
    assertEquals(await usedBytes(store, alice.id), 0);

    // Calendar objects count their text.
    const calendar = await at(store, alice.id, "calendars/default");
    const object = event("u");
    await put(store, calendar, "e.ics", object);
    assertEquals(await usedBytes(store, alice.id), object.size);
  });
});

Deno.test("quota: a copy over an existing tree counts the bytes it frees", async () => {
  await withStore(async (store) => {
    const alice = await account(store, "alice@example.com", 1000);
    const files = await at(store, alice.id, "files");
    const source = await mkcol(store, files, "source");
    const target = await mkcol(store, files, "target");
    await put(store, source, "new.bin", file(450, "a"));
    await put(store, target, "old.bin", file(500, "b"));
    assertEquals(await usedBytes(store, alice.id), 950);
    // 950 - 500 + 450 = 900 fits in 1000.
    const result = await store.dav.copyMove("copy", source.id, files.id, "target", {
      overwrite: true,
      depth: "infinity",
    });
    assert(result.ok && result.replaced, JSON.stringify(result));
    assertEquals(await usedBytes(store, alice.id), 900);
    assertEquals(await tree(store, files), [
      "source/",
      "source/new.bin",
      "target/",
      "target/new.bin",
    ]);
    assertEquals(refcounts(store), { a: 2, b: 0 });
  });
});

Deno.test("blob references follow puts, replaces, copies, deletes and account deletion", async () => {
  await withStore(async (store) => {
    const alice = await account(store);
    const bob = await account(store, "bob@example.com");
    const dav = store.dav;
    const files = await at(store, alice.id, "files");
    const original = await put(store, files, "a.bin", file(10, "a"));
    assertEquals(refcounts(store), { a: 1 });
    const copy = await dav.copyMove("copy", original.id, files.id, "b.bin", {
      overwrite: false,
      depth: 0,
    });
    assert(copy.ok);
    assertEquals(refcounts(store), { a: 2 });
    await put(store, files, "b.bin", file(10, "b"));
    assertEquals(refcounts(store), { a: 1, b: 1 });
    // Replacing with the same blob keeps one reference.
    await put(store, files, "b.bin", file(10, "b"));
    assertEquals(refcounts(store), { a: 1, b: 1 });
    // A calendar object holds no blob; replacing a file by inline content releases it.
    await put(store, await at(store, alice.id, "calendars/default"), "x.ics", event("x"));
    assertEquals(refcounts(store), { a: 1, b: 1 });
    await put(store, files, "b.bin", event("inline"));
    assertEquals(refcounts(store), { a: 1, b: 0 });
    await put(store, files, "b.bin", file(10, "b"));
    assertEquals(refcounts(store), { a: 1, b: 1 });
    await put(store, await at(store, bob.id, "files"), "shared.bin", file(10, "b"));
    assertEquals(refcounts(store), { a: 1, b: 2 });

    assert(await dav.remove(original.id));
    assertEquals(refcounts(store), { a: 0, b: 2 });
    const collected: string[] = [];
    assertEquals(await store.collectBlobs((hash) => collected.push(hash[0])), 1);
    assertEquals(collected, ["a"]);

    await store.deleteAccount(alice.id);
    assertEquals(refcounts(store), { b: 1 });
    assertEquals(await store.collectBlobs((hash) => collected.push(hash[0])), 0);
    await store.deleteAccount(bob.id);
    assertEquals(await store.collectBlobs((hash) => collected.push(hash[0])), 1);
    assertEquals(collected, ["a", "b"]);
    assertEquals(count(store, "SELECT count(*) AS n FROM dav_nodes"), 0);
    assertEquals(await store.integrityCheck(), "ok");
  });
});

Deno.test("a blob collected meanwhile must be written again", async () => {
  await withStore(async (store) => {
    const alice = await account(store);
    const files = await at(store, alice.id, "files");
    const error = await assertRejects(
      () => store.dav.putResource(files.id, "a.bin", { ...file(10, "c"), blobWritten: false }, {}),
      StoreError,
    );
    assertEquals(error.code, "blob_missing");
    assertEquals(await exists(store, alice.id, "files/a.bin"), false);
    assertEquals(await usedBytes(store, alice.id), 0);
  });
});

Deno.test("modseq: writes stamp the node and bump the parent's CTag", async () => {
  await withStore(async (store) => {
    const alice = await account(store);
    const dav = store.dav;
    const calendar = await at(store, alice.id, "calendars/default");
    const node = await put(store, calendar, "e.ics", event("e"));
    const afterPut = await at(store, alice.id, "calendars/default");
    assert(afterPut.modseq > calendar.modseq);
    assertEquals(afterPut.modseq, node.modseq);

    const patched = await dav.patchProps(
      node.id,
      new Map([["{urn:x}color", "<color xmlns='urn:x'>red</color>"]]),
    );
    assertEquals(patched.props, { "{urn:x}color": "<color xmlns='urn:x'>red</color>" });
    assert(patched.modseq > node.modseq);
    assertEquals((await at(store, alice.id, "calendars/default")).modseq, patched.modseq);

    // Removing a property that is absent and one that is present, all at once.
    const removed = await dav.patchProps(
      node.id,
      new Map([["{urn:x}color", null], ["{urn:x}absent", null]]),
    );
    assertEquals(removed.props, {});

    // PROPPATCH on the calendar changes its own CTag.
    const before = await at(store, alice.id, "calendars/default");
    const renamed = await dav.patchProps(before.id, new Map([["{DAV:}displayname", "<x/>"]]));
    assert(renamed.modseq > before.modseq);
    assertEquals(renamed.props["{DAV:}displayname"], "<x/>");

    const error = await assertRejects(() => dav.patchProps(987654, new Map()), StoreError);
    assertEquals(error.code, "not_found");
  });
});

Deno.test("changesSince reports exactly the members created, updated, removed and moved", async () => {
  await withStore(async (store) => {
    const alice = await account(store);
    const dav = store.dav;
    const files = await at(store, alice.id, "files");
    const box = await mkcol(store, files, "box");
    const other = await mkcol(store, files, "other");
    const a = await put(store, box, "a", file(1));
    await put(store, box, "b", file(1));
    const c = await put(store, box, "c", file(1));
    const outsider = await put(store, other, "d", file(1));
    const x = await put(store, other, "x", file(1));

    const initial = await dav.changesSince(box.id, 0);
    assertEquals(names(initial.changed), ["a", "b", "c"]);
    assertEquals(initial.removed, []);
    const t0 = initial.modseq;
    assertEquals(t0, (await at(store, alice.id, "files/box")).modseq);
    assertEquals(await dav.changesSince(box.id, t0), {
      changed: [],
      removed: [],
      removedModseq: [],
      modseq: t0,
    });

    await put(store, box, "a", file(2)); // update
    await put(store, box, "new", file(1)); // create
    assert(await dav.remove(c.id)); // delete
    const t1 = (await dav.changesSince(box.id, t0)).modseq;
    const first = await dav.changesSince(box.id, t0);
    assertEquals(names(first.changed), ["a", "new"]);
    assertEquals(first.removed, ["c"]);
    assertEquals(first.changed.find((n) => n.name === "a")!.id, a.id);

    // Move out, move in, copy in, rename inside, and a change elsewhere.
    const out = await dav.copyMove("move", a.id, other.id, "a", {
      overwrite: false,
      depth: "infinity",
    });
    assert(out.ok);
    const moveIn = await dav.copyMove("move", outsider.id, box.id, "d", {
      overwrite: false,
      depth: "infinity",
    });
    assert(moveIn.ok);
    const copyIn = await dav.copyMove("copy", x.id, box.id, "x-copy", {
      overwrite: false,
      depth: 0,
    });
    assert(copyIn.ok);
    const b = await at(store, alice.id, "files/box/b");
    assert((await dav.copyMove("move", b.id, box.id, "b2", { overwrite: false, depth: 0 })).ok);
    await put(store, other, "unrelated", file(1));

    const second = await dav.changesSince(box.id, t1);
    assertEquals(names(second.changed), ["b2", "d", "x-copy"]);
    assertEquals(second.removed.sort(), ["a", "b"]);
    const fromStart = await dav.changesSince(box.id, t0);
    assertEquals(names(fromStart.changed), ["b2", "d", "new", "x-copy"]);
    assertEquals(fromStart.removed.sort(), ["a", "b", "c"]);
    const otherChanges = await dav.changesSince(other.id, t1);
    assertEquals(names(otherChanges.changed), ["a", "unrelated"]);
    assertEquals(otherChanges.removed, ["d"]);

    // A name removed and created again is a change, not a removal.
    const t2 = second.modseq;
    const d = await at(store, alice.id, "files/box/d");
    assert(await dav.remove(d.id));
    await put(store, box, "d", file(3));
    const third = await dav.changesSince(box.id, t2);
    assertEquals(names(third.changed), ["d"]);
    assertEquals(third.removed, []);
    assertEquals((await dav.changesSince(box.id, 0)).removed, []);
    assertEquals(names((await dav.changesSince(box.id, 0)).changed), ["b2", "d", "new", "x-copy"]);
  });
});

Deno.test("changesSince: the returned token answers nothing new once nothing changed", async () => {
  await withStore(async (store) => {
    const alice = await account(store);
    const dav = store.dav;
    const files = await at(store, alice.id, "files");
    const parent = await mkcol(store, files, "parent");
    const inner = await mkcol(store, parent, "inner");
    const t0 = (await dav.changesSince(parent.id, 0)).modseq;

    // A write inside a member collection, and a PROPPATCH on it, change the member itself.
    await put(store, inner, "deep", file(1));
    await dav.patchProps(inner.id, new Map([["{urn:x}p", "<p xmlns='urn:x'/>"]]));
    const changes = await dav.changesSince(parent.id, t0);
    assertEquals(names(changes.changed), ["inner"]);
    // Syncing again with the token just handed out reports no change.
    const next = await dav.changesSince(parent.id, changes.modseq);
    assertEquals([names(next.changed), next.removed], [[], []]);
    assertEquals(next.modseq, changes.modseq);
  });
});

Deno.test("changesSince: tokens from the future or below the sync floor are invalid", async () => {
  await withStore(async (store) => {
    const alice = await account(store);
    const dav = store.dav;
    const files = await at(store, alice.id, "files");
    const box = await mkcol(store, files, "box");
    const sibling = await mkcol(store, files, "sibling");
    const old = await put(store, box, "old", file(1));
    const young = await put(store, box, "young", file(1));
    await put(store, sibling, "s", file(1));
    const tBefore = (await dav.changesSince(box.id, 0)).modseq;

    const future = await assertRejects(() => dav.changesSince(box.id, tBefore + 1), StoreError);
    assertEquals(future.code, "invalid");
    const missing = await assertRejects(() => dav.changesSince(987654, 0), StoreError);
    assertEquals(missing.code, "not_found");

    assert(await dav.remove(old.id));
    const tMiddle = (await dav.changesSince(box.id, tBefore)).modseq;
    assert(await dav.remove(young.id));
    const tAfter = (await dav.changesSince(box.id, tMiddle)).modseq;
    const sSibling = await at(store, alice.id, "files/sibling/s");
    assert(await dav.remove(sSibling.id));

    // Age the first tombstone only, then prune what is older than that.
    store.db.prepare(
      "UPDATE dav_tombstones SET removed_at = 1000 WHERE collection_id = ? AND name = 'old'",
    ).run(box.id);
    assertEquals(await dav.pruneTombstones(2000), 1);
    const floor = (await at(store, alice.id, "files/box")).syncFloor;
    assertEquals(floor, tMiddle);
    const stale = await assertRejects(() => dav.changesSince(box.id, tBefore), StoreError);
    assertEquals(stale.code, "invalid");
    const middle = await dav.changesSince(box.id, tMiddle);
    assertEquals([names(middle.changed), middle.removed], [[], ["young"]]);
    assertEquals((await dav.changesSince(box.id, tAfter)).removed, []);
    assertEquals((await dav.changesSince(box.id, 0)).changed, []);
    // The sibling keeps its tombstone and its floor.
    assertEquals((await dav.changesSince(sibling.id, tBefore)).removed, ["s"]);
    assertEquals((await at(store, alice.id, "files/sibling")).syncFloor, 0);

    // Pruning everything: only tokens at or after the last removal stay valid.
    assertEquals(await dav.pruneTombstones(Date.now() + 60_000), 2);
    const middleNow = await assertRejects(() => dav.changesSince(box.id, tMiddle), StoreError);
    assertEquals(middleNow.code, "invalid");
    assertEquals((await dav.changesSince(box.id, tAfter)).removed, []);
    assertEquals(await dav.pruneTombstones(Date.now() + 60_000), 0);
  });
});

Deno.test("copy of a collection: depth infinity copies the subtree, depth 0 only the collection", async () => {
  await withStore(async (store) => {
    const alice = await account(store);
    const dav = store.dav;
    const files = await at(store, alice.id, "files");
    const a = await mkcol(store, files, "a");
    await dav.patchProps(a.id, new Map([["{urn:x}p", "<p xmlns='urn:x'>1</p>"]]));
    await put(store, a, "x.txt", file(5, "a"));
    const b = await mkcol(store, a, "b");
    await put(store, b, "y.txt", file(7, "b"));

    const deep = await dav.copyMove("copy", a.id, files.id, "deep", {
      overwrite: false,
      depth: "infinity",
    });
    assert(deep.ok && !deep.replaced);
    assertEquals(deep.node.props, { "{urn:x}p": "<p xmlns='urn:x'>1</p>" });
    const shallow = await dav.copyMove("copy", a.id, files.id, "shallow", {
      overwrite: false,
      depth: 0,
    });
    assert(shallow.ok);
    assertEquals(await tree(store, files), [
      "a/",
      "a/b/",
      "a/b/y.txt",
      "a/x.txt",
      "deep/",
      "deep/b/",
      "deep/b/y.txt",
      "deep/x.txt",
      "shallow/",
    ]);
    assertEquals(await usedBytes(store, alice.id), 24);
    assertEquals(refcounts(store), { a: 2, b: 2 });
    // The copies are new nodes; the source is untouched.
    assert((await at(store, alice.id, "files/deep/b")).id !== b.id);
    assertEquals((await at(store, alice.id, "files/a/b")).id, b.id);

    // Overwrite F refuses, T replaces the whole destination tree.
    assertEquals(
      await dav.copyMove("copy", b.id, files.id, "deep", { overwrite: false, depth: "infinity" }),
      { ok: false, reason: "exists" },
    );
    const over = await dav.copyMove("copy", b.id, files.id, "deep", {
      overwrite: true,
      depth: "infinity",
    });
    assert(over.ok && over.replaced);
    assertEquals((await tree(store, files)).filter((p) => p.startsWith("deep")), [
      "deep/",
      "deep/y.txt",
    ]);
    assertEquals(await usedBytes(store, alice.id), 19);
    assertEquals(refcounts(store), { a: 1, b: 2 });
    assertEquals(
      await dav.copyMove("copy", 987654, files.id, "z", { overwrite: false, depth: 0 }),
      { ok: false, reason: "missing" },
    );
    assertEquals(
      await dav.copyMove("copy", b.id, 987654, "z", { overwrite: false, depth: 0 }),
      { ok: false, reason: "missing" },
    );
  });
});

Deno.test("move keeps node ids, replaces with overwrite and refuses without", async () => {
  await withStore(async (store) => {
    const alice = await account(store);
    const dav = store.dav;
    const files = await at(store, alice.id, "files");
    const a = await mkcol(store, files, "a");
    const b = await mkcol(store, a, "b");
    const y = await put(store, b, "y.txt", file(7, "b"));
    const target = await mkcol(store, files, "target");
    await put(store, target, "old.txt", file(3, "c"));

    assertEquals(
      await dav.copyMove("move", b.id, files.id, "target", {
        overwrite: false,
        depth: "infinity",
      }),
      { ok: false, reason: "exists" },
    );
    const moved = await dav.copyMove("move", b.id, files.id, "target", {
      overwrite: true,
      depth: "infinity",
    });
    assert(moved.ok && moved.replaced);
    assertEquals(moved.node.id, b.id);
    assertEquals(moved.node.name, "target");
    assertEquals((await at(store, alice.id, "files/target/y.txt")).id, y.id);
    assertEquals(await exists(store, alice.id, "files/a/b"), false);
    assertEquals(await tree(store, files), ["a/", "target/", "target/y.txt"]);
    assertEquals(await usedBytes(store, alice.id), 7);
    assertEquals(refcounts(store), { b: 1, c: 0 });
  });
});

Deno.test("copy or move into its own subtree, onto itself or over an ancestor is refused", async () => {
  await withStore(async (store) => {
    const alice = await account(store);
    const dav = store.dav;
    const files = await at(store, alice.id, "files");
    const a = await mkcol(store, files, "a");
    const b = await mkcol(store, a, "b");
    const c = await mkcol(store, b, "c");
    await put(store, c, "f.txt", file(4, "a"));
    const before = await tree(store, files);
    const usedBefore = await usedBytes(store, alice.id);
    const attempts: [string, "copy" | "move", number, number, string, boolean][] = [
      ["move into own child", "move", a.id, b.id, "a", false],
      ["move into own grandchild", "move", a.id, c.id, "x", true],
      ["move into itself", "move", b.id, b.id, "b", true],
      ["copy into own grandchild", "copy", a.id, c.id, "x", false],
      ["move onto itself", "move", b.id, a.id, "b", true],
      ["copy onto itself", "copy", b.id, a.id, "b", true],
      ["move over its parent", "move", c.id, a.id, "b", true],
      ["copy over its grandparent", "copy", c.id, files.id, "a", true],
    ];
    for (const [label, mode, source, parent, name, overwrite] of attempts) {
      const result = await dav.copyMove(mode, source, parent, name, {
        overwrite,
        depth: "infinity",
      });
      assertEquals(result, { ok: false, reason: "cycle" }, label);
      assertEquals(await tree(store, files), before, label);
    }
    assertEquals(await usedBytes(store, alice.id), usedBefore);
    // The tree is still reachable from its root: no node lost its way up.
    const reachable = store.db.prepare(
      `WITH RECURSIVE up(id) AS (SELECT id FROM dav_nodes WHERE parent_id IS NULL
         UNION ALL SELECT n.id FROM dav_nodes n JOIN up ON n.parent_id = up.id)
       SELECT (SELECT count(*) FROM up) AS reachable, (SELECT count(*) FROM dav_nodes) AS total`,
    ).get();
    assertEquals(reachable!.reachable, reachable!.total);
    // A sibling subtree is fine.
    const sibling = await dav.copyMove("copy", b.id, a.id, "b-copy", {
      overwrite: false,
      depth: "infinity",
    });
    assert(sibling.ok);
  });
});

Deno.test("remove of a deep subtree releases every blob and byte and leaves one tombstone", async () => {
  await withStore(async (store) => {
    const alice = await account(store);
    const dav = store.dav;
    const files = await at(store, alice.id, "files");
    const t0 = (await dav.changesSince(files.id, 0)).modseq;
    let parent = await mkcol(store, files, "top");
    const top = parent;
    for (let level = 0; level < 30; level++) {
      await put(store, parent, "f.bin", file(10, level % 2 ? "a" : "b"));
      await put(store, parent, `g${level}.bin`, file(1, "c"));
      parent = await mkcol(store, parent, `level${level}`);
    }
    await dav.setShare(parent.id, alice.id, "read");
    assertEquals(await usedBytes(store, alice.id), 330);
    assertEquals(refcounts(store), { a: 15, b: 15, c: 30 });
    assert(await dav.remove(top.id));
    assertEquals(await dav.remove(top.id), false);
    assertEquals(await usedBytes(store, alice.id), 0);
    assertEquals(refcounts(store), { a: 0, b: 0, c: 0 });
    assertEquals(await dav.children(files.id), []);
    assertEquals(
      count(store, "SELECT count(*) AS n FROM dav_nodes WHERE account_id = ?", alice.id),
      7,
    );
    assertEquals(count(store, "SELECT count(*) AS n FROM dav_tombstones"), 1);
    assertEquals(await dav.sharedWith(alice.id), []);
    assertEquals((await dav.changesSince(files.id, t0)).removed, ["top"]);
    assertEquals(await store.integrityCheck(), "ok");
  });
});

Deno.test("calendarCandidates: null bounds are unbounded; span ends are inclusive", async () => {
  await withStore(async (store) => {
    const alice = await account(store);
    const dav = store.dav;
    const calendar = await at(store, alice.id, "calendars/default");
    await put(store, calendar, "a.ics", event("a", 100, 200));
    await put(store, calendar, "b.ics", event("b", 300, 400));
    await put(store, calendar, "forever.ics", event("forever", 500, null));
    await put(store, calendar, "since-ever.ics", event("since-ever", null, 150));
    await put(store, calendar, "unbounded.ics", event("unbounded", null, null));
    await put(store, calendar, "zero.ics", event("zero", 250, 250));
    await mkcol(store, await at(store, alice.id, "files"), "not-a-calendar-member");
    const query = async (start: number | null, end: number | null) =>
      (await dav.calendarCandidates(calendar.id, start, end)).map((n) => n.name);

    const all = ["a.ics", "b.ics", "forever.ics", "since-ever.ics", "unbounded.ics", "zero.ics"];
    assertEquals(await query(null, null), all);
    assertEquals(await query(0, 50), ["since-ever.ics", "unbounded.ics"]);
    assertEquals(await query(null, 50), ["since-ever.ics", "unbounded.ics"]);
    assertEquals(await query(1000, null), ["forever.ics", "unbounded.ics"]);
    assertEquals(await query(1000, 2000), ["forever.ics", "unbounded.ics"]);
    assertEquals(await query(160, 240), ["a.ics", "unbounded.ics"]);
    assertEquals(await query(null, 260), [
      "a.ics",
      "since-ever.ics",
      "unbounded.ics",
      "zero.ics",
    ]);
    // A zero-length instance at the start of the range is in it (RFC 4791 9.9: start <= DTSTART).
    assertEquals(await query(250, 260), ["unbounded.ics", "zero.ics"]);
    // A VTODO with only DUE matches a range ending on it (RFC 4791 9.9: end >= DUE).
    assertEquals(await query(240, 250), ["unbounded.ics", "zero.ics"]);
    assertEquals(await query(401, 499), ["unbounded.ics"]);
    // Members of other collections are never candidates.
    assertEquals(await dav.calendarCandidates(987654, null, null), []);
  });
});

Deno.test("sharing: grants round trip, change access, and go with the collection or sharee", async () => {
  await withStore(async (store) => {
    const alice = await account(store);
    const bob = await account(store, "bob@example.com");
    const carol = await account(store, "carol@example.com");
    const dav = store.dav;
    const calendar = await at(store, alice.id, "calendars/default");
    const book = await at(store, alice.id, "addressbooks/default");
    assertEquals(await dav.sharesOf(calendar.id), []);

    await dav.setShare(calendar.id, bob.id, "read");
    await dav.setShare(calendar.id, carol.id, "read-write");
    await dav.setShare(book.id, bob.id, "read-write");
    const bobShare = { collectionId: calendar.id, ownerId: alice.id, shareeId: bob.id };
    assertEquals(
      (await dav.sharesOf(calendar.id)).sort((x, y) => x.shareeId - y.shareeId),
      [
        { ...bobShare, access: "read" },
        { collectionId: calendar.id, ownerId: alice.id, shareeId: carol.id, access: "read-write" },
      ],
    );
    assertEquals(
      await dav.sharedWith(bob.id),
      [
        { ...bobShare, access: "read" },
        { collectionId: book.id, ownerId: alice.id, shareeId: bob.id, access: "read-write" },
      ].sort((x, y) => x.collectionId - y.collectionId),
    );

    await dav.setShare(calendar.id, bob.id, "read-write");
    assertEquals((await dav.sharesOf(calendar.id)).find((s) => s.shareeId === bob.id), {
      ...bobShare,
      access: "read-write",
    });
    await dav.setShare(calendar.id, bob.id, null);
    await dav.setShare(calendar.id, bob.id, null); // removing twice is harmless
    assertEquals((await dav.sharesOf(calendar.id)).map((s) => s.shareeId), [carol.id]);
    assertEquals((await dav.sharedWith(bob.id)).map((s) => s.collectionId), [book.id]);

    await store.deleteAccount(carol.id);
    assertEquals(await dav.sharesOf(calendar.id), []);
    assert(await dav.remove(book.id));
    assertEquals(await dav.sharedWith(bob.id), []);
  });
});
