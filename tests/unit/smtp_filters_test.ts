/**
 * The filter hook between acceptance and filing (src/smtp/filters.ts) through the real delivery
 * function and a real store: a filter's headers and mailbox reach the stored message, a refusal
 * stores nothing and becomes the SMTP reply, and a filter that throws loses no mail.
 */
import { assertEquals, assertMatch } from "../helpers/assert.ts";
import type { App } from "../../src/app.ts";
import { withApp } from "../helpers/app.ts";
import { deliverMessage } from "../../src/smtp/inbound_data.ts";
import type { InboundFilter } from "../../src/smtp/filters.ts";
import { logger } from "../../src/observability/log.ts";

async function withAlice(work: (app: App) => Promise<void>) {
  await withApp(async (app) => {
    await app.directory.addDomain("example.com");
    await app.directory.addAccount("alice@example.com", null);
    await work(app);
  });
}

const TRACE = {
  helo: "client.test",
  remoteAddress: "192.0.2.1",
  hostname: "mail.example.com",
  protocol: "ESMTP" as const,
  id: "t1",
};
const MESSAGE = new TextEncoder().encode("Subject: hi\r\n\r\nbody\r\n");

async function deliver(app: App, filters: InboundFilter[]) {
  return await deliverMessage(
    {
      messages: app.messages,
      directory: app.directory,
      log: logger("test"),
      filters,
      hostname: "mail.example.com",
    },
    "sender@remote.test",
    {},
    [{ address: "alice@example.com", notify: [], orcpt: null }],
    MESSAGE,
    TRACE,
  );
}

async function stored(app: App) {
  const account = (await app.store.getAccount("alice@example.com"))!;
  const mailboxes = await app.store.listMailboxes(account.id);
  return await Promise.all((await app.store.listEmails(account.id)).map(async (email) => ({
    text: new TextDecoder().decode(await app.blobs.get(email.blobHash)),
    mailbox: mailboxes.find((m) => m.id === email.memberships[0].mailboxId)?.role,
  })));
}

Deno.test("a filter's headers and mailbox reach the stored message", async () => {
  await withAlice(async (app) => {
    const seen: string[] = [];
    const result = await deliver(app, [{
      name: "spam",
      check: (input) => {
        seen.push(new TextDecoder().decode(input.message));
        return Promise.resolve({ headers: "X-Spam-Status: Yes, score=9\r\n", mailboxRole: "junk" });
      },
    }]);
    assertMatch(result.reply, /^250 /);
    assertMatch(seen[0], /^Received: from client\.test/);
    const [message] = await stored(app);
    assertEquals(message.mailbox, "junk");
    assertMatch(message.text, /^Return-Path: <sender@remote\.test>\r\n[^]*X-Spam-Status: Yes/);
  });
});

Deno.test("a filter's refusal is the reply and nothing is stored", async () => {
  await withAlice(async (app) => {
    const result = await deliver(app, [{
      name: "virus",
      check: () =>
        Promise.resolve({ reject: { code: 554, enhanced: "5.7.1", text: "Virus found" } }),
    }]);
    assertEquals(result, { reply: "554 5.7.1 Virus found\r\n", delivered: false });
    assertEquals((await stored(app)).length, 0);
  });
});

Deno.test("a filter that throws loses no mail; later filters still run", async () => {
  await withAlice(async (app) => {
    const result = await deliver(app, [
      { name: "broken", check: () => Promise.reject(new Error("boom")) },
      { name: "tagger", check: () => Promise.resolve({ headers: "X-Tag: yes\r\n" }) },
    ]);
    assertMatch(result.reply, /^250 /);
    const [message] = await stored(app);
    assertEquals(message.mailbox, "inbox");
    assertMatch(message.text, /X-Tag: yes/);
  });
});

Deno.test("a delivery asks the directory once per recipient", async () => {
  await withAlice(async (app) => {
    const asked: string[] = [];
    const resolve = app.directory.resolveRecipient.bind(app.directory);
    app.directory.resolveRecipient = (address) => {
      asked.push(address);
      return resolve(address);
    };
    const result = await deliver(app, []);
    assertEquals(result.delivered, true);
    assertEquals(asked, ["alice@example.com"]);
    assertEquals((await stored(app)).length, 1);
  });
});
