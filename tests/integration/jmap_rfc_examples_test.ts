// deno-lint-ignore-file no-explicit-any -- JSON from the server, checked by each assertion
/**
 * The example requests of RFC 8620 and RFC 8621, adapted to this server's ids, with the response
 * shapes and values a client relies on: request/response envelopes (RFC 8620 3.3.1, 3.4.1), the
 * result reference chain of 3.7, the standard methods of 5.x, and the mail examples of
 * RFC 8621 2.5, 4.2.1, 4.4, 4.6, 4.8, 4.9, 5.1, 6, 7.5 and 8.2.
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { withServer } from "../helpers/server.ts";
import { jmapClient, type JmapTestClient } from "../helpers/jmap.ts";
import { deliverMany } from "../helpers/mail.ts";

const ALL = [
  "urn:ietf:params:jmap:core",
  "urn:ietf:params:jmap:mail",
  "urn:ietf:params:jmap:submission",
  "urn:ietf:params:jmap:vacationresponse",
];

type Call = [string, Record<string, unknown>, string];

/** Runs calls with every mail capability; `accountId` is added where it is missing. */
async function calls(client: JmapTestClient, list: Call[]): Promise<any[]> {
  const { status, body } = await client.request({
    using: ALL,
    methodCalls: list.map(([name, args, id]) => [
      name,
      name.includes("/") && !("accountId" in args)
        ? { accountId: client.accountId, ...args }
        : args,
      id,
    ]),
  });
  assertEquals(status, 200, JSON.stringify(body));
  return body.methodResponses;
}

async function roles(client: JmapTestClient): Promise<Record<string, string>> {
  const { list } = await client.one("Mailbox/get", { ids: null, properties: ["role"] });
  return Object.fromEntries(list.filter((m: any) => m.role).map((m: any) => [m.role, m.id]));
}

/** The kind of message RFC 8621 4.2.1 fetches: a list post, text and HTML alternatives. */
const PARTY = [
  "From: Joe Bloggs <joe@example.com>",
  "To: admin@example.com",
  "Subject: Dinner on Thursday?",
  "Date: Tue, 11 Jun 2019 10:00:00 +0000",
  "Message-ID: <party@example.com>",
  "List-Post: <mailto:partytime@lists.example.com>",
  "MIME-Version: 1.0",
  'Content-Type: multipart/alternative; boundary="b"',
  "",
  "--b",
  "Content-Type: text/plain; charset=utf-8",
  "",
  "Shall we go for dinner on Thursday? The usual place, at eight.",
  "--b",
  "Content-Type: text/html; charset=utf-8",
  "",
  `<html><body><p>Shall we go for dinner on Thursday?</p>${"<p>The usual place.</p>".repeat(20)}` +
  "</body></html>",
  "--b--",
  "",
].join("\r\n");

async function importMessage(client: JmapTestClient, raw: string, mailboxId: string) {
  const response = await client.fetch(`/jmap/upload/${client.accountId}/`, {
    method: "POST",
    headers: { "content-type": "message/rfc822" },
    body: raw,
  });
  assertEquals(response.status, 201);
  const uploaded = await response.json();
  const [[name, result]] = await calls(client, [["Email/import", {
    emails: {
      k1: { blobId: uploaded.blobId, mailboxIds: { [mailboxId]: true }, keywords: { $seen: true } },
    },
  }, "0"]]);
  assertEquals(name, "Email/import");
  return { blobId: uploaded.blobId as string, result };
}

Deno.test("rfc 8620 3.3.1/3.4.1: a request of three calls gets responses in order, errors in place", async () => {
  await withServer(async (server) => {
    const client = await jmapClient(server);
    const { status, body } = await client.request({
      using: ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"],
      methodCalls: [
        ["Core/echo", { arg1: "arg1data", arg2: "arg2data" }, "c1"],
        ["method2", { arg1: "arg1data" }, "c2"],
        ["method3", {}, "c3"],
      ],
    });
    assertEquals(status, 200);
    assertEquals(body.methodResponses, [
      ["Core/echo", { arg1: "arg1data", arg2: "arg2data" }, "c1"],
      ["error", { type: "unknownMethod" }, "c2"],
      ["error", { type: "unknownMethod" }, "c3"],
    ]);
    assertEquals(typeof body.sessionState, "string");
    const session = await (await client.fetch("/jmap/session")).json();
    assertEquals(body.sessionState, session.state);
    assertEquals("createdIds" in body, false, "createdIds only when the request has it");
  });
});

Deno.test("rfc 8620 3.7: Email/query → Email/get → Thread/get → Email/get by result references", async () => {
  await withServer(async (server) => {
    const client = await jmapClient(server);
    await deliverMany(server, server.admin!.address, 3);
    const { inbox } = await roles(client);
    const responses = await calls(client, [
      ["Email/query", {
        filter: { inMailbox: inbox },
        sort: [{ property: "receivedAt", isAscending: false }],
        collapseThreads: true,
        position: 0,
        limit: 10,
        calculateTotal: true,
      }, "t0"],
      ["Email/get", {
        "#ids": { resultOf: "t0", name: "Email/query", path: "/ids" },
        properties: ["threadId"],
      }, "t1"],
      ["Thread/get", {
        "#ids": { resultOf: "t1", name: "Email/get", path: "/list/*/threadId" },
      }, "t2"],
      ["Email/get", {
        "#ids": { resultOf: "t2", name: "Thread/get", path: "/list/*/emailIds" },
        properties: ["from", "receivedAt", "subject"],
      }, "t3"],
    ]);
    assertEquals(responses.map(([name, , id]) => [name, id]), [
      ["Email/query", "t0"],
      ["Email/get", "t1"],
      ["Thread/get", "t2"],
      ["Email/get", "t3"],
    ]);
    const [query, emails, threads, full] = responses.map(([, args]) => args);
    assertEquals(query.accountId, client.accountId);
    assertEquals(query.total, 3);
    assertEquals(query.position, 0);
    assertEquals(query.canCalculateChanges, true);
    assertEquals(typeof query.queryState, "string");
    assertEquals(emails.list.map((e: any) => e.id), query.ids);
    for (const email of emails.list) assertEquals(Object.keys(email).sort(), ["id", "threadId"]);
    assertEquals(threads.list.map((t: any) => t.id), emails.list.map((e: any) => e.threadId));
    const allEmailIds = threads.list.flatMap((t: any) => t.emailIds);
    assertEquals(full.list.map((e: any) => e.id), allEmailIds);
    assertEquals(full.notFound, []);
    for (const email of full.list) {
      assertEquals(Object.keys(email).sort(), ["from", "id", "receivedAt", "subject"]);
      assertEquals(email.from, null, "deliverMany's messages have no From header");
      assertMatch(email.subject, /^message \d$/);
      assertMatch(email.receivedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    }
    const times = full.list.map((e: any) => e.receivedAt);
    assertEquals(new Set(allEmailIds).size, 3);
    assertEquals(times.length, 3);
  });
});

Deno.test("rfc 8620 5.1-5.6: /get, /changes, /set with ifInState and /queryChanges as the examples show", async () => {
  await withServer(async (server) => {
    const client = await jmapClient(server);
    // 5.1: /get with unknown ids lists them in notFound; the state is a string.
    const got = await client.one("Mailbox/get", { ids: ["nope"], properties: ["name"] });
    assertEquals(got.list, []);
    assertEquals(got.notFound, ["nope"]);
    const state = got.state;
    // 5.3: create with ifInState; the created object's server-set properties come back.
    const [[, set]] = await calls(client, [["Mailbox/set", {
      ifInState: state,
      create: { k1: { name: "Party planning", parentId: null } },
    }, "0"]]);
    assertEquals(set.oldState, state);
    assert(set.newState !== state);
    const id = set.created.k1.id;
    assertEquals(set.notCreated, null);
    // A stale ifInState is stateMismatch.
    const [[name, stale]] = await calls(client, [["Mailbox/set", {
      ifInState: state,
      update: { [id]: { name: "Party" } },
    }, "0"]]);
    assertEquals([name, stale.type], ["error", "stateMismatch"]);
    // 5.2: /changes from the old state names the created mailbox.
    const changes = await client.one("Mailbox/changes", { sinceState: state });
    assertEquals(changes.oldState, state);
    assertEquals(changes.newState, set.newState);
    assertEquals(changes.hasMoreChanges, false);
    assertEquals(changes.created, [id]);
    assertEquals(changes.updated, []);
    assertEquals(changes.destroyed, []);
    // 5.3: an update by patch, then a destroy; a second destroy is notFound.
    const [[, updated]] = await calls(client, [["Mailbox/set", {
      update: { [id]: { name: "Party time" } },
    }, "0"]]);
    assertEquals(updated.updated, { [id]: null });
    const [[, destroyed]] = await calls(client, [["Mailbox/set", { destroy: [id] }, "0"]]);
    assertEquals(destroyed.destroyed, [id]);
    const [[, again]] = await calls(client, [["Mailbox/set", { destroy: [id] }, "0"]]);
    assertEquals(again.notDestroyed[id].type, "notFound");
    // 5.2: created and destroyed since the state: reported in neither list.
    const after = await client.one("Mailbox/changes", { sinceState: state });
    assertEquals([after.created, after.updated, after.destroyed], [[], [], []]);
    // 5.6: /queryChanges from a query state.
    await deliverMany(server, server.admin!.address, 1);
    const { inbox } = await roles(client);
    const query = await client.one("Email/query", { filter: { inMailbox: inbox } });
    await deliverMany(server, server.admin!.address, 1);
    const now = await client.one("Email/query", { filter: { inMailbox: inbox } });
    const queryChanges = await client.one("Email/queryChanges", {
      filter: { inMailbox: inbox },
      sinceQueryState: query.queryState,
      calculateTotal: true,
    });
    assertEquals(queryChanges.oldQueryState, query.queryState);
    assertEquals(queryChanges.newQueryState, now.queryState);
    assertEquals(queryChanges.total, 2);
    const added = queryChanges.added.map((a: any) => a.id);
    const newId = now.ids.find((i: string) => !query.ids.includes(i));
    assert(added.includes(newId), JSON.stringify(queryChanges));
    // Applying removed then added to the old results gives the new results (RFC 8620 5.6).
    const results = query.ids.filter((i: string) => !queryChanges.removed.includes(i));
    for (const { id: addedId, index } of queryChanges.added) results.splice(index, 0, addedId);
    assertEquals(results, now.ids);
  });
});

Deno.test("rfc 8621 2.5/2.3: Mailbox/get of all mailboxes and Mailbox/query sortAsTree, filterAsTree", async () => {
  await withServer(async (server) => {
    const client = await jmapClient(server);
    const { list, notFound, state } = await client.one("Mailbox/get", { ids: null });
    assertEquals(notFound, []);
    assertEquals(typeof state, "string");
    const inbox = list.find((m: any) => m.role === "inbox");
    for (
      const key of [
        "id",
        "name",
        "parentId",
        "role",
        "sortOrder",
        "totalEmails",
        "unreadEmails",
        "totalThreads",
        "unreadThreads",
        "myRights",
        "isSubscribed",
      ]
    ) assert(key in inbox, key);
    assertEquals(Object.keys(inbox.myRights).sort(), [
      "mayAddItems",
      "mayCreateChild",
      "mayDelete",
      "mayReadItems",
      "mayRemoveItems",
      "mayRename",
      "maySetKeywords",
      "maySetSeen",
      "maySubmit",
    ]);
    // A tree: Projects / (Alpha, Beta / Deep).
    const [[, set]] = await calls(client, [["Mailbox/set", {
      create: {
        p: { name: "Projects", parentId: null },
        b: { name: "Beta", parentId: "#p" },
        a: { name: "Alpha", parentId: "#p" },
        d: { name: "Deep", parentId: "#b" },
      },
    }, "0"]]);
    const ids = Object.fromEntries(
      Object.entries(set.created).map(([k, v]: [string, any]) => [k, v.id]),
    );
    const tree = await client.one("Mailbox/query", {
      sort: [{ property: "name" }],
      sortAsTree: true,
    });
    const at = (id: string) => tree.ids.indexOf(id);
    // Parents come before children; siblings sort by name.
    assert(at(ids.p) < at(ids.a) && at(ids.a) < at(ids.b) && at(ids.b) < at(ids.d), tree.ids);
    assertEquals(at(ids.d), at(ids.b) + 1);
    // filterAsTree: a mailbox is in the results only if all its ancestors match too.
    const filtered = await client.one("Mailbox/query", {
      filter: { operator: "NOT", conditions: [{ name: "Beta" }] },
      sortAsTree: true,
      filterAsTree: true,
    });
    assert(filtered.ids.includes(ids.a));
    assert(!filtered.ids.includes(ids.b));
    assert(!filtered.ids.includes(ids.d), "Deep's parent Beta does not match");
    const flat = await client.one("Mailbox/query", {
      filter: { operator: "NOT", conditions: [{ name: "Beta" }] },
    });
    assert(flat.ids.includes(ids.d), "without filterAsTree Deep matches on its own");
    const children = await client.one("Mailbox/query", { filter: { parentId: ids.p } });
    assertEquals(children.ids.sort(), [ids.a, ids.b].sort());
  });
});

Deno.test("rfc 8621 4.2.1/4.8/4.9: Email/import, Email/get with bodyValues and header forms, Email/parse", async () => {
  await withServer(async (server) => {
    const client = await jmapClient(server);
    const { inbox } = await roles(client);
    const { blobId, result } = await importMessage(client, PARTY, inbox);
    // 4.8: created holds id, blobId, threadId and size.
    const created = result.created.k1;
    assertEquals(result.notCreated, null);
    assertEquals(created.blobId, blobId);
    assertEquals(created.size, new TextEncoder().encode(PARTY).length);
    assertEquals(typeof created.threadId, "string");
    // The 4.2.1 example request.
    const [[name, got]] = await calls(client, [["Email/get", {
      ids: [created.id, "Enope"],
      properties: [
        "threadId",
        "mailboxIds",
        "from",
        "subject",
        "receivedAt",
        "header:List-POST:asURLs",
        "htmlBody",
        "bodyValues",
      ],
      bodyProperties: ["partId", "blobId", "size", "type"],
      fetchHTMLBodyValues: true,
      maxBodyValueBytes: 256,
    }, "#1"]]);
    assertEquals(name, "Email/get");
    assertEquals(got.notFound, ["Enope"]);
    const email = got.list[0];
    assertEquals(email.id, created.id);
    assertEquals(email.threadId, created.threadId);
    assertEquals(email.mailboxIds, { [inbox]: true });
    assertEquals(email.from, [{ name: "Joe Bloggs", email: "joe@example.com" }]);
    assertEquals(email.subject, "Dinner on Thursday?");
    assertEquals(email["header:List-POST:asURLs"], ["mailto:partytime@lists.example.com"]);
    assertEquals(email.htmlBody.length, 1);
    const html = email.htmlBody[0];
    assertEquals(Object.keys(html).sort(), ["blobId", "partId", "size", "type"]);
    assertEquals(html.type, "text/html");
    const value = email.bodyValues[html.partId];
    assertEquals(value.isEncodingProblem, false);
    assertEquals(value.isTruncated, true);
    assert(new TextEncoder().encode(value.value).length <= 256, value.value);
    assert(value.value.startsWith("<html><body><p>Shall we go"), value.value);
    assertEquals(Object.keys(email.bodyValues), [html.partId], "only the HTML body's value");
    // Header forms of 4.1.2 on the same message.
    const forms = await client.one("Email/get", {
      ids: [created.id],
      properties: [
        "header:Subject",
        "header:Subject:asText",
        "header:From:asAddresses",
        "header:Message-ID:asMessageIds",
        "header:Date:asDate",
        "header:X-Missing:all",
      ],
    });
    const form = forms.list[0];
    assertEquals(form["header:Subject"], " Dinner on Thursday?");
    assertEquals(form["header:Subject:asText"], "Dinner on Thursday?");
    assertEquals(form["header:From:asAddresses"], [{
      name: "Joe Bloggs",
      email: "joe@example.com",
    }]);
    assertEquals(form["header:Message-ID:asMessageIds"], ["party@example.com"]);
    assertEquals(form["header:Date:asDate"], "2019-06-11T10:00:00Z");
    assertEquals(form["header:X-Missing:all"], []);
    // 4.9: Email/parse of the same blob, and of blobs that are not there.
    const [[parseName, parsed]] = await calls(client, [["Email/parse", {
      blobIds: [blobId, "Gnope"],
      properties: ["subject", "from", "messageId", "textBody", "bodyValues"],
      fetchTextBodyValues: true,
    }, "p"]]);
    assertEquals(parseName, "Email/parse");
    const parsedEmail = parsed.parsed[blobId];
    assertEquals(parsedEmail.subject, "Dinner on Thursday?");
    assertEquals(parsedEmail.messageId, ["party@example.com"]);
    assertEquals(parsedEmail.from, [{ name: "Joe Bloggs", email: "joe@example.com" }]);
    const textPart = parsedEmail.textBody[0].partId;
    assertEquals(
      parsedEmail.bodyValues[textPart].value,
      "Shall we go for dinner on Thursday? The usual place, at eight.",
    );
    assert(!("id" in parsedEmail), "a parsed Email has no id (RFC 8621 4.9)");
    assertEquals(parsed.notFound, ["Gnope"]);
    // Importing the same blob again into the same account makes another Email or reports it.
    assertEquals(parsed.notParsable ?? [], []);
  });
});

Deno.test("rfc 8621 4.4: Email/query with collapseThreads gives one email per thread", async () => {
  await withServer(async (server) => {
    const client = await jmapClient(server);
    const { inbox } = await roles(client);
    const first = await importMessage(
      client,
      "From: a@example.com\r\nTo: admin@example.com\r\nSubject: Lunch\r\n" +
        "Message-ID: <lunch1@example.com>\r\nDate: Mon, 1 Jun 2020 10:00:00 +0000\r\n\r\nNoon?\r\n",
      inbox,
    );
    const second = await importMessage(
      client,
      "From: b@example.com\r\nTo: admin@example.com\r\nSubject: Re: Lunch\r\n" +
        "Message-ID: <lunch2@example.com>\r\nIn-Reply-To: <lunch1@example.com>\r\n" +
        "References: <lunch1@example.com>\r\nDate: Mon, 1 Jun 2020 11:00:00 +0000\r\n\r\nYes.\r\n",
      inbox,
    );
    await deliverMany(server, server.admin!.address, 1);
    assertEquals(first.result.created.k1.threadId, second.result.created.k1.threadId);
    const sort = [{ property: "receivedAt", isAscending: false }];
    const all = await client.one("Email/query", {
      filter: { inMailbox: inbox },
      sort,
      calculateTotal: true,
    });
    assertEquals(all.total, 3);
    // The example response of RFC 8621 4.10 carries the collapseThreads that was used.
    assertEquals(all.collapseThreads, false);
    const collapsed = await client.one("Email/query", {
      filter: { inMailbox: inbox },
      sort,
      collapseThreads: true,
      calculateTotal: true,
    });
    assertEquals(collapsed.collapseThreads, true);
    assertEquals(collapsed.total, 2);
    assertEquals(collapsed.ids.length, 2);
    const threads = await client.one("Email/get", {
      ids: collapsed.ids,
      properties: ["threadId"],
    });
    const threadIds = threads.list.map((e: any) => e.threadId);
    assertEquals(new Set(threadIds).size, 2);
    // The email kept for the Lunch thread is the first of it in the sort order.
    const lunchIds = [first.result.created.k1.id, second.result.created.k1.id];
    const kept = collapsed.ids.filter((i: string) => lunchIds.includes(i));
    assertEquals(kept, [all.ids.find((i: string) => lunchIds.includes(i))]);
  });
});

Deno.test("rfc 8621 4.6: Email/set creates a draft, updates its keywords, and Email/get reads it back", async () => {
  await withServer(async (server) => {
    const client = await jmapClient(server);
    const { drafts } = await roles(client);
    const [[, set]] = await calls(client, [["Email/set", {
      create: {
        k192: {
          mailboxIds: { [drafts]: true },
          keywords: { $draft: true },
          from: [{ name: "Joe Bloggs", email: "joe@example.com" }],
          subject: "World domination",
          receivedAt: "2018-07-10T01:03:11Z",
          sentAt: "2018-07-10T11:03:11+10:00",
          bodyStructure: { type: "text/html", partId: "bd48", header: undefined },
          bodyValues: {
            bd48: {
              value: "<p>I have the most <b>brilliant</b> plan. Let me tell you all about it.</p>",
              isTruncated: false,
            },
          },
        },
      },
    }, "0"]]);
    assertEquals(set.notCreated, null, JSON.stringify(set.notCreated));
    const created = set.created.k192;
    assertEquals(Object.keys(created).sort(), ["blobId", "id", "size", "threadId"]);
    const [[, updated]] = await calls(client, [["Email/set", {
      update: { [created.id]: { "keywords/$seen": true } },
    }, "0"]]);
    assertEquals(updated.updated, { [created.id]: null });
    const got = await client.one("Email/get", {
      ids: [created.id],
      properties: [
        "keywords",
        "mailboxIds",
        "subject",
        "receivedAt",
        "sentAt",
        "from",
        "htmlBody",
        "textBody",
        "bodyValues",
        "size",
        "blobId",
        "preview",
      ],
      fetchHTMLBodyValues: true,
    });
    const email = got.list[0];
    assertEquals(email.keywords, { $draft: true, $seen: true });
    assertEquals(email.mailboxIds, { [drafts]: true });
    assertEquals(email.subject, "World domination");
    assertEquals(email.receivedAt, "2018-07-10T01:03:11Z");
    // The same instant; the RFC's Date type may carry the offset or not.
    assertEquals(Date.parse(email.sentAt), Date.parse("2018-07-10T11:03:11+10:00"));
    assertEquals(email.from, [{ name: "Joe Bloggs", email: "joe@example.com" }]);
    assertEquals(email.size, created.size);
    assertEquals(email.blobId, created.blobId);
    assertEquals(email.htmlBody.length, 1);
    assertEquals(email.htmlBody[0].type, "text/html");
    assertEquals(
      // Exactly as created: a draft saved again does not grow a line end each time.
      email.bodyValues[email.htmlBody[0].partId].value,
      "<p>I have the most <b>brilliant</b> plan. Let me tell you all about it.</p>",
    );
    assertMatch(email.preview, /I have the most brilliant plan/);
    // The draft's raw message downloads with the headers the properties asked for.
    const raw = await (await client.fetch(
      `/jmap/download/${client.accountId}/${created.blobId}/draft.eml?accept=message/rfc822`,
    )).text();
    assertMatch(raw, /^Subject: World domination\r$/m);
    assertMatch(raw, /^From: "?Joe Bloggs"? <joe@example.com>\r$/m);
    assertMatch(raw, /^Content-Type: text\/html/m);
    // sentAt's offset is the Date header's.
    assertMatch(raw, /^Date: Tue, 10 Jul 2018 11:03:11 \+1000\r$/m);
  });
});

Deno.test("rfc 8621 5.1: SearchSnippet/get marks the matching words", async () => {
  await withServer(async (server) => {
    const client = await jmapClient(server);
    const { inbox } = await roles(client);
    const { result } = await importMessage(client, PARTY, inbox);
    const id = result.created.k1.id;
    const filter = { text: "dinner" };
    const [[name, snippets]] = await calls(client, [["SearchSnippet/get", {
      filter,
      emailIds: [id, "Enope"],
    }, "0"]]);
    assertEquals(name, "SearchSnippet/get");
    assertEquals(snippets.accountId, client.accountId);
    assertEquals(snippets.notFound, ["Enope"]);
    assertEquals(snippets.list.length, 1);
    const snippet = snippets.list[0];
    assertEquals(snippet.emailId, id);
    assertEquals(snippet.subject, "<mark>Dinner</mark> on Thursday?");
    assertMatch(snippet.preview, /Shall we go for <mark>dinner<\/mark> on Thursday\?/);
    // A word that is only in the body leaves subject null (RFC 8621 5.1).
    const [[, body]] = await calls(client, [["SearchSnippet/get", {
      filter: { body: "eight" },
      emailIds: [id],
    }, "0"]]);
    assertEquals(body.list[0].subject, null);
    assertMatch(body.list[0].preview, /<mark>eight<\/mark>/);
  });
});

Deno.test("rfc 8621 6/7.5: Identity/get, then EmailSubmission/set with onSuccessUpdateEmail", async () => {
  await withServer(async (server) => {
    const client = await jmapClient(server);
    const me = server.admin!.address;
    const mailboxes = await roles(client);
    const [[name, identities]] = await calls(client, [["Identity/get", { ids: null }, "0"]]);
    assertEquals(name, "Identity/get");
    assertEquals(typeof identities.state, "string");
    const identity = identities.list.find((i: any) => i.email === me);
    assert(identity, JSON.stringify(identities.list));
    for (
      const key of [
        "id",
        "name",
        "email",
        "replyTo",
        "bcc",
        "textSignature",
        "htmlSignature",
        "mayDelete",
      ]
    ) assert(key in identity, key);
    // The 7.5 example: create the draft and submit it; on success move it out of Drafts.
    const responses = await calls(client, [
      ["Email/set", {
        create: {
          k1546: {
            mailboxIds: { [mailboxes.drafts]: true },
            keywords: { $draft: true },
            from: [{ name: "Joe Bloggs", email: me }],
            to: [{ name: "John", email: me }],
            subject: "World domination",
            textBody: [{ partId: "t", type: "text/plain" }],
            bodyValues: { t: { value: "I have the most brilliant plan." } },
          },
        },
      }, "0"],
      ["EmailSubmission/set", {
        create: {
          k1490: {
            identityId: identity.id,
            emailId: "#k1546",
            envelope: { mailFrom: { email: me, parameters: null }, rcptTo: [{ email: me }] },
          },
        },
        onSuccessUpdateEmail: {
          "#k1490": {
            [`mailboxIds/${mailboxes.drafts}`]: null,
            [`mailboxIds/${mailboxes.sent}`]: true,
            "keywords/$draft": null,
          },
        },
      }, "1"],
    ]);
    assertEquals(responses.map(([n, , id]) => [n, id]), [
      ["Email/set", "0"],
      ["EmailSubmission/set", "1"],
      ["Email/set", "1"],
    ]);
    const emailId = responses[0][1].created.k1546.id;
    const submission = responses[1][1].created.k1490;
    assert(submission, JSON.stringify(responses[1][1]));
    assertEquals(typeof submission.id, "string");
    assertEquals(responses[2][1].updated, { [emailId]: null });
    const [[, got]] = await calls(client, [
      ["EmailSubmission/get", { ids: [submission.id] }, "0"],
      ["Email/get", { ids: [emailId], properties: ["mailboxIds", "keywords"] }, "1"],
    ]);
    const stored = got.list[0];
    assertEquals(stored.identityId, identity.id);
    assertEquals(stored.emailId, emailId);
    assertEquals(stored.envelope.mailFrom.email, me);
    assertEquals(stored.envelope.rcptTo.map((r: any) => r.email), [me]);
    assert(["pending", "final"].includes(stored.undoStatus), stored.undoStatus);
    const [, [, emails]] = await calls(client, [
      ["EmailSubmission/get", { ids: [] }, "0"],
      ["Email/get", { ids: [emailId], properties: ["mailboxIds", "keywords"] }, "1"],
    ]);
    assertEquals(emails.list[0].mailboxIds, { [mailboxes.sent]: true });
    assertEquals(emails.list[0].keywords, {});
  });
});

Deno.test("rfc 8621 8.2: VacationResponse/get has the singleton, /set updates it", async () => {
  await withServer(async (server) => {
    const client = await jmapClient(server);
    const [[name, got]] = await calls(client, [["VacationResponse/get", { ids: null }, "0"]]);
    assertEquals(name, "VacationResponse/get");
    assertEquals(got.accountId, client.accountId);
    assertEquals(got.notFound, []);
    assertEquals(got.list, [{
      id: "singleton",
      isEnabled: false,
      fromDate: null,
      toDate: null,
      subject: null,
      textBody: null,
      htmlBody: null,
    }]);
    const [[, set]] = await calls(client, [["VacationResponse/set", {
      update: {
        singleton: {
          isEnabled: true,
          fromDate: "2030-07-01T00:00:00Z",
          toDate: "2030-07-14T00:00:00Z",
          subject: "I am on holiday",
          textBody: "Back on the 14th.",
        },
      },
    }, "0"]]);
    assertEquals(Object.keys(set.updated ?? {}), ["singleton"], JSON.stringify(set));
    const [[, again]] = await calls(client, [["VacationResponse/get", {
      ids: ["singleton", "other"],
    }, "0"]]);
    assertEquals(again.notFound, ["other"]);
    assertEquals(again.list[0].isEnabled, true);
    assertEquals(again.list[0].subject, "I am on holiday");
    assertEquals(again.list[0].fromDate, "2030-07-01T00:00:00Z");
    const [[, created]] = await calls(client, [["VacationResponse/set", {
      create: { k: { isEnabled: false } },
      destroy: ["singleton"],
    }, "0"]]);
    assertEquals(created.notCreated.k.type, "singleton");
    assertEquals(created.notDestroyed.singleton.type, "singleton");
  });
});
