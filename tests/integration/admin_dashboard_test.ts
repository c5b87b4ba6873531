/**
 * The admin dashboard on the real server, read as a browser would with fetch and a session:
 * the "Last 24 h" figures move after a real SMTP delivery and a real refused RCPT, the disk line
 * is there, GET /api/status carries the same figures, and the admin's own sign-ins count in
 * postern_authentications_total{protocol="http"}.
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { cliAll, readReply, send } from "../helpers/mail.ts";
import { LineClient } from "../helpers/tls.ts";
import { parsePrometheus, sampleValue } from "../helpers/prometheus.ts";

const BOB = "bob@example.com";

function cookieOf(response: Response, name: string): string {
  for (const header of response.headers.getSetCookie()) {
    const [pair] = header.split(";");
    if (pair.startsWith(`${name}=`)) return pair;
  }
  throw new Error(`no ${name} cookie in ${response.headers.getSetCookie().join(" | ")}`);
}

async function httpLogins(server: TestServer, result: "ok" | "failed"): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${server.ports.http}/metrics`)).text();
  return sampleValue(parsePrometheus(text), "postern_authentications_total", {
    protocol: "http",
    result,
  });
}

/** Signs in through /admin/login with the form's CSRF token; the session cookie. */
async function signIn(server: TestServer, password: string): Promise<Response> {
  const base = `http://127.0.0.1:${server.ports.http}`;
  const page = await fetch(`${base}/admin/login`);
  const html = await page.text();
  const token = /name="_csrf"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="_csrf"/.exec(html);
  assert(token, `a CSRF field in the login page: ${html}`);
  return await fetch(`${base}/admin/login`, {
    method: "POST",
    redirect: "manual",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      cookie: cookieOf(page, "postern_admin_login"),
    },
    body: new URLSearchParams({
      _csrf: token[1] ?? token[2],
      address: server.admin!.address,
      password,
    }),
  });
}

async function dashboard(server: TestServer, session: string): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${server.ports.http}/admin`, {
    headers: { cookie: session },
    redirect: "manual",
  });
  assertEquals(response.status, 200);
  return await response.text();
}

function figure(html: string, id: string): number {
  const match = new RegExp(`id="${id}">(\\d+)<`).exec(html);
  assert(match, `#${id} on the dashboard`);
  return Number(match[1]);
}

Deno.test("admin dashboard: last 24 h counts move with real SMTP; disk line; admin logins counted", async () => {
  const server = await startServer();
  try {
    assert(server.admin, "the first start printed the admin's password");
    await cliAll(server, [["account", "add", BOB, "--password", "pw-bob"]]);

    const okBefore = await httpLogins(server, "ok");
    const failedBefore = await httpLogins(server, "failed");
    const wrong = await signIn(server, "not-the-password");
    assertEquals(wrong.status, 401);
    await wrong.body?.cancel();
    const signed = await signIn(server, server.admin.password);
    assertEquals(signed.status, 303);
    const session = cookieOf(signed, "postern_admin");
    assertEquals(await httpLogins(server, "ok") - okBefore, 1);
    assertEquals(await httpLogins(server, "failed") - failedBefore, 1);

    const before = await dashboard(server, session);
    assertMatch(before, /Last 24 h/);
    assertMatch(before, /id="disk">[^<]*\d+(\.\d+)? [KMGT]iB free of \d+(\.\d+)? [KMGT]iB/);
    assertMatch(before, /database \d+(\.\d+)? ([KMG]i)?B, blobs/);

    const smtp = await LineClient.connect(server.ports.smtp);
    try {
      await readReply(smtp);
      await send(smtp, "EHLO sender.test");
      assertMatch(await send(smtp, "MAIL FROM:<someone@sender.test>"), /^250/);
      assertMatch(await send(smtp, "RCPT TO:<nobody@example.com>"), /^550 5\.1\.1/);
      assertMatch(await send(smtp, `RCPT TO:<${BOB}>`), /^250/);
      assertMatch(await send(smtp, "DATA"), /^354/);
      const accepted = await send(
        smtp,
        "From: someone@sender.test\r\nTo: bob@example.com\r\nSubject: counted\r\n\r\nHello.\r\n.",
      );
      assertMatch(accepted, /^250/);
      await send(smtp, "QUIT");
    } finally {
      await smtp.close();
    }

    const after = await dashboard(server, session);
    assertEquals(figure(after, "received-24h") - figure(before, "received-24h"), 1);
    assertEquals(figure(after, "delivered-24h") - figure(before, "delivered-24h"), 1);
    assertEquals(figure(after, "rejected-24h") - figure(before, "rejected-24h"), 1);
    assertEquals(figure(after, "bounced-24h"), figure(before, "bounced-24h"));

    const status = await fetch(`http://127.0.0.1:${server.ports.http}/api/status`, {
      headers: {
        authorization: `Basic ${btoa(`${server.admin.address}:${server.admin.password}`)}`,
      },
    });
    assertEquals(status.status, 200);
    const body = await status.json();
    assertEquals(body.last24h.received, figure(after, "received-24h"));
    assertEquals(body.last24h.delivered, figure(after, "delivered-24h"));
    assertEquals(body.last24h.rejected, figure(after, "rejected-24h"));
    assert(body.disk.totalBytes > 0 && body.disk.freeBytes >= 0, JSON.stringify(body.disk));
    assert(body.disk.databaseBytes > 0, JSON.stringify(body.disk));
    assertEquals(typeof body.disk.blobBytes, "number");
  } finally {
    await server.stop();
  }
});
