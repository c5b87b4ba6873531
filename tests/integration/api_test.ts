/**
 * The management API (/api) of the real server over real HTTP: an administrator adds a domain,
 * reads its DNS records, creates an account that then logs in over IMAP, resets its password
 * (the old one stops working), disables it, manages aliases and API tokens, and works the
 * outbound queue (list, show, retry, delete) with a message a remote host keeps deferring.
 * Non-administrators get 403, missing credentials 401, bad bodies 400/413/415, unknown paths a
 * JSON 404.
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { cli, startServer, withServer } from "../helpers/server.ts";
import { startDnsServer } from "../helpers/dns_server.ts";
import { startSmtpPeer } from "../helpers/smtp_peer.ts";
import { imapLogin, submit } from "../helpers/mail.ts";
import { eventually } from "../helpers/tls.ts";
import { admin, api } from "../helpers/api.ts";

Deno.test("api: domains, DNS records, accounts over IMAP, password reset, aliases, tokens", async () => {
  await withServer(async (server) => {
    const root = admin(server);

    const anonymous = await api(server, null, "GET", "/api/domains");
    assertEquals(anonymous.status, 401);
    assertEquals(anonymous.body.error?.type, "unauthorized");
    assertMatch(anonymous.headers.get("www-authenticate") ?? "", /Basic realm=/);
    const wrong = await api(server, { user: root.user, password: "wrong" }, "GET", "/api/status");
    assertEquals(wrong.status, 401);

    const status = await api(server, root, "GET", "/api/status");
    assertEquals(status.status, 200, JSON.stringify(status.body));
    assertEquals(status.headers.get("cache-control"), "no-store");
    const listeners = status.body.listeners as { service: string; port: number }[];
    assert(listeners.some((l) => l.service === "http" && l.port === server.ports.http));
    assert(listeners.some((l) => l.service === "imaps" && l.port === server.ports.imaps));
    const [certificate] = status.body.certificates as { selfSigned: boolean; daysLeft: number }[];
    assertEquals(certificate.selfSigned, true);
    assert(certificate.daysLeft > 0, JSON.stringify(certificate));
    assertEquals(status.body.domains, 1);

    // Domains and their DNS records.
    const created = await api(server, root, "POST", "/api/domains", {
      json: { name: "Example.ORG" },
    });
    assertEquals(created.status, 201, JSON.stringify(created.body));
    assertEquals(created.body.name, "example.org");
    const selectors = created.body.dkimSelectors as string[];
    assert(selectors.length > 0);
    assertEquals(
      (await api(server, root, "POST", "/api/domains", { json: { name: "example.org" } })).status,
      409,
    );
    const domains = await api(server, root, "GET", "/api/domains");
    assertEquals(
      (domains.body.domains as { name: string }[]).map((d) => d.name).sort(),
      ["example.com", "example.org"],
    );
    const dns = await api(server, root, "GET", "/api/domains/example.org/dns");
    assertEquals(dns.status, 200);
    const records = dns.body.records as { name: string; type: string; value: string }[];
    const find = (name: string, type: string) =>
      records.find((r) => r.name === name && r.type === type)?.value;
    assertEquals(find("example.org", "MX"), "10 mail.example.com.");
    assertEquals(find("example.org", "TXT"), '"v=spf1 mx -all"');
    assertMatch(find(`${selectors[0]}._domainkey.example.org`, "TXT") ?? "", /v=DKIM1; .*p=/);
    assertMatch(find("_imaps._tcp.example.org", "SRV") ?? "", / mail\.example\.com\.$/);
    assertMatch(find("_dmarc.example.org", "TXT") ?? "", /v=DMARC1/);
    assertMatch(String(dns.body.zone), /^example\.org\.\t3600\tIN\tMX\t10 mail\.example\.com\.$/m);
    assertEquals((await api(server, root, "GET", "/api/domains/nowhere.test/dns")).status, 404);

    // An account works over IMAP; a password reset makes the old password fail.
    const carol = { user: "carol@example.org", password: "first pass" };
    const account = await api(server, root, "POST", "/api/accounts", {
      json: { address: carol.user, password: carol.password, displayName: "Carol", quota: "10M" },
    });
    assertEquals(account.status, 201, JSON.stringify(account.body));
    assertEquals(account.body.quota, 10 * 1024 * 1024);
    assertEquals(account.body.displayName, "Carol");
    assertEquals(
      (await api(server, root, "POST", "/api/accounts", {
        json: { address: carol.user, password: "x" },
      }))
        .status,
      409,
    );
    const noDomain = await api(server, root, "POST", "/api/accounts", {
      json: { address: "dave@nowhere.test", password: "x" },
    });
    assertEquals(noDomain.status, 404);
    assertMatch(await imapLogin(server, carol.user, carol.password), /^a1 OK/);

    const reset = await api(server, root, "PATCH", `/api/accounts/${carol.user}`, {
      json: { password: "second pass", quota: 0 },
    });
    assertEquals(reset.status, 200, JSON.stringify(reset.body));
    assertEquals(reset.body.quota, 0);
    assertMatch(await imapLogin(server, carol.user, carol.password), /^a1 NO/);
    carol.password = "second pass";
    assertMatch(await imapLogin(server, carol.user, carol.password), /^a1 OK/);

    const disabled = await api(server, root, "PATCH", `/api/accounts/${carol.user}`, {
      json: { disabled: true },
    });
    assertEquals(disabled.body.disabled, true);
    assertMatch(await imapLogin(server, carol.user, carol.password), /^a1 NO/);
    await api(server, root, "PATCH", `/api/accounts/${carol.user}`, { json: { disabled: false } });
    assertMatch(await imapLogin(server, carol.user, carol.password), /^a1 OK/);

    const shown = await api(server, root, "GET", `/api/accounts/${encodeURIComponent(carol.user)}`);
    assertEquals(shown.body.address, carol.user);
    assertEquals(shown.body.usedBytes, 0);
    const listed = await api(server, root, "GET", "/api/accounts?domain=example.org");
    assertEquals((listed.body.accounts as { address: string }[]).map((a) => a.address), [
      carol.user,
    ]);
    const mailboxes = await api(server, root, "GET", `/api/accounts/${carol.user}/mailboxes`);
    assert((mailboxes.body.mailboxes as { role: string }[]).some((m) => m.role === "inbox"));

    // Not an administrator: 403, with a password or a token.
    const forbidden = await api(server, carol, "GET", "/api/domains");
    assertEquals(forbidden.status, 403);
    assertEquals(forbidden.body.error?.type, "forbidden");
    const carolToken = await api(server, root, "POST", `/api/accounts/${carol.user}/tokens`, {
      json: { label: "phone" },
    });
    assertEquals(carolToken.status, 201);
    assertMatch(String(carolToken.body.token), /^postern_\d+_/);
    assertEquals(
      (await api(server, { token: String(carolToken.body.token) }, "GET", "/api/status")).status,
      403,
    );

    // Tokens: an administrator's token works until it is revoked.
    const rootToken = await api(server, root, "POST", `/api/accounts/${root.user}/tokens`, {
      json: {},
    });
    const bearer = { token: String(rootToken.body.token) };
    assertEquals((await api(server, bearer, "GET", "/api/status")).status, 200);
    const tokens = await api(server, bearer, "GET", `/api/accounts/${root.user}/tokens`);
    assertEquals((tokens.body.tokens as { id: number }[]).map((t) => t.id), [rootToken.body.id]);
    assertEquals(
      (await api(server, root, "DELETE", `/api/accounts/${carol.user}/tokens/${rootToken.body.id}`))
        .status,
      404,
      "a token is revoked only through its own account",
    );
    assertEquals(
      (await api(server, root, "DELETE", `/api/accounts/${root.user}/tokens/${rootToken.body.id}`))
        .status,
      204,
    );
    assertEquals((await api(server, bearer, "GET", "/api/status")).status, 401);

    // Aliases.
    const alias = await api(server, root, "POST", "/api/aliases", {
      json: { address: "info@example.org", target: carol.user },
    });
    assertEquals(alias.status, 201, JSON.stringify(alias.body));
    assertEquals(
      (await api(server, root, "POST", "/api/aliases", {
        json: { address: "@example.org", target: carol.user },
      }))
        .status,
      201,
    );
    const aliases = await api(server, root, "GET", "/api/aliases?domain=example.org");
    assertEquals(
      aliases.body.aliases,
      [
        { address: "@example.org", target: carol.user },
        { address: "info@example.org", target: carol.user },
      ].sort((a, b) => a.address < b.address ? -1 : 1),
    );
    const delivered = await cli(
      server.configPath,
      ["deliver", "info@example.org"],
      "Subject: hi\r\n\r\nhi\r\n",
    );
    assertMatch(delivered.stdout, /delivered to carol@example\.org/);
    assertEquals((await api(server, root, "DELETE", "/api/aliases/info@example.org")).status, 204);
    assertEquals((await api(server, root, "DELETE", "/api/aliases/info@example.org")).status, 404);
    assertEquals(
      (await api(server, root, "DELETE", `/api/aliases/@example.org?target=${carol.user}`)).status,
      204,
    );

    // A domain in use cannot go; its account can, then the domain.
    assertEquals((await api(server, root, "DELETE", "/api/domains/example.org")).status, 409);
    assertEquals((await api(server, root, "DELETE", `/api/accounts/${root.user}`)).status, 409);
    assertEquals((await api(server, root, "DELETE", `/api/accounts/${carol.user}`)).status, 204);
    assertEquals((await api(server, root, "GET", `/api/accounts/${carol.user}`)).status, 404);
    assertMatch(await imapLogin(server, carol.user, carol.password), /^a1 NO/);
    assertEquals((await api(server, root, "DELETE", "/api/domains/example.org")).status, 204);
    assertEquals((await api(server, root, "GET", "/api/domains/example.org")).status, 404);
  }, { extra: "[admin]\nmax_request_size = 2048" });
});

Deno.test("api: bad requests are JSON errors: 400, 413, 415, cross-site 403, unknown path 404, 429", async () => {
  await withServer(async (server) => {
    const root = admin(server);
    const malformed = await api(server, root, "POST", "/api/domains", {
      raw: { body: '{"name": ', type: "application/json" },
    });
    assertEquals(malformed.status, 400);
    assertEquals(malformed.body.error?.type, "invalidJson");
    const invalid = await api(server, root, "POST", "/api/domains", { json: { name: 5 } });
    assertEquals(invalid.status, 400);
    assertEquals(invalid.body.error?.type, "invalidRequest");
    assertMatch(invalid.body.error?.message ?? "", /^name: /);
    const extra = await api(server, root, "POST", "/api/domains", {
      json: { name: "a.test", admin: true },
    });
    assertEquals(extra.status, 400);
    const badName = await api(server, root, "POST", "/api/domains", { json: { name: "-bad-" } });
    assertEquals(badName.status, 400);
    const oversize = await api(server, root, "POST", "/api/domains", {
      raw: { body: JSON.stringify({ name: "x".repeat(4096) }), type: "application/json" },
    });
    assertEquals(oversize.status, 413);
    assertEquals(oversize.body.error?.type, "payloadTooLarge");
    const form = await api(server, root, "POST", "/api/domains", {
      raw: { body: "name=evil.test", type: "application/x-www-form-urlencoded" },
    });
    assertEquals(form.status, 415);
    const crossSite = await api(
      server,
      root,
      "POST",
      "/api/domains",
      { json: { name: "evil.test" } },
      { origin: "https://evil.test" },
    );
    assertEquals(crossSite.status, 403);
    assertEquals(crossSite.body.error?.type, "crossOrigin");
    assertEquals((await api(server, root, "GET", "/api/domains/evil.test")).status, 404);

    const unknown = await api(server, root, "GET", "/api/nothing/here");
    assertEquals(unknown.status, 404);
    assertEquals(unknown.body.error?.type, "notFound");
    assertEquals((await api(server, root, "GET", "/api/queue/abc")).status, 404);
    assertEquals(
      (await api(server, root, "PATCH", "/api/accounts/nobody@example.com", { json: { quota: 1 } }))
        .status,
      404,
    );
    assertEquals(
      (await api(server, root, "PATCH", `/api/accounts/${root.user}`, { json: {} })).status,
      400,
    );

    const document = await api(server, null, "GET", "/api/openapi.json");
    assertEquals(document.status, 200);
    assertEquals(document.body.openapi, "3.1.0");
    assert("/api/queue/{id}/retry" in (document.body.paths as object));

    // Wrong credentials count in the shared login rate limiter ([auth] max_failures_per_ip = 3).
    const statuses: number[] = [];
    for (
      const credentials of [{ token: "postern_1_nope" }, { ...root, password: "a" }, {
        ...root,
        password: "b",
      }, root]
    ) {
      const answer = await api(server, credentials, "GET", "/api/status");
      statuses.push(answer.status);
      if (answer.status === 429) assertEquals(answer.body.error?.type, "rateLimited");
    }
    assertEquals(statuses, [401, 401, 401, 429]);
  }, { extra: "[admin]\nmax_request_size = 2048", auth: { max_failures_per_ip: 3 } });
});

Deno.test("api: [admin] accounts names the administrators; the queue: list, show, retry, delete", async () => {
  const peer = await startSmtpPeer({ rcpt: () => "452 4.2.2 mailbox full" });
  const dns = await startDnsServer({
    "remote.test": { MX: [{ exchange: "mx.remote.test", preference: 10 }] },
    "mx.remote.test": { A: [peer.host] },
  });
  const server = await startServer({
    dns: `${dns.host}:${dns.port}`,
    extra: [
      "[queue]",
      `remote_port = ${peer.port}`,
      `retry = ["1h"]`,
      "mta_sts = false",
      "[admin]",
      `accounts = ["ops@example.com"]`,
    ].join("\n"),
  });
  try {
    const root = admin(server);
    assertEquals((await api(server, root, "GET", "/api/queue")).status, 403);
    const added = await cli(server.configPath, [
      "account",
      "add",
      "ops@example.com",
      "--password",
      "pw-ops",
    ]);
    assertEquals(added.code, 0, added.stderr);
    const ops = { user: "ops@example.com", password: "pw-ops" };
    assertEquals((await api(server, ops, "GET", "/api/queue")).body, { messages: [] });

    const alice = { user: "alice@example.com", password: "pw-alice" };
    const created = await api(server, ops, "POST", "/api/accounts", {
      json: { address: alice.user, password: alice.password },
    });
    assertEquals(created.status, 201);
    assertMatch(
      await submit(
        server,
        alice,
        { from: alice.user, to: ["bob@remote.test"] },
        "From: alice@example.com\r\nTo: bob@remote.test\r\nSubject: full\r\n\r\nHello.\r\n",
      ),
      /^250/,
    );
    const rcpts = () => peer.commands.filter((c) => c.startsWith("RCPT")).length;
    await eventually(() => server.logs.some((l) => l.includes('"msg":"deferred"')), "deferral");
    assertEquals(rcpts(), 1);

    const list = await api(server, ops, "GET", "/api/queue");
    const messages = list.body.messages as {
      id: number;
      returnPath: string;
      recipients: { address: string; status: string; attempts: number; lastReply: string }[];
    }[];
    assertEquals(messages.length, 1);
    const [message] = messages;
    assertEquals(message.returnPath, alice.user);
    assertEquals(message.recipients.map((r) => [r.address, r.status, r.attempts]), [
      ["bob@remote.test", "queued", 1],
    ]);
    assertMatch(message.recipients[0].lastReply, /^452 4\.2\.2 mailbox full/);
    const shown = await api(server, ops, "GET", `/api/queue/${message.id}`);
    assertEquals(shown.body.id, message.id);

    const retried = await api(server, ops, "POST", `/api/queue/${message.id}/retry`);
    assertEquals(retried.status, 200, JSON.stringify(retried.body));
    assertEquals(retried.body, { due: 1 });
    await eventually(() => rcpts() === 2, "the retried delivery attempt");
    let attempts = 0;
    for (let i = 0; i < 250 && attempts < 2; i++) {
      const again = await api(server, ops, "GET", `/api/queue/${message.id}`);
      attempts = (again.body.recipients as { attempts: number }[])[0].attempts;
      if (attempts < 2) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assertEquals(attempts, 2, "the second attempt is recorded");

    assertEquals((await api(server, ops, "DELETE", `/api/queue/${message.id}`)).status, 204);
    assertEquals((await api(server, ops, "GET", `/api/queue/${message.id}`)).status, 404);
    assertEquals((await api(server, ops, "POST", `/api/queue/${message.id}/retry`)).status, 404);
    assertEquals((await api(server, ops, "DELETE", `/api/queue/${message.id}`)).status, 404);
    assertEquals((await api(server, ops, "GET", "/api/queue")).body, { messages: [] });
    const status = await api(server, ops, "GET", "/api/status");
    assertEquals(status.body.queue, { messages: 0, recipients: 0 });
  } finally {
    await server.stop();
    await dns.close();
    await peer.close();
  }
});
