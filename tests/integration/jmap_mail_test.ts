/**
 * JMAP for mail (RFC 8621) over the real HTTP listener: Mailbox, Thread and Email methods, their
 * error paths, and one store shared with IMAP and SMTP.
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { withServer } from "../helpers/server.ts";
import { jmapClient, type JmapTestClient } from "../helpers/jmap.ts";
import { deliverMany } from "../helpers/mail.ts";
import { LineClient } from "../helpers/tls.ts";

/** Sends a tagged IMAP command; returns the untagged lines and the tagged reply (last). */
async function command(client: LineClient, tag: string, text: string): Promise<string[]> {
  await client.write(`${tag} ${text}\r\n`);
  return await client.readUntil((line) => line.startsWith(`${tag} `));
}

async function mailboxIdsByRole(client: JmapTestClient): Promise<Record<string, string>> {
  const { list } = await client.one("Mailbox/get", { properties: ["role", "name"] });
  return Object.fromEntries(
    list.filter((m: { role: string | null }) => m.role).map((
      m: { id: string; role: string },
    ) => [m.role, m.id]),
  );
}

async function createEmail(
  client: JmapTestClient,
  mailboxId: string,
  overrides: Record<string, unknown> = {},
): Promise<{ id: string; blobId: string; threadId: string; size: number }> {
  const result = await client.one("Email/set", {
    create: {
      k: {
        mailboxIds: { [mailboxId]: true },
        from: [{ name: "Joe Bloggs", email: "joe@example.com" }],
        to: [{ name: null, email: "admin@example.com" }],
        subject: "Hello world",
        textBody: [{ partId: "t", type: "text/plain" }],
        bodyValues: { t: { value: "The quick brown fox\njumps over the lazy dog." } },
        ...overrides,
      },
    },
  });
  assert(result.created?.k, JSON.stringify(result));
  return result.created.k;
}

Deno.test("jmap: Mailbox/get lists the default mailboxes with roles, counts and rights", async () => {
  await withServer(async (server) => {
    const client = await jmapClient(server);
    await deliverMany(server, server.admin!.address, 2);
    const { list, state, notFound } = await client.one("Mailbox/get", { ids: null });
    assertEquals(notFound, []);
    assertMatch(state, /^\d+$/);
    const inbox = list.find((m: { role: string }) => m.role === "inbox");
    assertEquals(inbox.totalEmails, 2);
    assertEquals(inbox.unreadEmails, 2);
    assertEquals(inbox.totalThreads, 2);
    assertEquals(inbox.myRights.mayDelete, false);
    assertEquals(inbox.parentId, null);
    for (const role of ["sent", "drafts", "trash", "junk"]) {
      assert(list.some((m: { role: string }) => m.role === role), role);
    }
    const unknown = await client.one("Mailbox/get", { ids: ["M99999", "nonsense"] });
    assertEquals(unknown.notFound, ["M99999", "nonsense"]);
    const [[name, error]] = await client.call([[
      "Mailbox/get",
      { accountId: client.accountId, properties: ["name", "bogus"] },
      "0",
    ]]);
    assertEquals([name, error.type], ["error", "invalidArguments"]);
  });
});

Deno.test("jmap: Mailbox/set creates, renames, moves and destroys, with the RFC's errors", async () => {
  await withServer(async (server) => {
    const client = await jmapClient(server);
    const roles = await mailboxIdsByRole(client);
    const created = await client.one("Mailbox/set", {
      create: {
        a: { name: "Work", sortOrder: 5 },
        b: { name: "Sub", parentId: "#a" },
        bad: { name: "x/y" },
        dup: { name: "Junk2", role: "junk" },
        server: { name: "Z", totalEmails: 3 },
      },
    });
    const work = created.created.a.id;
    const sub = created.created.b.id;
    assertEquals(created.created.a.totalEmails, 0);
    assertEquals(created.notCreated.bad.type, "invalidProperties");
    assertEquals(created.notCreated.bad.properties, ["name"]);
    assertEquals(created.notCreated.dup.properties, ["role"]);
    assertEquals(created.notCreated.server.properties, ["totalEmails"]);

    const updated = await client.one("Mailbox/set", {
      update: {
        [sub]: { name: "Renamed", parentId: null },
        [roles.inbox]: { name: "Not Inbox" },
        [work]: { parentId: sub },
        M99999: { name: "x" },
      },
    });
    assert(sub in updated.updated, JSON.stringify(updated));
    assertEquals(updated.notUpdated[roles.inbox].type, "forbidden");
    assertEquals(updated.notUpdated.M99999.type, "notFound");
    const { list } = await client.one("Mailbox/get", {
      ids: [sub, work],
      properties: ["name", "parentId"],
    });
    assertEquals(list.find((m: { id: string }) => m.id === sub), {
      id: sub,
      name: "Renamed",
      parentId: null,
    });
    assertEquals(list.find((m: { id: string }) => m.id === work).parentId, sub);

    // A mailbox with a child, and one with email, are not destroyed without consent.
    const email = await createEmail(client, work);
    const destroy1 = await client.one("Mailbox/set", { destroy: [sub, roles.inbox] });
    assertEquals(destroy1.notDestroyed[sub].type, "mailboxHasChild");
    assertEquals(destroy1.notDestroyed[roles.inbox].type, "forbidden");
    const destroy2 = await client.one("Mailbox/set", { destroy: [work] });
    assertEquals(destroy2.notDestroyed[work].type, "mailboxHasEmail");
    const destroy3 = await client.one("Mailbox/set", {
      destroy: [work],
      onDestroyRemoveEmails: true,
    });
    assertEquals(destroy3.destroyed, [work]);
    const gone = await client.one("Email/get", { ids: [email.id], properties: ["id"] });
    assertEquals(gone.notFound, [email.id]);

    const stale = await client.one("Mailbox/get", { ids: [] });
    const [[, mismatch]] = await client.call([[
      "Mailbox/set",
      { accountId: client.accountId, ifInState: "1", create: { x: { name: "X" } } },
      "0",
    ]]);
    assertEquals(mismatch.type, "stateMismatch");
    const ok = await client.one("Mailbox/set", {
      ifInState: stale.state,
      create: { x: { name: "X" } },
    });
    assert(ok.created.x.id);
    assert(ok.newState !== ok.oldState);
  });
});

Deno.test("jmap: Mailbox/changes and /query with sortAsTree, filters and queryChanges", async () => {
  await withServer(async (server) => {
    const client = await jmapClient(server);
    const before = (await client.one("Mailbox/get", { ids: [] })).state;
    const created = await client.one("Mailbox/set", {
      create: { a: { name: "Alpha" }, b: { name: "Beta", parentId: "#a" } },
    });
    const changes = await client.one("Mailbox/changes", { sinceState: before });
    assertEquals(changes.created.sort(), [created.created.a.id, created.created.b.id].sort());
    assertEquals(changes.hasMoreChanges, false);
    const limited = await client.one("Mailbox/changes", { sinceState: before, maxChanges: 1 });
    assertEquals(limited.created.length, 1);
    assertEquals(limited.hasMoreChanges, true);
    const rest = await client.one("Mailbox/changes", { sinceState: limited.newState });
    assertEquals(rest.created.length + rest.updated.length >= 1, true);
    const [[, bad]] = await client.call([[
      "Mailbox/changes",
      { accountId: client.accountId, sinceState: "garbage" },
      "0",
    ]]);
    assertEquals(bad.type, "cannotCalculateChanges");

    const tree = await client.one("Mailbox/query", {
      sortAsTree: true,
      sort: [{ property: "name" }],
      filter: { hasAnyRole: false },
    });
    assertEquals(tree.ids, [created.created.a.id, created.created.b.id]);
    const named = await client.one("Mailbox/query", {
      filter: { name: "bet" },
      calculateTotal: true,
    });
    assertEquals(named.ids, [created.created.b.id]);
    assertEquals(named.total, 1);
    const [[, unsupported]] = await client.call([[
      "Mailbox/query",
      { accountId: client.accountId, filter: { colour: "red" } },
      "0",
    ]]);
    assertEquals(unsupported.type, "unsupportedFilter");
    const qc = await client.one("Mailbox/queryChanges", {
      sinceQueryState: tree.queryState,
      sortAsTree: true,
      sort: [{ property: "name" }],
      filter: { hasAnyRole: false },
    });
    assertEquals(qc.removed, []);
    assertEquals(qc.added, []);
  });
});

Deno.test("jmap: Email/set create builds a message that Email/get returns in every form", async () => {
  await withServer(async (server) => {
    const client = await jmapClient(server);
    const roles = await mailboxIdsByRole(client);
    const upload = await client.fetch(`/jmap/upload/${client.accountId}/`, {
      method: "POST",
      headers: { "content-type": "application/pdf" },
      body: new Uint8Array([0x25, 0x50, 0x44, 0x46, 0, 1, 2, 255]),
    });
    assertEquals(upload.status, 201);
    const uploaded = await upload.json();
    const created = await createEmail(client, roles.drafts, {
      subject: "Grüße from JMAP",
      keywords: { $draft: true, $seen: true },
      htmlBody: [{ partId: "h", type: "text/html" }],
      bodyValues: {
        t: { value: "Plain text ✓" },
        h: { value: "<p>HTML text ✓</p>" },
      },
      attachments: [{ blobId: uploaded.blobId, type: "application/pdf", name: "report.pdf" }],
      "header:X-Custom:asText": "custom value",
    });
    const [email] = (await client.one("Email/get", {
      ids: [created.id],
      properties: [
        "mailboxIds",
        "keywords",
        "subject",
        "from",
        "to",
        "hasAttachment",
        "preview",
        "textBody",
        "htmlBody",
        "attachments",
        "bodyValues",
        "bodyStructure",
        "header:X-Custom:asText",
        "header:Subject",
        "messageId",
        "sentAt",
        "size",
        "blobId",
        "threadId",
      ],
      fetchAllBodyValues: true,
    })).list;
    assertEquals(email.mailboxIds, { [roles.drafts]: true });
    assertEquals(email.keywords, { $draft: true, $seen: true });
    assertEquals(email.subject, "Grüße from JMAP");
    assertEquals(email.from, [{ name: "Joe Bloggs", email: "joe@example.com" }]);
    assertEquals(email.hasAttachment, true);
    assertEquals(email.preview, "Plain text ✓");
    assertEquals(email["header:X-Custom:asText"], "custom value");
    assertMatch(email["header:Subject"], /=\?UTF-8\?B\?/);
    assertEquals(email.attachments.length, 1);
    assertEquals(email.attachments[0].name, "report.pdf");
    assertEquals(email.attachments[0].type, "application/pdf");
    assertEquals(email.attachments[0].size, 8);
    assertEquals(email.bodyStructure.type, "multipart/mixed");
    const textId = email.textBody[0].partId;
    const htmlId = email.htmlBody[0].partId;
    assertEquals(email.bodyValues[textId].value, "Plain text ✓");
    assertEquals(email.bodyValues[htmlId].value, "<p>HTML text ✓</p>");
    assertEquals(email.size, created.size);
    assertEquals(email.blobId, created.blobId);
    assertEquals(email.threadId, created.threadId);
    assertEquals(email.messageId.length, 1);

    // The attachment downloads as the bytes uploaded; the whole message as message/rfc822.
    const part = await client.fetch(
      `/jmap/download/${client.accountId}/${
        email.attachments[0].blobId
      }/report.pdf?accept=application/pdf`,
    );
    assertEquals(part.status, 200);
    assertEquals([...new Uint8Array(await part.arrayBuffer())], [
      0x25,
      0x50,
      0x44,
      0x46,
      0,
      1,
      2,
      255,
    ]);
    const whole = await client.fetch(`/jmap/download/${client.accountId}/${email.blobId}/m.eml`);
    const raw = await whole.text();
    assertMatch(raw, /^From: "?Joe Bloggs"? <joe@example\.com>\r$/m);
    assertMatch(raw, /^X-Custom: custom value\r$/m);

    // Truncated body values.
    const [short] = (await client.one("Email/get", {
      ids: [created.id],
      properties: ["bodyValues"],
      fetchTextBodyValues: true,
      maxBodyValueBytes: 5,
    })).list;
    assertEquals(short.bodyValues[textId], {
      value: "Plain",
      isEncodingProblem: false,
      isTruncated: true,
    });
  });
});

Deno.test("jmap: Email/set create errors name the property", async () => {
  await withServer(async (server) => {
    const client = await jmapClient(server);
    const roles = await mailboxIdsByRole(client);
    const result = await client.one("Email/set", {
      create: {
        noMailbox: { subject: "x" },
        badMailbox: { mailboxIds: { M99999: true }, subject: "x" },
        serverSet: { mailboxIds: { [roles.inbox]: true }, size: 5 },
        both: {
          mailboxIds: { [roles.inbox]: true },
          bodyStructure: { partId: "a" },
          textBody: [{ partId: "a" }],
          bodyValues: { a: { value: "x" } },
        },
        noValue: { mailboxIds: { [roles.inbox]: true }, textBody: [{ partId: "zz" }] },
        badKeyword: { mailboxIds: { [roles.inbox]: true }, keywords: { "a b": true } },
        badBlob: {
          mailboxIds: { [roles.inbox]: true },
          attachments: [{ blobId: "B" + "0".repeat(64) }],
        },
      },
    });
    const props = (k: string) => result.notCreated[k].properties;
    assertEquals(result.notCreated.noMailbox.type, "invalidProperties");
    assertEquals(props("noMailbox"), ["mailboxIds"]);
    assertEquals(props("badMailbox"), ["mailboxIds"]);
    assertEquals(props("serverSet"), ["size"]);
    assertEquals(props("both"), ["bodyStructure"]);
    assertEquals(props("noValue"), ["textBody/0/partId"]);
    assertEquals(props("badKeyword"), ["keywords"]);
    assertEquals(result.notCreated.badBlob.type, "blobNotFound");
    assertEquals(result.created, null);
  });
});

Deno.test("jmap: Email/set update by patch and destroy; IMAP sees both at once", async () => {
  await withServer(async (server) => {
    const client = await jmapClient(server);
    const roles = await mailboxIdsByRole(client);
    await deliverMany(server, server.admin!.address, 1);
    const { ids } = await client.one("Email/query", { filter: { inMailbox: roles.inbox } });
    assertEquals(ids.length, 1);
    const id = ids[0];

    const imap = await LineClient.connect(server.ports.imaps, {
      implicitTls: { ca: await Deno.readTextFile(`${server.dir}/data/tls/self-signed.crt`) },
    });
    try {
      await imap.readLine();
      await command(imap, "a", `LOGIN ${server.admin!.address} ${server.admin!.password}`);
      await command(imap, "b", "SELECT INBOX");
      await imap.write("c IDLE\r\n");
      assertMatch(String(await imap.readLine()), /^\+ /);

      const state = (await client.one("Email/get", { ids: [] })).state;
      const result = await client.one("Email/set", {
        update: {
          [id]: { "keywords/$seen": true, "keywords/$flagged": true },
          E99999: { "keywords/$seen": true },
        },
      });
      assertEquals(result.updated, { [id]: null });
      assertEquals(result.notUpdated.E99999.type, "notFound");
      assertMatch(String(await imap.readLine()), /^\* 1 FETCH \(.*FLAGS \(.*\\Seen.*\)/);

      const changes = await client.one("Email/changes", { sinceState: state });
      assertEquals(changes.updated, [id]);
      const [[, mismatch]] = await client.call([[
        "Email/set",
        { accountId: client.accountId, ifInState: state, update: { [id]: { keywords: {} } } },
        "0",
      ]]);
      assertEquals(mismatch.type, "stateMismatch");

      const bad = await client.one("Email/set", {
        update: {
          [id]: { mailboxIds: {} },
        },
      });
      assertEquals(bad.notUpdated[id].properties, ["mailboxIds"]);
      const badPatch = await client.one("Email/set", {
        update: { [id]: { subject: "changed" } },
      });
      assertEquals(badPatch.notUpdated[id].properties, ["subject"]);

      // Moved to the archive: it leaves the IMAP inbox.
      const moved = await client.one("Email/set", {
        update: {
          [id]: { [`mailboxIds/${roles.inbox}`]: null, [`mailboxIds/${roles.archive}`]: true },
        },
      });
      assertEquals(moved.updated, { [id]: null });
      assertMatch(String(await imap.readLine()), /^\* 1 EXPUNGE/);
      await imap.write("DONE\r\n");
      await imap.readUntil((line) => line.startsWith("c "));
      const status = await command(imap, "d", "STATUS Archive (MESSAGES)");
      assertMatch(status.join("\n"), /MESSAGES 1/);

      const destroyed = await client.one("Email/set", { destroy: [id, "E99999"] });
      assertEquals(destroyed.destroyed, [id]);
      assertEquals(destroyed.notDestroyed.E99999.type, "notFound");
      const after = await command(imap, "e", "STATUS Archive (MESSAGES)");
      assertMatch(after.join("\n"), /MESSAGES 0/);
    } finally {
      await imap.close();
    }
  });
});

Deno.test("jmap: Email/query filters, sorts, collapses threads and pages with anchors", async () => {
  await withServer(async (server) => {
    const client = await jmapClient(server);
    const roles = await mailboxIdsByRole(client);
    const make = (subject: string, extra: Record<string, unknown> = {}) =>
      createEmail(client, roles.inbox, { subject, ...extra });
    const a = await make("apple pie", {
      receivedAt: "2024-01-01T00:00:00Z",
      messageId: ["a@x"],
      keywords: { $seen: true },
    });
    const b = await make("banana split", {
      receivedAt: "2024-01-02T00:00:00Z",
      inReplyTo: ["a@x"],
      references: ["a@x"],
      from: [{ name: "Zed", email: "zed@example.org" }],
    });
    const c = await make("cherry tart", {
      receivedAt: "2024-01-03T00:00:00Z",
      bodyValues: { t: { value: "zebra crossing" } },
    });
    assertEquals(a.threadId, b.threadId);

    const all = await client.one("Email/query", {
      filter: { inMailbox: roles.inbox },
      sort: [{ property: "receivedAt", isAscending: false }],
      calculateTotal: true,
    });
    assertEquals(all.ids, [c.id, b.id, a.id]);
    assertEquals(all.total, 3);
    assertEquals(all.position, 0);
    assertEquals(all.canCalculateChanges, true);

    const collapsed = await client.one("Email/query", {
      filter: { inMailbox: roles.inbox },
      sort: [{ property: "receivedAt", isAscending: false }],
      collapseThreads: true,
      calculateTotal: true,
    });
    assertEquals(collapsed.ids, [c.id, b.id]);
    assertEquals(collapsed.total, 2);

    const q = (filter: unknown, sort?: unknown) =>
      client.one("Email/query", { filter, sort }).then((r) => r.ids);
    assertEquals(await q({ text: "zebra" }), [c.id]);
    assertEquals(await q({ body: "zebra" }), [c.id]);
    assertEquals(await q({ subject: "BANANA" }), [b.id]);
    assertEquals(await q({ from: "zed@" }), [b.id]);
    assertEquals(await q({ hasKeyword: "$seen" }), [a.id]);
    assertEquals(await q({ notKeyword: "$seen" }, [{ property: "receivedAt" }]), [b.id, c.id]);
    assertEquals(await q({ allInThreadHaveKeyword: "$seen" }), []);
    assertEquals(
      await q({ someInThreadHaveKeyword: "$seen" }, [{ property: "receivedAt" }]),
      [a.id, b.id],
    );
    assertEquals(await q({ before: "2024-01-02T00:00:00Z" }), [a.id]);
    assertEquals(await q({ after: "2024-01-03T00:00:00Z" }), [c.id]);
    assertEquals(await q({ header: ["In-Reply-To"] }), [b.id]);
    assertEquals(await q({ header: ["Subject", "cherry"] }), [c.id]);
    assertEquals(await q({ hasAttachment: true }), []);
    assertEquals(
      await q({ operator: "OR", conditions: [{ subject: "apple" }, { subject: "cherry" }] }, [
        { property: "subject" },
      ]),
      [a.id, c.id],
    );
    assertEquals(
      await q({ operator: "NOT", conditions: [{ subject: "apple" }] }, [{ property: "subject" }]),
      [b.id, c.id],
    );
    assertEquals(
      await q(null, [{ property: "from", isAscending: false }, { property: "receivedAt" }]),
      [
        b.id,
        a.id,
        c.id,
      ],
    );
    assertEquals(
      await q(null, [{ property: "size" }, { property: "receivedAt" }]).then((r) => r.length),
      3,
    );

    const anchored = await client.one("Email/query", {
      sort: [{ property: "receivedAt" }],
      anchor: b.id,
      anchorOffset: -1,
      limit: 2,
    });
    assertEquals(anchored.ids, [a.id, b.id]);
    assertEquals(anchored.position, 0);
    const negative = await client.one("Email/query", {
      sort: [{ property: "receivedAt" }],
      position: -1,
    });
    assertEquals(negative.ids, [c.id]);
    assertEquals(negative.position, 2);

    const errors = await client.call([
      ["Email/query", { accountId: client.accountId, anchor: "E99999" }, "1"],
      ["Email/query", { accountId: client.accountId, sort: [{ property: "colour" }] }, "2"],
      ["Email/query", { accountId: client.accountId, filter: { colour: "red" } }, "3"],
      ["Email/query", { accountId: client.accountId, limit: -1 }, "4"],
      ["Email/query", { accountId: client.accountId, filter: { before: "yesterday" } }, "5"],
    ]);
    assertEquals(errors.map((r) => r[1].type), [
      "anchorNotFound",
      "unsupportedSort",
      "unsupportedFilter",
      "invalidArguments",
      "invalidArguments",
    ]);

    // queryChanges: a new email shows as added at its index.
    const newer = await make("date loaf", { receivedAt: "2024-01-04T00:00:00Z" });
    const qc = await client.one("Email/queryChanges", {
      filter: { inMailbox: roles.inbox },
      sort: [{ property: "receivedAt", isAscending: false }],
      sinceQueryState: all.queryState,
      calculateTotal: true,
    });
    assertEquals(qc.added, [{ id: newer.id, index: 0 }]);
    assertEquals(qc.total, 4);
    assert(qc.removed.includes(newer.id));

    // A first page of a full-text search (walked in the index's id order) equals the same
    // query computed whole, before and after an email arrives with an older date.
    const page = (extra: Record<string, unknown>) =>
      client.one("Email/query", { filter: { text: "zebra" }, limit: 2, ...extra }).then((r) =>
        r.ids
      );
    await make("zebra two", {
      receivedAt: "2024-01-05T00:00:00Z",
      bodyValues: { t: { value: "zebra again" } },
    });
    assertEquals(await page({}), await page({ calculateTotal: true }));
    await make("zebra old", {
      receivedAt: "2023-06-01T00:00:00Z",
      bodyValues: { t: { value: "an old zebra" } },
    });
    const newest = await page({ limit: 3 });
    assertEquals(newest, await page({ limit: 3, calculateTotal: true }));
    assertEquals(newest.length, 3);
    assertEquals(newest[1], c.id);

    const snippets = await client.one("SearchSnippet/get", {
      filter: { text: "zebra cherry" },
      emailIds: [c.id, a.id, "E99999"],
    });
    const snippet = snippets.list.find((s: { emailId: string }) => s.emailId === c.id);
    assertEquals(snippet.subject, "<mark>cherry</mark> tart");
    assertEquals(snippet.preview, "<mark>zebra</mark> crossing");
    assertEquals(snippets.list.find((s: { emailId: string }) => s.emailId === a.id).subject, null);
    assertEquals(snippets.notFound, ["E99999"]);
  });
});

Deno.test("jmap: Thread/get, Email/import, Email/parse and Email/copy", async () => {
  await withServer(async (server) => {
    const client = await jmapClient(server);
    const roles = await mailboxIdsByRole(client);
    const raw = "From: a@example.net\r\nTo: b@example.com\r\nSubject: imported\r\n" +
      "Message-ID: <imp@example.net>\r\n\r\nimported body\r\n";
    const upload = await client.fetch(`/jmap/upload/${client.accountId}/`, {
      method: "POST",
      headers: { "content-type": "message/rfc822" },
      body: raw,
    });
    const { blobId } = await upload.json();
    const parsed = await client.one("Email/parse", {
      blobIds: [blobId, "B" + "1".repeat(64)],
      fetchTextBodyValues: true,
    });
    assertEquals(parsed.parsed[blobId].subject, "imported");
    assertEquals(parsed.parsed[blobId].from, [{ name: null, email: "a@example.net" }]);
    assertEquals(parsed.notFound, ["B" + "1".repeat(64)]);

    const imported = await client.one("Email/import", {
      emails: {
        i: { blobId, mailboxIds: { [roles.inbox]: true }, keywords: { $seen: true } },
        bad: { blobId, mailboxIds: {} },
        missing: { blobId: "B" + "2".repeat(64), mailboxIds: { [roles.inbox]: true } },
      },
    });
    const id = imported.created.i.id;
    assertEquals(imported.notCreated.bad.type, "invalidProperties");
    assertEquals(imported.notCreated.missing.type, "blobNotFound");
    const reply = await client.one("Email/import", {
      emails: {
        r: { blobId, mailboxIds: { [roles.inbox]: true } },
      },
    });
    const threads = await client.one("Thread/get", {
      ids: [imported.created.i.threadId, "T99999"],
    });
    assertEquals(threads.list[0].emailIds, [id, reply.created.r.id]);
    assertEquals(threads.notFound, ["T99999"]);
    const [[, copyError]] = await client.call([[
      "Email/copy",
      { fromAccountId: "a999", accountId: client.accountId, create: {} },
      "0",
    ]]);
    assertEquals(copyError.type, "fromAccountNotFound");
  });
});
