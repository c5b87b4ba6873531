/**
 * Every DKIM signature submission adds verifies (RSA and Ed25519), message after message: about
 * one RSA signature in several hundred made by the signer does not verify, and submission must
 * notice and sign again rather than send it (src/smtp/submission_message.ts).
 */
import { Buffer } from "node:buffer";
import { assertEquals } from "../helpers/assert.ts";
import { SqliteStore } from "../../src/store/sqlite/store.ts";
import { Directory } from "../../src/directory/directory.ts";
import { AuthLimiter } from "../../src/directory/ratelimit.ts";
import { LoginCache } from "../../src/directory/login_cache.ts";
import { dkimRecord, generateDkimKeys } from "../../src/smtp/dkim_keys.ts";
import { prepareSubmission } from "../../src/smtp/submission_message.ts";
import { logger } from "../../src/observability/log.ts";
// @ts-ignore: mailauth's subpath module has no types
import { dkimVerify } from "mailauth/lib/dkim/verify.js";

Deno.test("submission: 600 messages in a row all carry two signatures that verify", async () => {
  const dir = await Deno.makeTempDir({ prefix: "postern-dkim-sign-" });
  const store = new SqliteStore({ path: `${dir}/db.sqlite` });
  try {
    const directory = new Directory(store, {
      subAddressSeparator: "+",
      defaultQuota: 0,
      argon2: { memoryKiB: 64, iterations: 1, parallelism: 1 },
      limiter: new AuthLimiter({
        maxFailuresPerIp: 100,
        maxFailuresPerAccount: 3,
        windowSeconds: 900,
        maxDelayMs: 0,
      }),
      loginCache: new LoginCache({ ttlSeconds: 60 }),
    });
    const keys = await generateDkimKeys(new Date());
    await store.createDomain("example.com", keys);
    const account = await directory.addAccount("alice@example.com", { password: "pw-alice-1" });
    const records = new Map(
      keys.map((k) => [`${k.selector}._domainkey.example.com`, dkimRecord(k)]),
    );
    const resolver = (name: string) => {
      const record = records.get(name);
      return record
        ? Promise.resolve([[record]])
        : Promise.reject(Object.assign(new Error("no such record"), { code: "ENOTFOUND" }));
    };
    const outcomes: Record<string, number> = {};
    for (let i = 0; i < 600; i++) {
      const message = new TextEncoder().encode(
        `From: Alice <alice@example.com>\r\nTo: <bob@example.net>\r\nSubject: note ${i}\r\n` +
          `Message-ID: <${crypto.randomUUID()}@example.com>\r\n\r\nHello ${i}.\r\n`,
      );
      const prepared = await prepareSubmission({
        directory,
        log: logger("test"),
        account,
        hostname: "mail.example.com",
        session: `s${i}`,
      }, message);
      if (!prepared.ok) throw new Error(prepared.reply);
      const verified = await dkimVerify(Buffer.from(prepared.message), { resolver });
      const key = verified.results.map((r: { status: { result: string } }) => r.status.result)
        .join(",");
      outcomes[key] = (outcomes[key] ?? 0) + 1;
    }
    assertEquals(outcomes, { "pass,pass": 600 });
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});
