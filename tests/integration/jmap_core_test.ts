/**
 * JMAP core (RFC 8620) over the real HTTP listener: session resource, request-level errors,
 * method errors, result references, creation ids, limits.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { withServer } from "../helpers/server.ts";
import { basicAuth, jmapClient, USING } from "../helpers/jmap.ts";

Deno.test("jmap: session resource lists capabilities, limits, the account and the URLs", async () => {
  await withServer(async (server) => {
    const client = await jmapClient(server);
    const response = await client.fetch("/.well-known/jmap");
    assertEquals(response.status, 200);
    const session = await response.json();
    const core = session.capabilities["urn:ietf:params:jmap:core"];
    assertEquals(core.maxCallsInRequest, 64);
    assertEquals(core.maxObjectsInGet, 1000);
    assert(session.capabilities["urn:ietf:params:jmap:mail"]);
    assertEquals(session.username, server.admin!.address);
    const account = session.accounts[client.accountId];
    assertEquals(account.isPersonal, true);
    assert(account.accountCapabilities["urn:ietf:params:jmap:mail"].emailQuerySortOptions);
    assert(session.apiUrl.endsWith("/jmap/api"));
    assert(session.downloadUrl.includes("{blobId}"));
    assert(session.uploadUrl.includes("{accountId}"));
    assertEquals(typeof session.state, "string");
  });
});

Deno.test("jmap: wrong or missing credentials get 401 with a challenge", async () => {
  await withServer(async (server) => {
    const base = `http://127.0.0.1:${server.ports.http}`;
    const none = await fetch(`${base}/jmap/session`);
    assertEquals(none.status, 401);
    assert(none.headers.get("www-authenticate")?.includes("Basic"));
    await none.body?.cancel();
    const wrong = await fetch(`${base}/jmap/session`, {
      headers: { authorization: basicAuth(server.admin!.address, "not-the-password") },
    });
    assertEquals(wrong.status, 401);
    await wrong.body?.cancel();
    const api = await fetch(`${base}/jmap/api`, { method: "POST", body: "{}" });
    assertEquals(api.status, 401);
    await api.body?.cancel();
  });
});

Deno.test("jmap: request-level errors are problem details (notJSON, notRequest, unknownCapability, limit)", async () => {
  await withServer(async (server) => {
    const client = await jmapClient(server);
    const notJson = await client.request("{ not json");
    assertEquals(notJson.status, 400);
    assertEquals(notJson.body.type, "urn:ietf:params:jmap:error:notJSON");
    const notRequest = await client.request({ using: USING });
    assertEquals(notRequest.body.type, "urn:ietf:params:jmap:error:notRequest");
    const badCall = await client.request({ using: USING, methodCalls: [["Core/echo", [], "0"]] });
    assertEquals(badCall.body.type, "urn:ietf:params:jmap:error:notRequest");
    const unknown = await client.request({
      using: [...USING, "urn:example:nope"],
      methodCalls: [],
    });
    assertEquals(unknown.body.type, "urn:ietf:params:jmap:error:unknownCapability");
    const calls = Array.from({ length: 65 }, (_, i) => ["Core/echo", {}, String(i)]);
    const tooMany = await client.request({ using: USING, methodCalls: calls });
    assertEquals(tooMany.body.type, "urn:ietf:params:jmap:error:limit");
    assertEquals(tooMany.body.limit, "maxCallsInRequest");
    const big = await client.request({
      using: USING,
      methodCalls: [["Core/echo", { pad: "x".repeat(11 * 1024 * 1024) }, "0"]],
    });
    assertEquals(big.body.type, "urn:ietf:params:jmap:error:limit");
    assertEquals(big.body.limit, "maxSizeRequest");
  });
});

Deno.test("jmap: Core/echo, unknownMethod, capability not in using, accountNotFound", async () => {
  await withServer(async (server) => {
    const client = await jmapClient(server);
    const responses = await client.call([
      ["Core/echo", { hello: true, high: 5 }, "b3ff"],
      ["Nope/get", {}, "c1"],
      ["Mailbox/get", { accountId: "a999" }, "c2"],
      ["Mailbox/get", { accountId: client.accountId, bogus: 1 }, "c3"],
    ]);
    assertEquals(responses[0], ["Core/echo", { hello: true, high: 5 }, "b3ff"]);
    assertEquals(responses[1], ["error", { type: "unknownMethod" }, "c1"]);
    assertEquals(responses[2][1].type, "accountNotFound");
    assertEquals(responses[3][1].type, "invalidArguments");
    const coreOnly = await client.call(
      [["Mailbox/get", { accountId: client.accountId }, "x"]],
      ["urn:ietf:params:jmap:core"],
    );
    assertEquals(coreOnly[0][1].type, "unknownMethod");
  });
});

Deno.test("jmap: result references with JSON Pointer and *, and their errors", async () => {
  await withServer(async (server) => {
    const client = await jmapClient(server);
    const accountId = client.accountId;
    const responses = await client.call([
      ["Mailbox/query", { accountId, sort: [{ property: "name" }] }, "q"],
      [
        "Mailbox/get",
        {
          accountId,
          "#ids": { resultOf: "q", name: "Mailbox/query", path: "/ids" },
          properties: ["name", "role"],
        },
        "g",
      ],
      [
        "Core/echo",
        { "#names": { resultOf: "g", name: "Mailbox/get", path: "/list/*/name" } },
        "e",
      ],
      [
        "Mailbox/get",
        { accountId, "#ids": { resultOf: "q", name: "Mailbox/get", path: "/ids" } },
        "bad1",
      ],
      [
        "Mailbox/get",
        { accountId, "#ids": { resultOf: "q", name: "Mailbox/query", path: "/nothing" } },
        "bad2",
      ],
      [
        "Mailbox/get",
        { accountId, ids: [], "#ids": { resultOf: "q", name: "Mailbox/query", path: "/ids" } },
        "bad3",
      ],
    ]);
    const ids = responses[0][1].ids as string[];
    assert(ids.length >= 5, JSON.stringify(responses[0]));
    assertEquals(responses[1][1].list.length, ids.length);
    const names = responses[1][1].list.map((m: { name: string }) => m.name);
    assertEquals(responses[2][1].names, names);
    assert(names.includes("Inbox") || names.includes("INBOX"), names.join(","));
    assertEquals(responses[3][1].type, "invalidResultReference");
    assertEquals(responses[4][1].type, "invalidResultReference");
    assertEquals(responses[5][1].type, "invalidArguments");
  });
});

Deno.test("jmap: creation ids are usable later in the request and returned in createdIds", async () => {
  await withServer(async (server) => {
    const client = await jmapClient(server);
    const accountId = client.accountId;
    const { body } = await client.request({
      using: USING,
      methodCalls: [
        ["Mailbox/set", { accountId, create: { p: { name: "Projects" } } }, "0"],
        [
          "Mailbox/set",
          { accountId, create: { c: { name: "Alpha", parentId: "#p" } } },
          "1",
        ],
        ["Mailbox/get", { accountId, ids: ["#c"], properties: ["name", "parentId"] }, "2"],
      ],
      createdIds: { earlier: "M999" },
    });
    const parentId = body.methodResponses[0][1].created.p.id;
    const childId = body.methodResponses[1][1].created.c.id;
    assertEquals(body.methodResponses[2][1].list, [{ id: childId, name: "Alpha", parentId }]);
    assertEquals(body.createdIds, { earlier: "M999", p: parentId, c: childId });
  });
});
