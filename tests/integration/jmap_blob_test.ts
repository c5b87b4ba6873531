/**
 * Blobs over the real HTTP listener: the upload and download endpoints (RFC 8620 6) and
 * Blob/upload, Blob/get and Blob/lookup (RFC 9404).
 */
import { createHash } from "node:crypto";
import { assert, assertEquals } from "../helpers/assert.ts";
import { cli, startServer, type TestServer, withServer } from "../helpers/server.ts";
import { jmapClient, type JmapTestClient, USING } from "../helpers/jmap.ts";

const BLOB = "urn:ietf:params:jmap:blob";
const WITH_BLOB = [...USING, BLOB];

async function upload(client: JmapTestClient, body: BodyInit, type: string) {
  const response = await client.fetch(`/jmap/upload/${client.accountId}/`, {
    method: "POST",
    headers: { "content-type": type },
    body,
  });
  return { status: response.status, body: await response.json() };
}

async function addAccount(server: TestServer, address: string, password: string) {
  const result = await cli(server.configPath, ["account", "add", address, "--password", password]);
  assertEquals(result.code, 0, result.stderr);
}

Deno.test("jmap blob: upload and download round trip, name, ?accept=, Range, 416", async () => {
  await withServer(async (server) => {
    const client = await jmapClient(server);
    const bytes = new TextEncoder().encode("0123456789abcdefghij");
    const uploaded = await upload(client, bytes, "text/plain; charset=utf-8");
    assertEquals(uploaded.status, 201);
    assertEquals(uploaded.body.accountId, client.accountId);
    assertEquals(uploaded.body.type, "text/plain");
    assertEquals(uploaded.body.size, 20);
    const blobId = uploaded.body.blobId;
    const path = `/jmap/download/${client.accountId}/${blobId}/notes%20%C3%A9t%C3%A9.txt`;

    const whole = await client.fetch(path);
    assertEquals(whole.status, 200);
    assertEquals(whole.headers.get("content-type"), "text/plain");
    assertEquals(
      whole.headers.get("content-disposition"),
      "attachment; filename*=UTF-8''notes%20%C3%A9t%C3%A9.txt",
    );
    assertEquals(new Uint8Array(await whole.arrayBuffer()), bytes);

    const accepted = await client.fetch(`${path}?accept=application/x-custom`);
    assertEquals(accepted.headers.get("content-type"), "application/x-custom");
    await accepted.body?.cancel();

    const ranged = await client.fetch(path, { headers: { range: "bytes=2-5" } });
    assertEquals(ranged.status, 206);
    assertEquals(ranged.headers.get("content-range"), "bytes 2-5/20");
    assertEquals(await ranged.text(), "2345");
    const suffix = await client.fetch(path, { headers: { range: "bytes=-3" } });
    assertEquals(suffix.status, 206);
    assertEquals(await suffix.text(), "hij");
    const open = await client.fetch(path, { headers: { range: "bytes=15-" } });
    assertEquals(open.headers.get("content-range"), "bytes 15-19/20");
    assertEquals(await open.text(), "fghij");

    const past = await client.fetch(path, { headers: { range: "bytes=20-30" } });
    assertEquals(past.status, 416);
    assertEquals(past.headers.get("content-range"), "bytes */20");
    await past.body?.cancel();
    const backwards = await client.fetch(path, { headers: { range: "bytes=5-2" } });
    assertEquals(backwards.status, 416);
    await backwards.body?.cancel();

    const unknown = await client.fetch(
      `/jmap/download/${client.accountId}/B${"0".repeat(64)}/x.bin`,
    );
    assertEquals(unknown.status, 404);
    await unknown.body?.cancel();
  });
});

Deno.test("jmap blob: another account can neither download nor read my blob", async () => {
  await withServer(async (server) => {
    const alice = await jmapClient(server);
    const uploaded = await upload(alice, "alice's secret", "text/plain");
    const blobId = uploaded.body.blobId;
    await addAccount(server, "bob@example.com", "bob-password-1");
    const bob = await jmapClient(server, "bob@example.com", "bob-password-1");
    assert(bob.accountId !== alice.accountId);

    const own = await bob.fetch(`/jmap/download/${bob.accountId}/${blobId}/x.txt`);
    assertEquals(own.status, 404);
    await own.body?.cancel();
    const theirs = await bob.fetch(`/jmap/download/${alice.accountId}/${blobId}/x.txt`);
    assertEquals(theirs.status, 404);
    await theirs.body?.cancel();

    const [[name, result]] = await bob.call([
      ["Blob/get", { accountId: bob.accountId, ids: [blobId] }, "0"],
    ], WITH_BLOB);
    assertEquals(name, "Blob/get");
    assertEquals(result.list, []);
    assertEquals(result.notFound, [blobId]);

    const [[, copy]] = await bob.call([
      ["Blob/upload", {
        accountId: bob.accountId,
        create: { c: { data: [{ blobId }] } },
      }, "0"],
    ], WITH_BLOB);
    assertEquals(copy.notCreated.c, { type: "blobNotFound", notFound: [blobId] });

    // The same bytes uploaded by bob are his to read.
    const mine = await upload(bob, "alice's secret", "text/plain");
    assertEquals(mine.body.blobId, blobId);
    const readable = await bob.fetch(`/jmap/download/${bob.accountId}/${blobId}/x.txt`);
    assertEquals(await readable.text(), "alice's secret");
  });
});

Deno.test("jmap blob: uploads over maxSizeUpload get 413 with the limit problem", async () => {
  await withServer(async (server) => {
    const client = await jmapClient(server);
    const session = await (await client.fetch("/jmap/session")).json();
    assertEquals(session.capabilities["urn:ietf:params:jmap:core"].maxSizeUpload, 1024);
    assertEquals(
      session.accounts[client.accountId].accountCapabilities[BLOB].maxSizeBlobSet,
      1024,
    );

    const fits = await upload(client, new Uint8Array(1024), "application/octet-stream");
    assertEquals(fits.status, 201);
    const big = await upload(client, new Uint8Array(1025), "application/octet-stream");
    assertEquals(big.status, 413);
    assertEquals(big.body.type, "urn:ietf:params:jmap:error:limit");
    assertEquals(big.body.limit, "maxSizeUpload");

    // Blob/upload has the same ceiling (maxSizeBlobSet), reached by concatenation too.
    const [[, result]] = await client.call([
      ["Blob/upload", {
        accountId: client.accountId,
        create: {
          ok: { data: [{ blobId: fits.body.blobId }] },
          big: { data: [{ blobId: fits.body.blobId }, { "data:asText": "x" }] },
        },
      }, "0"],
    ], WITH_BLOB);
    assertEquals(result.created.ok.size, 1024);
    assertEquals(result.notCreated.big.type, "tooLarge");
  }, { extra: '[jmap]\nmax_size_upload = "1K"' });
});

Deno.test("jmap blob: session advertises the blob capability with its account limits", async () => {
  await withServer(async (server) => {
    const client = await jmapClient(server);
    const session = await (await client.fetch("/jmap/session")).json();
    assertEquals(session.capabilities[BLOB], {});
    const account = session.accounts[client.accountId].accountCapabilities[BLOB];
    assertEquals(account.maxDataSources, 64);
    assertEquals(account.supportedTypeNames, ["Mailbox", "Thread", "Email"]);
    assertEquals(account.supportedDigestAlgorithms, ["sha", "sha-256"]);
    assertEquals(typeof account.maxSizeBlobSet, "number");
    assertEquals(session.primaryAccounts[BLOB], client.accountId);
    // Without the capability in `using`, the methods are unknown.
    const [[name, error]] = await client.call([
      ["Blob/get", { accountId: client.accountId, ids: [] }, "0"],
    ]);
    assertEquals([name, error.type], ["error", "unknownMethod"]);
  });
});

Deno.test("jmap blob: Blob/upload concatenates text, base64 and blob ranges, with creation ids", async () => {
  await withServer(async (server) => {
    const client = await jmapClient(server);
    const responses = await client.call([
      ["Blob/upload", {
        accountId: client.accountId,
        create: {
          fox: { data: [{ "data:asText": "The quick brown fox jumped over the lazy dog." }] },
          // A later creation of the same call may use an earlier one.
          cat: {
            type: "text/plain",
            data: [
              { "data:asText": "How" },
              { blobId: "#fox", offset: 3, length: 7 },
              { "data:asBase64": new TextEncoder().encode("was t").toBase64() },
              { blobId: "#fox", offset: 1, length: 1 },
              { "data:asBase64": "YXQ/" },
            ],
          },
        },
      }, "U"],
      ["Blob/get", {
        accountId: client.accountId,
        ids: ["#cat"],
        properties: ["data:asText", "size"],
      }, "G"],
      // …and a later call of the request.
      ["Blob/upload", {
        accountId: client.accountId,
        create: { tail: { data: [{ blobId: "#fox", offset: 40 }] } },
      }, "U2"],
      ["Blob/get", { accountId: client.accountId, ids: ["#tail"] }, "G2"],
    ], WITH_BLOB);
    const [[, uploaded], [, got], [, uploaded2], [, got2]] = responses;
    assertEquals(uploaded.notCreated, null);
    assertEquals(uploaded.created.fox.type, "application/octet-stream");
    assertEquals(uploaded.created.fox.size, 45);
    assertEquals(uploaded.created.cat.type, "text/plain");
    assertEquals(uploaded.created.cat.size, 19);
    assert(/^B[0-9a-f]{64}$/.test(uploaded.created.cat.id));
    assertEquals(got.list, [{
      id: uploaded.created.cat.id,
      "data:asText": "How quick was that?",
      size: 19,
    }]);
    assertEquals(uploaded2.created.tail.size, 5);
    // Default properties: data and size.
    assertEquals(got2.list, [{ id: uploaded2.created.tail.id, "data:asText": " dog.", size: 5 }]);

    // The result is an upload: the download endpoint serves it with its type.
    const download = await client.fetch(
      `/jmap/download/${client.accountId}/${uploaded.created.cat.id}/cat.txt`,
    );
    assertEquals(download.headers.get("content-type"), "text/plain");
    assertEquals(await download.text(), "How quick was that?");
  });
});

Deno.test("jmap blob: Blob/upload refuses bad sources, ranges and missing blobs per creation", async () => {
  await withServer(async (server) => {
    const client = await jmapClient(server);
    const [[, base]] = await client.call([
      ["Blob/upload", {
        accountId: client.accountId,
        create: { b: { data: [{ "data:asText": "0123456789" }] } },
      }, "0"],
    ], WITH_BLOB);
    const blobId = base.created.b.id;
    const missing = `B${"1".repeat(64)}`;
    const [[, result]] = await client.call([
      ["Blob/upload", {
        accountId: client.accountId,
        create: {
          two: { data: [{ "data:asText": "a", "data:asBase64": "YQ==" }] },
          none: { data: [{}] },
          badBase64: { data: [{ "data:asBase64": "!!!" }] },
          offsetPast: { data: [{ blobId, offset: 11 }] },
          lengthPast: { data: [{ blobId, offset: 5, length: 6 }] },
          negative: { data: [{ blobId, offset: -1 }] },
          textWithOffset: { data: [{ "data:asText": "a", offset: 1 }] },
          noList: { data: "abc" },
          extra: { data: [], colour: "red" },
          badType: { data: [], type: 42 },
          missing: { data: [{ blobId: missing }, { blobId: "#nope" }, { blobId }] },
          tooMany: { data: Array.from({ length: 65 }, () => ({ "data:asText": "x" })) },
          empty: { data: [] },
          exact: { data: [{ blobId, offset: 10 }, { blobId, offset: 4, length: 6 }] },
        },
      }, "0"],
    ], WITH_BLOB);
    const errors = result.notCreated;
    for (const id of ["two", "none", "badBase64", "offsetPast", "lengthPast", "negative"]) {
      assertEquals(errors[id].type, "invalidProperties", id);
      assertEquals(errors[id].properties, ["data/0"], id);
    }
    assertEquals(errors.textWithOffset.properties, ["data/0"]);
    assertEquals(errors.noList.properties, ["data"]);
    assertEquals(errors.extra.properties, ["colour"]);
    assertEquals(errors.badType.properties, ["type"]);
    assertEquals(errors.missing.type, "blobNotFound");
    assertEquals(errors.missing.notFound, [missing, "#nope"]);
    assertEquals(errors.tooMany.type, "tooLarge");
    assertEquals(Object.keys(result.created).sort(), ["empty", "exact"]);
    assertEquals(result.created.empty.size, 0);
    assertEquals(result.created.exact.size, 6);
  });
});

Deno.test("jmap blob: Blob/get ranges, truncation, encodings and digests", async () => {
  await withServer(async (server) => {
    const client = await jmapClient(server);
    const text = "The quick brown fox jumped over the lazy dog!";
    const binary = Uint8Array.from([0x41, 0xff, 0xfe, 0x42]);
    const [[, made]] = await client.call([
      ["Blob/upload", {
        accountId: client.accountId,
        create: {
          text: { data: [{ "data:asText": text }] },
          binary: { data: [{ "data:asBase64": binary.toBase64() }] },
          euro: { data: [{ "data:asText": "€" }] },
        },
      }, "0"],
    ], WITH_BLOB);
    const textId = made.created.text.id;
    const binaryId = made.created.binary.id;
    const euroId = made.created.euro.id;
    const digest = (algorithm: string, data: Uint8Array | string) =>
      createHash(algorithm).update(data).digest("base64");

    const [[, ranged]] = await client.call([
      ["Blob/get", {
        accountId: client.accountId,
        ids: [textId, "not-a-blob", `B${"2".repeat(64)}`],
        properties: ["data:asText", "data:asBase64", "digest:sha", "digest:sha-256", "size"],
        offset: 4,
        length: 9,
      }, "0"],
    ], WITH_BLOB);
    assertEquals(ranged.accountId, client.accountId);
    assertEquals(ranged.list, [{
      id: textId,
      "data:asText": "quick bro",
      "data:asBase64": new TextEncoder().encode("quick bro").toBase64(),
      "digest:sha": digest("sha1", "quick bro"),
      "digest:sha-256": digest("sha256", "quick bro"),
      size: 45,
    }]);
    assertEquals(ranged.notFound, ["not-a-blob", `B${"2".repeat(64)}`]);

    const [[, truncated], [, past]] = await client.call([
      ["Blob/get", {
        accountId: client.accountId,
        ids: [textId],
        properties: ["data:asText"],
        offset: 40,
        length: 10,
      }, "0"],
      ["Blob/get", {
        accountId: client.accountId,
        ids: [textId],
        properties: ["data:asText", "size"],
        offset: 100,
      }, "1"],
    ], WITH_BLOB);
    assertEquals(truncated.list, [{ id: textId, "data:asText": " dog!", isTruncated: true }]);
    assertEquals(past.list, [{ id: textId, "data:asText": "", size: 45, isTruncated: true }]);

    const [[, binaryGet], [, cutEuro]] = await client.call([
      ["Blob/get", {
        accountId: client.accountId,
        ids: [binaryId],
        properties: ["data", "data:asText", "size"],
      }, "0"],
      // Cutting a multi-octet character is an encoding problem too.
      ["Blob/get", {
        accountId: client.accountId,
        ids: [euroId],
        properties: ["data"],
        length: 2,
      }, "1"],
    ], WITH_BLOB);
    assertEquals(binaryGet.list, [{
      id: binaryId,
      "data:asText": null,
      "data:asBase64": binary.toBase64(),
      isEncodingProblem: true,
      size: 4,
    }]);
    assertEquals(cutEuro.list, [{
      id: euroId,
      "data:asBase64": Uint8Array.from([0xe2, 0x82]).toBase64(),
      isEncodingProblem: true,
    }]);

    const [[name, error]] = await client.call([
      ["Blob/get", { accountId: client.accountId, ids: [textId], properties: ["digest:md5"] }, "0"],
    ], WITH_BLOB);
    assertEquals([name, error.type], ["error", "invalidArguments"]);
  });
});

Deno.test("jmap blob: Blob/lookup finds the emails, threads and mailboxes that use a blob", async () => {
  await withServer(async (server) => {
    const client = await jmapClient(server);
    const message = [
      `From: Sender <sender@example.net>`,
      `To: ${server.admin!.address}`,
      "Subject: lookup",
      "Message-ID: <lookup-1@example.net>",
      "MIME-Version: 1.0",
      "Content-Type: text/plain; charset=utf-8",
      "",
      "Hello there.",
      "",
    ].join("\r\n");
    const delivered = await cli(server.configPath, ["deliver", server.admin!.address], message);
    assertEquals(delivered.code, 0, delivered.stderr);
    const [[, emails]] = await client.call([
      ["Email/get", {
        accountId: client.accountId,
        ids: null,
        properties: ["blobId", "threadId", "mailboxIds", "textBody"],
      }, "0"],
    ]);
    assertEquals(emails.list.length, 1);
    const email = emails.list[0];
    const partBlobId = email.textBody[0].blobId;
    const mailboxIds = Object.keys(email.mailboxIds);
    const uploaded = await upload(client, "not in any email", "text/plain");

    const [[, lookup]] = await client.call([
      ["Blob/lookup", {
        accountId: client.accountId,
        typeNames: ["Mailbox", "Thread", "Email"],
        ids: [email.blobId, partBlobId, uploaded.body.blobId, "not-a-blob", `B${"3".repeat(64)}`],
      }, "0"],
    ], WITH_BLOB);
    const expected = { Mailbox: mailboxIds, Thread: [email.threadId], Email: [email.id] };
    assertEquals(lookup.list, [
      { id: email.blobId, matchedIds: expected },
      { id: partBlobId, matchedIds: expected },
      { id: uploaded.body.blobId, matchedIds: { Mailbox: [], Thread: [], Email: [] } },
    ]);
    assertEquals(lookup.notFound, ["not-a-blob", `B${"3".repeat(64)}`]);

    // Another account sees none of it.
    await addAccount(server, "carol@example.com", "carol-password-1");
    const carol = await jmapClient(server, "carol@example.com", "carol-password-1");
    const [[, theirs]] = await carol.call([
      [
        "Blob/lookup",
        { accountId: carol.accountId, typeNames: ["Email"], ids: [email.blobId] },
        "0",
      ],
    ], WITH_BLOB);
    assertEquals(theirs.list, []);
    assertEquals(theirs.notFound, [email.blobId]);

    const [[unknownName, unknown], [noMailName, noMail]] = await client.call([
      ["Blob/lookup", { accountId: client.accountId, typeNames: ["Calendar"], ids: [] }, "0"],
      ["Blob/lookup", { accountId: client.accountId, typeNames: ["Email"], ids: [] }, "1"],
    ], ["urn:ietf:params:jmap:core", BLOB]);
    assertEquals([unknownName, unknown.type], ["error", "unknownDataType"]);
    assertEquals([noMailName, noMail.type], ["error", "unknownDataType"]);
  });
});

Deno.test("jmap blob: an upload past [jmap] upload_ttl is gone after a restart", async () => {
  const first = await startServer({ extra: '[jmap]\nupload_ttl = "1s"' });
  const admin = first.admin!;
  let blobId: string;
  let accountId: string;
  try {
    const client = await jmapClient(first);
    accountId = client.accountId;
    blobId = (await upload(client, "short-lived", "text/plain")).body.blobId;
    const fresh = await client.fetch(`/jmap/download/${accountId}/${blobId}/x.txt`);
    assertEquals(await fresh.text(), "short-lived");
  } finally {
    await first.stop();
  }
  // Past its expiry (1 s), the next start drops it.
  await new Promise((resolve) => setTimeout(resolve, 1100));
  await withServer(async (server) => {
    const client = await jmapClient(server, admin.address, admin.password);
    const [[, got]] = await client.call([
      ["Blob/get", { accountId, ids: [blobId] }, "0"],
    ], WITH_BLOB);
    assertEquals(got.notFound, [blobId]);
    const gone = await client.fetch(`/jmap/download/${accountId}/${blobId}/x.txt`);
    assertEquals(gone.status, 404);
    await gone.body?.cancel();
  }, { dir: first.dir, configPath: first.configPath });
});
