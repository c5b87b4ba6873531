/**
 * Inbound sender authentication against the real server and a loopback DNS server: SPF, DKIM
 * (RSA and Ed25519 keys published in the zone), DMARC policies (reject, quarantine), iprev, and
 * removal of forged Authentication-Results carrying our authserv-id. Asserts on SMTP replies and
 * on the stored bytes and mailboxes, read from the database and the blob files.
 */
import { DatabaseSync } from "node:sqlite";
import { generateKeyPairSync } from "node:crypto";
import { Buffer } from "node:buffer";
import { dkimSign } from "mailauth/lib/dkim/sign.js";
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { cli, startServer, type TestServer } from "../helpers/server.ts";
import { startDnsServer, type Zone } from "../helpers/dns_server.ts";
import { LineClient } from "../helpers/tls.ts";
import { blobPath, reply, send } from "../helpers/mail.ts";

const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const ed = generateKeyPairSync("ed25519");
const rsaPem = rsa.privateKey.export({ type: "pkcs8", format: "pem" }) as string;
const edPem = ed.privateKey.export({ type: "pkcs8", format: "pem" }) as string;

function publicKeyRecord(key: typeof rsa.publicKey, type: "rsa" | "ed25519"): string {
  const der = key.export({ type: "spki", format: "der" }) as Buffer;
  // RFC 8463 3: an Ed25519 p= is the bare 32-byte key, not the SPKI structure.
  const raw = type === "ed25519" ? der.subarray(der.length - 32) : der;
  return `v=DKIM1; k=${type}; p=${raw.toString("base64")}`;
}

const ZONE: Zone = {
  "signed.test": { TXT: ["v=spf1 ip4:127.0.0.1 -all"] },
  "rsa._domainkey.signed.test": { TXT: [publicKeyRecord(rsa.publicKey, "rsa")] },
  "ed._domainkey.signed.test": { TXT: [publicKeyRecord(ed.publicKey, "ed25519")] },
  "_dmarc.signed.test": { TXT: ["v=DMARC1; p=reject"] },
  // SPF excludes 127.0.0.1 and nothing is signed: DMARC fails.
  "reject.test": { TXT: ["v=spf1 ip4:192.0.2.1 -all"] },
  "_dmarc.reject.test": { TXT: ["v=DMARC1; p=reject"] },
  "quarantine.test": { TXT: ["v=spf1 ip4:192.0.2.1 -all"] },
  "_dmarc.quarantine.test": { TXT: ["v=DMARC1; p=quarantine"] },
  // The name server fails for this domain: SPF temperror, and the message is delivered.
  "broken.test": { SERVFAIL: true },
  "1.0.0.127.in-addr.arpa": { PTR: ["client.signed.test"] },
  "client.signed.test": { A: ["127.0.0.1"] },
};

/** The stored messages of an account with the role of each mailbox holding them. */
function storedOf(server: TestServer, address: string): { text: string; roles: string[] }[] {
  const db = new DatabaseSync(`${server.dir}/data/postern.db`, { readOnly: true });
  try {
    const rows = db.prepare(
      "SELECT e.blob_hash AS hash, group_concat(coalesce(m.role, m.name)) AS roles " +
        "FROM emails e JOIN principals p ON p.id = e.account_id " +
        "JOIN mailbox_messages mm ON mm.email_id = e.id JOIN mailboxes m ON m.id = mm.mailbox_id " +
        "WHERE p.name = ? GROUP BY e.id ORDER BY e.id",
    ).all(address) as { hash: string; roles: string }[];
    return rows.map(({ hash, roles }) => ({
      text: Deno.readTextFileSync(blobPath(server.dir, hash)),
      roles: roles.split(","),
    }));
  } finally {
    db.close();
  }
}

/** One SMTP transaction from 127.0.0.1; returns the reply to the end of DATA. */
async function deliver(server: TestServer, from: string, message: string): Promise<string> {
  const client = await LineClient.connect(server.ports.smtp);
  try {
    assertMatch(await reply(client), /^220 /);
    assertMatch(await send(client, "EHLO client.signed.test"), /^250/);
    assertMatch(await send(client, `MAIL FROM:<${from}>`), /^250 2\.1\.0/);
    assertMatch(await send(client, "RCPT TO:<alice@example.com>"), /^250 2\.1\.5/);
    assertMatch(await send(client, "DATA"), /^354/);
    // Every message here ends in CR LF; the dot line completes the terminator.
    return await send(client, `${message.replace(/\r\n\./g, "\r\n..")}.`);
  } finally {
    await client.close();
  }
}

function plain(from: string, subject: string, extra = ""): string {
  return `${extra}From: <${from}>\r\nTo: <alice@example.com>\r\nSubject: ${subject}\r\n` +
    `Message-ID: <${crypto.randomUUID()}@test>\r\nDate: ${new Date().toUTCString()}\r\n\r\n` +
    `Body of ${subject}.\r\n`;
}

Deno.test("inbound SMTP: Authentication-Results and DMARC policies", async (t) => {
  const dns = await startDnsServer(ZONE);
  const server = await startServer({ dns: `${dns.host}:${dns.port}` });
  try {
    const added = await cli(server.configPath, [
      "account",
      "add",
      "alice@example.com",
      "--password",
      "pw-alice",
    ]);
    assertEquals(added.code, 0, added.stderr);

    await t.step("DKIM-signed (RSA and Ed25519) mail passes SPF, DKIM, DMARC, iprev", async () => {
      const message = plain("news@signed.test", "signed");
      const signed = await dkimSign(message, {
        canonicalization: "relaxed/relaxed",
        signatureData: [
          { signingDomain: "signed.test", selector: "rsa", privateKey: rsaPem },
          {
            signingDomain: "signed.test",
            selector: "ed",
            privateKey: edPem,
            algorithm: "ed25519-sha256",
          },
        ],
      });
      assertEquals(signed.errors, []);
      assertMatch(await deliver(server, "news@signed.test", signed.signatures + message), /^250 /);
      const stored = storedOf(server, "alice@example.com");
      assertEquals(stored.length, 1);
      assertEquals(stored[0].roles, ["inbox"]);
      const text = stored[0].text;
      // Return-Path, Delivered-To (one recipient), our Received, then our Authentication-Results and Received-SPF.
      assertMatch(
        text,
        /^Return-Path: <news@signed\.test>\r\nDelivered-To: <[^>]+>\r\nReceived: [^]*?\r\nAuthentication-Results: mail\.example\.com;\r\n /,
      );
      const ar = /^Authentication-Results: mail\.example\.com;((?:\r\n[ \t].*)*)/m.exec(text)?.[1];
      assert(ar, text);
      assertMatch(ar, /spf=pass [^;]*smtp\.mailfrom=news@signed\.test/);
      assertMatch(ar, /dkim=pass [^;]*header\.i=@signed\.test header\.s=rsa/);
      assertMatch(
        ar,
        /dkim=pass [^;]*header\.i=@signed\.test header\.s=ed header\.a=ed25519-sha256/,
      );
      assertMatch(ar, /dmarc=pass [^;]*header\.from=signed\.test/);
      assertMatch(ar, /iprev=pass policy\.iprev=127\.0\.0\.1 \(client\.signed\.test\)/);
      assertMatch(text, /^Received-SPF: pass /m);
      assertEquals((text.match(/^Authentication-Results:/gim) ?? []).length, 1);
    });

    await t.step("a tampered signature fails DKIM; SPF alone still aligns DMARC", async () => {
      const message = plain("news@signed.test", "tampered");
      const signed = await dkimSign(message, {
        signatureData: [{
          signingDomain: "signed.test",
          selector: "rsa",
          privateKey: rsaPem,
        }],
      });
      assertEquals(signed.errors, []);
      const body = signed.signatures + message.replace("Body of", "Altered body of");
      assertMatch(await deliver(server, "news@signed.test", body), /^250 /);
      const text = storedOf(server, "alice@example.com").at(-1)!.text;
      assertMatch(text, /dkim=neutral \(body hash did not verify\)[^;]*header\.s=rsa/);
      assertMatch(text, /dmarc=pass /);
    });

    await t.step(
      "p=reject with failing SPF and no signature: 550 5.7.1, nothing stored",
      async () => {
        const before = storedOf(server, "alice@example.com").length;
        const answer = await deliver(server, "ceo@reject.test", plain("ceo@reject.test", "forged"));
        assertEquals(answer, "550 5.7.1 Rejected by DMARC policy of reject.test");
        assertEquals(storedOf(server, "alice@example.com").length, before);
      },
    );

    await t.step("p=quarantine failure is filed into Junk, not INBOX", async () => {
      const answer = await deliver(
        server,
        "promo@quarantine.test",
        plain("promo@quarantine.test", "quarantined"),
      );
      assertMatch(answer, /^250 /);
      const last = storedOf(server, "alice@example.com").at(-1)!;
      assertMatch(last.text, /Subject: quarantined/);
      assertEquals(last.roles, ["junk"]);
      assertMatch(last.text, /spf=fail /);
      assertMatch(last.text, /dmarc=fail [^;]*header\.from=quarantine\.test/);
    });

    await t.step("a DNS failure gives temperror and the message is still delivered", async () => {
      const answer = await deliver(server, "ops@broken.test", plain("ops@broken.test", "dnsfail"));
      assertMatch(answer, /^250 /);
      const last = storedOf(server, "alice@example.com").at(-1)!;
      assertMatch(last.text, /Subject: dnsfail/);
      assertEquals(last.roles, ["inbox"]);
      assertMatch(last.text, /^Authentication-Results: mail\.example\.com;[^]*spf=temperror /m);
    });

    await t.step("forged Authentication-Results with our authserv-id are removed", async () => {
      const forged =
        "Authentication-Results: mail.example.com;\r\n dkim=pass header.d=bank.test\r\n" +
        "Authentication-Results: (comment) MAIL.EXAMPLE.COM; spf=pass\r\n" +
        "Authentication-Results: other.example.net; spf=pass smtp.mailfrom=x@other.test\r\n";
      const answer = await deliver(
        server,
        "news@signed.test",
        plain("news@signed.test", "forged-ar", forged),
      );
      assertMatch(answer, /^250 /);
      const text = storedOf(server, "alice@example.com").at(-1)!.text;
      assertMatch(text, /Subject: forged-ar/);
      assertEquals((text.match(/^Authentication-Results: mail\.example\.com;/gim) ?? []).length, 1);
      assert(!text.includes("header.d=bank.test"), text);
      assert(!/^Authentication-Results: \(comment\)/im.test(text), text);
      assertMatch(
        text,
        /\r\nAuthentication-Results: other\.example\.net; spf=pass smtp\.mailfrom=x@other\.test\r\nFrom: /,
      );
    });
  } finally {
    await server.stop();
    await dns.close();
    await Deno.remove(server.dir, { recursive: true });
  }
});

Deno.test('[smtp] dmarc_quarantine = "inbox" delivers quarantined mail to INBOX', async () => {
  const dns = await startDnsServer(ZONE);
  const server = await startServer({
    dns: `${dns.host}:${dns.port}`,
    extra: `[smtp]\ndmarc_quarantine = "inbox"\n`,
  });
  try {
    const added = await cli(server.configPath, [
      "account",
      "add",
      "alice@example.com",
      "--password",
      "pw",
    ]);
    assertEquals(added.code, 0, added.stderr);
    const answer = await deliver(
      server,
      "promo@quarantine.test",
      plain("promo@quarantine.test", "kept in inbox"),
    );
    assertMatch(answer, /^250 /);
    const last = storedOf(server, "alice@example.com").at(-1)!;
    assertMatch(last.text, /Subject: kept in inbox/);
    assertEquals(last.roles, ["inbox"]);
    assertMatch(last.text, /dmarc=fail /);
  } finally {
    await server.stop();
    await dns.close();
    await Deno.remove(server.dir, { recursive: true });
  }
});
