// deno-lint-ignore-file no-explicit-any -- JSON from the server, checked by each test
/**
 * JMAP for Sieve (RFC 9661) over the real HTTP listener: scripts uploaded as blobs, created and
 * activated in one /set, read back by download, validated, renamed, destroyed, seen by
 * /changes, /query and ManageSieve's LISTSCRIPTS, and a delivery the JMAP-activated script files.
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { type TestServer, withServer } from "../helpers/server.ts";
import { jmapClient, type JmapTestClient, USING } from "../helpers/jmap.ts";
import { deliverMany } from "../helpers/mail.ts";
import { LineClient } from "../helpers/tls.ts";

const SIEVE = "urn:ietf:params:jmap:sieve";
const WITH_SIEVE = [...USING, SIEVE];
const FILING = 'require "fileinto";\r\nif header :is "subject" "message 1" {\r\n' +
  '  fileinto "Filed";\r\n}\r\n';
const BROKEN = 'require "fileinto";\r\nif header :is "subject" {\r\n  fileinot "Filed";\r\n}\r\n';

async function upload(client: JmapTestClient, script: string): Promise<string> {
  const response = await client.fetch(`/jmap/upload/${client.accountId}/`, {
    method: "POST",
    headers: { "content-type": "application/sieve" },
    body: script,
  });
  assertEquals(response.status, 201);
  return (await response.json()).blobId;
}

async function call(client: JmapTestClient, name: string, args: Record<string, unknown>) {
  const [[responseName, result]] = await client.call(
    [[name, { accountId: client.accountId, ...args }, "0"]],
    WITH_SIEVE,
  );
  assertEquals(responseName, name, JSON.stringify(result));
  return result as any;
}

/** LISTSCRIPTS over ManageSieve (STARTTLS, AUTHENTICATE PLAIN): the lines before OK. */
async function listScripts(server: TestServer): Promise<string[]> {
  const { address, password } = server.admin!;
  const ca = await Deno.readTextFile(`${server.dir}/data/tls/self-signed.crt`);
  const client = await LineClient.connect(server.ports.managesieve);
  const reply = async (): Promise<string[]> => {
    const lines: string[] = [];
    for (;;) {
      const line = await client.readLine();
      if (line === null) throw new Error("managesieve closed");
      if (/^(OK|NO|BYE)\b/.test(line)) return [...lines, line];
      lines.push(line);
    }
  };
  try {
    await reply();
    await client.write("STARTTLS\r\n");
    await reply();
    await client.startTls(ca);
    await reply();
    await client.write(`AUTHENTICATE "PLAIN" "${btoa(`\0${address}\0${password}`)}"\r\n`);
    assertMatch((await reply()).at(-1)!, /^OK/);
    await client.write("LISTSCRIPTS\r\n");
    const lines = await reply();
    assertMatch(lines.at(-1)!, /^OK/);
    return lines.slice(0, -1);
  } finally {
    await client.close();
  }
}

Deno.test("jmap sieve: the capability carries the [sieve] limits and the extensions", async () => {
  await withServer(async (server) => {
    const client = await jmapClient(server);
    const session = await (await client.fetch("/jmap/session")).json();
    assertEquals(session.capabilities[SIEVE], {});
    const account = session.accounts[client.accountId].accountCapabilities[SIEVE];
    assertEquals(account.implementation, "Postern");
    assertEquals(account.maxNumberScripts, 32);
    assertEquals(account.maxSizeScript, 65536);
    assert(account.sieveExtensions.includes("fileinto"));
    assertEquals(account.notificationMethods, ["mailto"]);
    assertEquals(account.externalLists, null);
  });
});

Deno.test("jmap sieve: create, activate, read, validate, rename, destroy, /changes, /query", async () => {
  await withServer(async (server) => {
    const client = await jmapClient(server);
    const start = (await call(client, "SieveScript/get", { ids: null })).state;

    // Create and activate in one /set.
    const blobId = await upload(client, FILING);
    const created = await call(client, "SieveScript/set", {
      create: { a: { name: "main", blobId } },
      onSuccessActivateScript: "#a",
    });
    assertEquals(created.notCreated, null);
    const id = created.created.a.id;
    assertEquals(created.created.a.isActive, false);
    assertEquals(created.updated, { [id]: { isActive: true } });

    // Read it back, content by download.
    const got = await call(client, "SieveScript/get", { ids: [id] });
    assertEquals(got.list, [{ id, name: "main", blobId, isActive: true }]);
    const download = await client.fetch(`/jmap/download/${client.accountId}/${blobId}/main`);
    assertEquals(download.status, 200);
    assertEquals(await download.text(), FILING);
    assertEquals(await listScripts(server), ['"main" ACTIVE']);

    // A broken script: validate and create both name the place.
    const broken = await upload(client, BROKEN);
    const validated = await call(client, "SieveScript/validate", { blobId: broken });
    assertEquals(validated.error.type, "invalidSieve");
    assertMatch(validated.error.description, /line \d+, column \d+/);
    assertEquals((await call(client, "SieveScript/validate", { blobId })).error, null);
    const refused = await call(client, "SieveScript/set", {
      create: { b: { name: "bad", blobId: broken } },
    });
    assertEquals(refused.notCreated.b.type, "invalidSieve");
    const duplicate = await call(client, "SieveScript/set", {
      create: { c: { name: "main", blobId } },
    });
    assertEquals(duplicate.notCreated.c.type, "alreadyExists");

    // Rename keeps the id; the active script cannot be destroyed.
    const renamed = await call(client, "SieveScript/set", { update: { [id]: { name: "filing" } } });
    assertEquals(renamed.updated, { [id]: null });
    const active = await call(client, "SieveScript/set", { destroy: [id] });
    assertEquals(active.notDestroyed[id].type, "sieveIsActive");
    assertEquals(await listScripts(server), ['"filing" ACTIVE']);

    // A second, inactive script, then /query.
    const other = await call(client, "SieveScript/set", {
      create: { d: { blobId: await upload(client, "keep;\r\n") } },
    });
    const otherId = other.created.d.id;
    assertEquals(other.created.d.name, "script-1");
    const byName = await call(client, "SieveScript/query", {
      sort: [{ property: "name", isAscending: true }],
    });
    assertEquals(byName.ids, [id, otherId]);
    const inactive = await call(client, "SieveScript/query", { filter: { isActive: false } });
    assertEquals(inactive.ids, [otherId]);
    const named = await call(client, "SieveScript/query", { filter: { name: "fil" } });
    assertEquals(named.ids, [id]);

    // Deactivate then destroy.
    const off = await call(client, "SieveScript/set", { onSuccessDeactivateScript: true });
    assertEquals(off.updated, { [id]: { isActive: false } });
    const gone = await call(client, "SieveScript/set", { destroy: [id] });
    assertEquals(gone.destroyed, [id]);
    assertEquals(await listScripts(server), ['"script-1"']);

    // /changes since the start: one created, the one created and destroyed left out.
    const changes = await call(client, "SieveScript/changes", { sinceState: start });
    assertEquals(changes.created, [otherId]);
    assertEquals(changes.updated, []);
    assertEquals(changes.destroyed, []);
    const since = await call(client, "SieveScript/changes", { sinceState: other.newState });
    assertEquals(since.destroyed, [id]);
    const queryChanges = await call(client, "SieveScript/queryChanges", {
      sinceQueryState: byName.queryState,
      sort: [{ property: "name", isAscending: true }],
    });
    assertEquals(queryChanges.removed, [id]);
    assertEquals(queryChanges.added, []);
  });
});

Deno.test("jmap sieve: a script activated over JMAP files delivered mail", async () => {
  await withServer(async (server) => {
    const client = await jmapClient(server);
    const [[, mailbox]] = await client.call([
      ["Mailbox/set", { accountId: client.accountId, create: { f: { name: "Filed" } } }, "0"],
    ]);
    const filedId = mailbox.created.f.id;
    const created = await call(client, "SieveScript/set", {
      create: { a: { name: "main", blobId: await upload(client, FILING) } },
      onSuccessActivateScript: "#a",
    });
    assertEquals(created.notCreated, null);
    await deliverMany(server, server.admin!.address, 2);
    const filed = await client.one("Email/query", { filter: { inMailbox: filedId } });
    assertEquals(filed.ids.length, 1);
    const [[, emails]] = await client.call([
      ["Email/get", { accountId: client.accountId, ids: filed.ids, properties: ["subject"] }, "0"],
    ]);
    assertEquals(emails.list[0].subject, "message 1");
  });
});
