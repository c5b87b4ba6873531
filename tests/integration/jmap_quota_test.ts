/**
 * Quota/get, /changes, /query and /queryChanges (RFC 9425) over the real HTTP listener: the
 * account's storage quota as mail arrives.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { cli, type TestServer, withServer } from "../helpers/server.ts";
import { jmapClient, USING } from "../helpers/jmap.ts";

const QUOTA = "urn:ietf:params:jmap:quota";
const WITH_QUOTA = [...USING, QUOTA];

async function deliver(server: TestServer, to: string, body: string) {
  const message = [
    "From: sender@example.net",
    `To: ${to}`,
    "Subject: quota",
    "",
    body,
    "",
  ].join("\r\n");
  const result = await cli(server.configPath, ["deliver", to], message);
  assertEquals(result.code, 0, result.stderr);
}

Deno.test("jmap quota: an account without a limit has no Quota object", async () => {
  await withServer(async (server) => {
    const client = await jmapClient(server);
    const session = await (await client.fetch("/jmap/session")).json();
    assertEquals(session.capabilities[QUOTA], {});
    assertEquals(session.accounts[client.accountId].accountCapabilities[QUOTA], {});
    const [[, got], [, query]] = await client.call([
      ["Quota/get", { accountId: client.accountId, ids: null }, "0"],
      ["Quota/query", { accountId: client.accountId }, "1"],
    ], WITH_QUOTA);
    assertEquals(got.list, []);
    assertEquals(got.notFound, []);
    assertEquals(query.ids, []);
  });
});

Deno.test("jmap quota: Quota/get and /changes follow the used octets as mail arrives", async () => {
  await withServer(async (server) => {
    const address = "dora@example.com";
    const added = await cli(server.configPath, [
      "account",
      "add",
      address,
      "--password",
      "dora-password-1",
      "--quota",
      "10M",
    ]);
    assertEquals(added.code, 0, added.stderr);
    const client = await jmapClient(server, address, "dora-password-1");
    const [[, before]] = await client.call([
      ["Quota/get", { accountId: client.accountId, ids: null }, "0"],
    ], WITH_QUOTA);
    assertEquals(before.list, [{
      id: before.list[0].id,
      resourceType: "octets",
      used: 0,
      hardLimit: 10 * 1024 * 1024,
      scope: "account",
      name: `${address} storage`,
      types: ["Email"],
      description: `Mail stored by ${address}`,
    }]);
    const id = before.list[0].id;

    const [[, unchanged]] = await client.call([
      ["Quota/changes", { accountId: client.accountId, sinceState: before.state }, "0"],
    ], WITH_QUOTA);
    assertEquals(unchanged.newState, before.state);
    assertEquals([unchanged.created, unchanged.updated, unchanged.destroyed], [[], [], []]);

    await deliver(server, address, "x".repeat(2000));
    const [[, changes], [, after]] = await client.call([
      ["Quota/changes", { accountId: client.accountId, sinceState: before.state }, "0"],
      ["Quota/get", {
        accountId: client.accountId,
        ids: [id, "other"],
        properties: ["used", "hardLimit"],
      }, "1"],
    ], WITH_QUOTA);
    assertEquals(changes.oldState, before.state);
    assert(changes.newState !== before.state);
    assertEquals(changes.updated, [id]);
    assertEquals(changes.hasMoreChanges, false);
    assertEquals(after.state, changes.newState);
    assertEquals(after.notFound, ["other"]);
    assertEquals(after.list.length, 1);
    assert(after.list[0].used > 2000, `used ${after.list[0].used}`);
    assertEquals(after.list[0].hardLimit, 10 * 1024 * 1024);
    assertEquals(Object.keys(after.list[0]).sort(), ["hardLimit", "id", "used"]);

    const [[name, error]] = await client.call([
      ["Quota/changes", { accountId: client.accountId, sinceState: "garbage" }, "0"],
    ], WITH_QUOTA);
    assertEquals([name, error.type], ["error", "cannotCalculateChanges"]);
  });
});

Deno.test("jmap quota: Quota/query filters and sorts; /queryChanges re-adds the quota", async () => {
  await withServer(async (server) => {
    const address = "erin@example.com";
    const added = await cli(server.configPath, [
      "account",
      "add",
      address,
      "--password",
      "erin-password-1",
      "--quota",
      "1M",
    ]);
    assertEquals(added.code, 0, added.stderr);
    const client = await jmapClient(server, address, "erin-password-1");
    const query = async (filter: unknown, sort?: unknown) => {
      const [[name, result]] = await client.call([
        ["Quota/query", { accountId: client.accountId, filter, sort, calculateTotal: true }, "0"],
      ], WITH_QUOTA);
      return name === "error" ? { error: result.type } : result;
    };
    const all = await query(null);
    assertEquals(all.ids.length, 1);
    assertEquals(all.total, 1);
    assertEquals(all.canCalculateChanges, true);
    const id = all.ids[0];
    assertEquals((await query({ scope: "account" })).ids, [id]);
    assertEquals((await query({ scope: "domain" })).ids, []);
    assertEquals((await query({ resourceType: "octets", type: "Email" })).ids, [id]);
    assertEquals((await query({ resourceType: "count" })).ids, []);
    assertEquals((await query({ name: "storage" })).ids, [id]);
    assertEquals((await query({ operator: "NOT", conditions: [{ name: "storage" }] })).ids, []);
    assertEquals((await query(null, [{ property: "used", isAscending: false }])).ids, [id]);
    assertEquals((await query({ colour: "red" })).error, "unsupportedFilter");
    assertEquals((await query(null, [{ property: "hardLimit" }])).error, "unsupportedSort");

    const [[, same]] = await client.call([
      ["Quota/queryChanges", { accountId: client.accountId, sinceQueryState: all.queryState }, "0"],
    ], WITH_QUOTA);
    assertEquals([same.removed, same.added], [[], []]);
    await deliver(server, address, "hello");
    const [[, moved]] = await client.call([
      ["Quota/queryChanges", {
        accountId: client.accountId,
        sinceQueryState: all.queryState,
        filter: { scope: "account" },
        calculateTotal: true,
      }, "0"],
    ], WITH_QUOTA);
    assertEquals(moved.oldQueryState, all.queryState);
    assert(moved.newQueryState !== all.queryState);
    assertEquals(moved.removed, [id]);
    assertEquals(moved.added, [{ id, index: 0 }]);
    assertEquals(moved.total, 1);
  });
});
