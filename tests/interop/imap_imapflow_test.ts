/**
 * Interop: imapflow (Node's most used IMAP client library) against the real server process over
 * IMAPS, verifying the server's certificate: LIST with special-use roles, ENVELOPE and BODY[]
 * fetches, a CONDSTORE/QRESYNC resync after another session changed flags and expunged (both as
 * SELECT … (QRESYNC …) and as UID FETCH … (CHANGEDSINCE … VANISHED)), and IDLE woken by
 * `postern deliver`. imapflow comes from npm (pinned in deno.json); nothing to install.
 */
// Pinned here rather than in deno.json: only this interop test uses it.
import { ImapFlow, type ImapFlowOptions } from "imapflow";
import { assert, assertEquals } from "../helpers/assert.ts";
import { cli, startServer, type TestServer } from "../helpers/server.ts";
import { cliAll, messagesOf } from "../helpers/mail.ts";

const USER = "alice@example.com";
const PASSWORD = "pw-alice";

function message(subject: string): string {
  return `From: Bob Example <bob@example.org>\r\nTo: Alice <${USER}>\r\nSubject: ${subject}\r\n` +
    `Message-ID: <${subject.replaceAll(" ", "-")}@example.org>\r\n` +
    `Date: Mon, 02 Mar 2026 10:00:00 +0000\r\n\r\nBody of ${subject}.\r\n`;
}

async function deliver(server: TestServer, subject: string): Promise<void> {
  const result = await cli(server.configPath, ["deliver", USER], message(subject));
  assertEquals(result.code, 0, result.stderr);
}

interface Expunged {
  uid?: number;
  seq?: number;
  vanished: boolean;
  earlier?: boolean;
}

/** A connected imapflow client that verifies the server certificate and records expunges. */
async function connect(
  server: TestServer,
  options: Partial<ImapFlowOptions> = {},
): Promise<{ client: ImapFlow; expunged: Expunged[] }> {
  const expunged: Expunged[] = [];
  const client = new ImapFlow({
    host: "localhost",
    port: server.ports.imaps,
    secure: true,
    tls: {
      ca: await Deno.readTextFile(`${server.dir}/data/tls/self-signed.crt`),
      rejectUnauthorized: true,
    },
    auth: { user: USER, pass: PASSWORD },
    logger: false,
    qresync: true,
    disableAutoIdle: true,
    expungeHandler: (event: Expunged) => {
      expunged.push(event);
      return Promise.resolve();
    },
    ...options,
  });
  await client.connect();
  return { client, expunged };
}

async function withServer(body: (server: TestServer) => Promise<void>): Promise<void> {
  const server = await startServer();
  try {
    await cliAll(server, [["account", "add", USER, "--password", PASSWORD]]);
    await body(server);
  } finally {
    await server.stop();
  }
}

Deno.test("imapflow: LIST, envelopes and BODY[] over TLS", async () => {
  await withServer(async (server) => {
    for (const subject of ["first", "second", "third"]) await deliver(server, subject);
    const { client } = await connect(server);
    try {
      assert(client.capabilities.has("QRESYNC"), [...client.capabilities.keys()].join(" "));
      assert(client.enabled.has("QRESYNC") && client.enabled.has("CONDSTORE"));

      const list = await client.list();
      const roles = Object.fromEntries(list.map((box) => [box.path, box.specialUse ?? ""]));
      assertEquals(roles, {
        INBOX: "\\Inbox",
        Archive: "\\Archive",
        Drafts: "\\Drafts",
        Junk: "\\Junk",
        Sent: "\\Sent",
        Trash: "\\Trash",
      });
      for (const box of list) {
        if (box.path !== "INBOX") assertEquals(box.specialUseSource, "extension", box.path);
        assertEquals(box.delimiter, "/");
      }

      const inbox = await client.mailboxOpen("INBOX");
      assertEquals([inbox.exists, inbox.uidNext, inbox.readOnly], [3, 4, false]);
      assert(typeof inbox.highestModseq === "bigint" && inbox.highestModseq > 0n);

      const envelopes = [];
      for await (const msg of client.fetch("1:*", { uid: true, envelope: true, flags: true })) {
        envelopes.push({
          uid: msg.uid,
          flags: [...msg.flags ?? []],
          subject: msg.envelope?.subject,
          from: msg.envelope?.from,
          to: msg.envelope?.to,
          messageId: msg.envelope?.messageId,
          date: new Date(msg.envelope?.date ?? 0).toISOString(),
        });
      }
      assertEquals(
        envelopes,
        ["first", "second", "third"].map((subject, i) => ({
          uid: i + 1,
          flags: [],
          subject,
          from: [{ name: "Bob Example", address: "bob@example.org" }],
          to: [{ name: "Alice", address: USER }],
          messageId: `<${subject}@example.org>`,
          date: "2026-03-02T10:00:00.000Z",
        })),
      );

      // BODY[] is the stored message, byte for byte (delivery adds its trace header fields on
      // top; messagesOf reads what is stored).
      const stored = messagesOf(server, USER);
      const one = await client.fetchOne("2", { source: true }, { uid: true });
      assert(one !== false);
      assertEquals(new TextDecoder().decode(one.source), stored[1]);
      assert(stored[1].endsWith(message("second")), stored[1]);
    } finally {
      await client.logout();
    }
  });
});

Deno.test("imapflow: CONDSTORE/QRESYNC resync sees another session's flag change and expunge", async () => {
  await withServer(async (server) => {
    for (const subject of ["one", "two", "three", "four"]) await deliver(server, subject);

    // First sync: remember UIDVALIDITY and HIGHESTMODSEQ, then go offline.
    const first = await connect(server);
    const state = await first.client.mailboxOpen("INBOX");
    const { uidValidity, highestModseq } = state;
    assert(highestModseq !== undefined);
    await first.client.logout();

    // Another session flags UID 2 and expunges UID 3 (UID EXPUNGE, as imapflow does with
    // UIDPLUS), then adds a keyword to UID 4. Keywords are case-insensitive (RFC 9051 2.3.2) and
    // Postern stores and shows them in lower case, as JMAP keywords (src/imap/flags.ts).
    const other = await connect(server);
    await other.client.mailboxOpen("INBOX");
    assert(await other.client.messageFlagsAdd("2", ["\\Flagged"], { uid: true }));
    assert(await other.client.messageDelete("3", { uid: true }));
    assert(await other.client.messageFlagsAdd("4", ["$Important"], { uid: true }));
    await other.client.logout();

    // Resync through SELECT INBOX (QRESYNC (uidvalidity modseq)): a VANISHED (EARLIER) for UID
    // 3 and FETCH FLAGS for UIDs 2 and 4, nothing for UID 1.
    const again = await connect(server);
    const flags: { uid?: number; flags: string[] }[] = [];
    again.client.on("flags", (event) => flags.push({ uid: event.uid, flags: [...event.flags] }));
    try {
      const box = await again.client.mailboxOpen(
        "INBOX",
        {
          uidValidity,
          changedSince: highestModseq,
        } as Parameters<ImapFlow["mailboxOpen"]>[1],
      );
      assertEquals(box.uidValidity, uidValidity);
      assertEquals(box.exists, 3);
      assert(box.highestModseq! > highestModseq, `${box.highestModseq} > ${highestModseq}`);
      assertEquals(again.expunged, [{ path: "INBOX", uid: 3, vanished: true, earlier: true }]);
      assertEquals(
        flags.sort((a, b) => a.uid! - b.uid!),
        [{ uid: 2, flags: ["\\Flagged"] }, { uid: 4, flags: ["$Important"] }],
      );

      // The same through UID FETCH 1:* (FLAGS) (CHANGEDSINCE modseq VANISHED).
      again.expunged.length = 0;
      const changed = [];
      for await (
        const msg of again.client.fetch("1:*", { uid: true, flags: true }, {
          uid: true,
          changedSince: highestModseq,
        })
      ) {
        changed.push({
          uid: msg.uid,
          flags: [...msg.flags ?? []],
          newer: msg.modseq! > highestModseq,
        });
      }
      assertEquals(changed, [
        { uid: 2, flags: ["\\Flagged"], newer: true },
        { uid: 4, flags: ["$Important"], newer: true },
      ]);
      assertEquals(again.expunged, [{ path: "INBOX", uid: 3, vanished: true, earlier: true }]);

      // Nothing changed since the new HIGHESTMODSEQ: an empty resync.
      again.expunged.length = 0;
      const none = [];
      for await (
        const msg of again.client.fetch("1:*", { uid: true, flags: true }, {
          uid: true,
          changedSince: box.highestModseq!,
        })
      ) none.push(msg.uid);
      assertEquals([none, again.expunged], [[], []]);
    } finally {
      await again.client.logout();
    }
  });
});

Deno.test("imapflow: IDLE is woken by postern deliver", async () => {
  await withServer(async (server) => {
    await deliver(server, "before");
    const { client } = await connect(server);
    try {
      await client.mailboxOpen("INBOX");
      const exists = new Promise<{ count: number; prevCount: number }>((resolve) =>
        client.once(
          "exists",
          (event) => resolve({ count: event.count, prevCount: event.prevCount }),
        )
      );
      const idle = client.idle();
      // Let IDLE reach the server before the delivery.
      await new Promise((r) => setTimeout(r, 200));
      await deliver(server, "during idle");
      const delivered = Date.now();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const event = await Promise.race([
        exists,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error("no EXISTS within 5 s of delivery")), 5000);
        }),
      ]).finally(() => clearTimeout(timer));
      const wokenAfter = Date.now() - delivered;
      assertEquals(event, { count: 2, prevCount: 1 });
      assert(wokenAfter < 1000, `EXISTS ${wokenAfter} ms after delivery`);
      // The next command ends IDLE (DONE); the new message is there to fetch.
      const msg = await client.fetchOne("2", { envelope: true, uid: true });
      assert(msg !== false);
      assertEquals([msg.uid, msg.envelope?.subject], [2, "during idle"]);
      await idle;
    } finally {
      await client.logout();
    }
  });
});
