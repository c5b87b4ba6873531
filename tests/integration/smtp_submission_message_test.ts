/**
 * What authenticated submission does to a message before it is stored (RFC 6409 8, RFC 6376),
 * against the real server: From ownership (550 5.7.1, 550 5.6.0), added Date and Message-ID,
 * and two DKIM signatures (RSA and Ed25519) verified with mailauth against the public keys in
 * the database.
 */
import { DatabaseSync } from "node:sqlite";
import { Buffer } from "node:buffer";
import { authenticate } from "mailauth";
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { cli, startServer, type TestServer } from "../helpers/server.ts";
import { LineClient } from "../helpers/tls.ts";
import { messagesOf, reply as readReply, send } from "../helpers/mail.ts";

/** The published DKIM records of a domain, by "<selector>._domainkey.<domain>". */
function dkimZone(server: TestServer, domain: string): Map<string, string> {
  const db = new DatabaseSync(`${server.dir}/data/postern.db`, { readOnly: true });
  try {
    const rows = db.prepare(
      "SELECT k.selector AS selector, k.algorithm AS algorithm, k.public_key AS key " +
        "FROM dkim_keys k JOIN domains d ON d.id = k.domain_id WHERE d.name = ?",
    ).all(domain) as { selector: string; algorithm: string; key: string }[];
    return new Map(rows.map(({ selector, algorithm, key }) => [
      `${selector}._domainkey.${domain}`,
      `v=DKIM1; k=${algorithm === "rsa-sha256" ? "rsa" : "ed25519"}; p=${key}`,
    ]));
  } finally {
    db.close();
  }
}

/** Logs in on 587 as alice and submits `message` to bob; returns the reply to the data. */
async function submit(server: TestServer, message: string): Promise<string> {
  const client = await LineClient.connect(server.ports.submission);
  try {
    assertMatch(await readReply(client), /^220 /);
    await send(client, "EHLO client.test");
    assertEquals(await send(client, "STARTTLS"), "220 2.0.0 Ready to start TLS");
    await client.startTls(await Deno.readTextFile(`${server.dir}/data/tls/self-signed.crt`));
    await send(client, "EHLO client.test");
    assertEquals(
      await send(client, `AUTH PLAIN ${btoa("\0alice@example.com\0pw-alice")}`),
      "235 2.7.0 Authentication successful",
    );
    assertMatch(await send(client, "MAIL FROM:<alice@example.com>"), /^250 2\.1\.0/);
    assertMatch(await send(client, "RCPT TO:<bob@example.com>"), /^250 2\.1\.5/);
    assertMatch(await send(client, "DATA"), /^354/);
    return await send(client, `${message}\r\n.`);
  } finally {
    await client.close();
  }
}

/** The unfolded header fields above the body, as [lower-case name, value]. */
function headers(text: string): [string, string][] {
  const block = text.slice(0, text.indexOf("\r\n\r\n"));
  return block.replace(/\r\n[ \t]/g, " ").split("\r\n").map((line) => {
    const colon = line.indexOf(":");
    return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
  });
}

Deno.test("submission: From ownership, Date and Message-ID, DKIM signatures", async (t) => {
  const server = await startServer();
  try {
    for (
      const args of [
        ["account", "add", "alice@example.com", "--password", "pw-alice"],
        ["account", "add", "bob@example.com", "--password", "pw-bob"],
        ["alias", "add", "sales@example.com", "alice@example.com"],
      ]
    ) {
      const result = await cli(server.configPath, args);
      assertEquals(result.code, 0, result.stderr);
    }

    await t.step("Date and Message-ID added, signed with RSA and Ed25519, dkim=pass", async () => {
      const before = messagesOf(server, "bob@example.com").length;
      assertMatch(
        await submit(
          server,
          'From: "Alice" <alice@example.com>, sales@example.com\r\nTo: bob@example.com\r\n' +
            "Subject: signed\r\n\r\nHello Bob.\r\n",
        ),
        /^250 2\.0\.0/,
      );
      const stored = messagesOf(server, "bob@example.com");
      assertEquals(stored.length, before + 1);
      const text = stored.at(-1)!;
      const fields = headers(text);
      const names = fields.map(([name]) => name);
      // Our trace headers on top, then the signatures, then what the signatures cover.
      assertEquals(names.slice(0, 5), [
        "return-path",
        "delivered-to",
        "received",
        "dkim-signature",
        "dkim-signature",
      ]);
      assertEquals(names.filter((n) => n === "date").length, 1);
      assertEquals(names.filter((n) => n === "message-id").length, 1);
      const date = fields.find(([n]) => n === "date")![1];
      assertMatch(date, /^[A-Z][a-z]{2}, \d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d \+0000$/);
      assert(Math.abs(Date.parse(date) - Date.now()) < 60_000, date);
      assertMatch(
        fields.find(([n]) => n === "message-id")![1],
        /^<[0-9a-f]{32}@mail\.example\.com>$/,
      );

      const now = new Date();
      const month = `${now.getUTCFullYear()}${String(now.getUTCMonth() + 1).padStart(2, "0")}`;
      const signatures = fields.filter(([n]) => n === "dkim-signature").map(([, v]) => v);
      const rsa = signatures.find((s) => /\ba=rsa-sha256\b/.test(s));
      const ed = signatures.find((s) => /\ba=ed25519-sha256\b/.test(s));
      assert(rsa && ed, signatures.join("\n"));
      for (const [signature, prefix] of [[rsa, "rsa"], [ed, "ed"]]) {
        assertMatch(signature, /\bd=example\.com;/);
        assertMatch(signature, new RegExp(`\\bs=${prefix}-${month};`));
        assertMatch(signature, /\bc=relaxed\/relaxed;/);
        const h = /\bh=([^;]+)/.exec(signature)![1].replace(/\s/g, "").toLowerCase().split(":");
        for (const name of ["from", "to", "subject", "date", "message-id"]) {
          assert(h.includes(name), `${name} not signed: ${signature}`);
        }
      }

      const zone = dkimZone(server, "example.com");
      assertEquals(zone.size, 2);
      const resolver = (name: string, type: string) => {
        const record = zone.get(name.toLowerCase());
        if (type === "TXT" && record !== undefined) return Promise.resolve([[record]]);
        const error = new Error(`no ${type} for ${name}`) as Error & { code: string };
        error.code = "ENOTFOUND";
        return Promise.reject(error);
      };
      const result = await authenticate(
        Buffer.from(text),
        {
          ip: "192.0.2.1",
          helo: "mail.example.com",
          sender: "alice@example.com",
          mta: "verifier.test",
          resolver,
          disableArc: true,
          disableBimi: true,
        } as unknown as Parameters<typeof authenticate>[1],
      );
      type DkimResult = { selector: string; signingDomain: string; status: { result: string } };
      const dkim = (result as unknown as { dkim: { results: DkimResult[] } }).dkim;
      const results = dkim.results.map((r) => ({
        selector: r.selector,
        domain: r.signingDomain,
        result: r.status.result,
      }));
      assertEquals(
        results.sort((a, b) => a.selector.localeCompare(b.selector)),
        [
          { selector: `ed-${month}`, domain: "example.com", result: "pass" },
          { selector: `rsa-${month}`, domain: "example.com", result: "pass" },
        ],
      );
    });

    await t.step("existing Date and Message-ID are kept", async () => {
      assertMatch(
        await submit(
          server,
          "Date: Fri, 27 Nov 2026 10:00:00 +0000\r\nMessage-ID: <kept@client.test>\r\n" +
            "From: alice@example.com\r\nSubject: kept\r\n\r\nBody.\r\n",
        ),
        /^250 2\.0\.0/,
      );
      const fields = headers(messagesOf(server, "bob@example.com").at(-1)!);
      assertEquals(fields.filter(([n]) => n === "date").map(([, v]) => v), [
        "Fri, 27 Nov 2026 10:00:00 +0000",
      ]);
      assertEquals(fields.filter(([n]) => n === "message-id").map(([, v]) => v), [
        "<kept@client.test>",
      ]);
    });

    await t.step("From with someone else's address: 550 5.7.1, nothing stored", async () => {
      const before = messagesOf(server, "bob@example.com").length;
      assertEquals(
        await submit(
          server,
          "From: alice@example.com, Bob <bob@example.com>\r\nSubject: forged\r\n\r\nHi.\r\n",
        ),
        "550 5.7.1 From header address not owned by you",
      );
      assertEquals(messagesOf(server, "bob@example.com").length, before);
    });

    await t.step("no From header: 550 5.6.0, nothing stored", async () => {
      const before = messagesOf(server, "bob@example.com").length;
      assertEquals(
        await submit(server, "To: bob@example.com\r\nSubject: anonymous\r\n\r\nHi.\r\n"),
        "550 5.6.0 Message has no From header",
      );
      assertEquals(messagesOf(server, "bob@example.com").length, before);
    });
  } finally {
    await server.stop();
  }
});
