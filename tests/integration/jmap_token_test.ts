/**
 * API tokens: `postern token create|list|revoke` against a running server, and JMAP Bearer
 * authentication with them (RFC 6750).
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { cli, type TestServer, withServer } from "../helpers/server.ts";
import { basicAuth, USING } from "../helpers/jmap.ts";

async function createToken(server: TestServer, address: string, label?: string) {
  const result = await cli(server.configPath, [
    "token",
    "create",
    address,
    ...(label ? ["--label", label] : []),
  ]);
  assertEquals(result.code, 0, result.stderr);
  const match = /^created token (\d+) for (\S+) \(shown only once\):\n(postern_\S+)\n$/.exec(
    result.stdout,
  );
  assert(match, result.stdout);
  return { id: match[1], token: match[3] };
}

function bearer(server: TestServer, path: string, token: string, init: RequestInit = {}) {
  return fetch(`http://127.0.0.1:${server.ports.http}${path}`, {
    ...init,
    headers: { ...init.headers, authorization: `Bearer ${token}` },
  });
}

function apiCall(server: TestServer, token: string) {
  return bearer(server, "/jmap/api", token, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ using: USING, methodCalls: [["Core/echo", { ping: 1 }, "0"]] }),
  });
}

Deno.test("jmap token: Bearer works on the session and the API until the token is revoked", async () => {
  await withServer(async (server) => {
    const address = server.admin!.address;
    const { id, token } = await createToken(server, address, "laptop");

    const session = await bearer(server, "/jmap/session", token);
    assertEquals(session.status, 200);
    const body = await session.json();
    assertEquals(body.username, address);
    const api = await apiCall(server, token);
    assertEquals(api.status, 200);
    assertEquals((await api.json()).methodResponses, [["Core/echo", { ping: 1 }, "0"]]);

    const listed = await cli(server.configPath, ["token", "list", address]);
    assertEquals(listed.code, 0, listed.stderr);
    const lines = listed.stdout.trimEnd().split("\n");
    assertMatch(lines[0], /^ID\s+LABEL\s+CREATED \(UTC\)\s+LAST USED \(UTC\)$/);
    assertEquals(lines.length, 2);
    // Used just now: a date, not "never".
    assertMatch(
      lines[1],
      new RegExp(`^${id}\\s+laptop\\s+\\d{4}-\\d\\d-\\d\\d [\\d:]{8}\\s+\\d{4}-`),
    );

    // The secret is not the token: another secret with the same id is refused.
    const forged = token.slice(0, -4) + (token.endsWith("AAAA") ? "BBBB" : "AAAA");
    const wrong = await bearer(server, "/jmap/session", forged);
    assertEquals(wrong.status, 401);
    assert(wrong.headers.get("www-authenticate")?.includes("Bearer"));
    await wrong.body?.cancel();

    const revoked = await cli(server.configPath, ["token", "revoke", id]);
    assertEquals(revoked.code, 0, revoked.stderr);
    assertEquals(revoked.stdout, `revoked token ${id}\n`);
    const after = await bearer(server, "/jmap/session", token);
    assertEquals(after.status, 401);
    await after.body?.cancel();
    const afterApi = await apiCall(server, token);
    assertEquals(afterApi.status, 401);
    await afterApi.body?.cancel();

    const again = await cli(server.configPath, ["token", "revoke", id]);
    assertEquals(again.code, 1);
    assertMatch(again.stderr, /no token/);
    const empty = await cli(server.configPath, ["token", "list", address]);
    assertEquals(empty.stdout.trimEnd().split("\n").length, 1);
  });
});

Deno.test("jmap token: tokens belong to one account; bad commands fail cleanly", async () => {
  await withServer(async (server) => {
    const addedBob = await cli(server.configPath, [
      "account",
      "add",
      "bob@example.com",
      "--password",
      "bob-password-1",
    ]);
    assertEquals(addedBob.code, 0, addedBob.stderr);
    const admin = await createToken(server, server.admin!.address);
    const bob = await createToken(server, "bob@example.com", "phone");
    assert(admin.token !== bob.token);
    const session = await (await bearer(server, "/jmap/session", bob.token)).json();
    assertEquals(session.username, "bob@example.com");
    const list = await cli(server.configPath, ["token", "list", server.admin!.address]);
    assert(!list.stdout.includes("phone"), list.stdout);

    const unknownAccount = await cli(server.configPath, ["token", "create", "nobody@example.com"]);
    assertEquals(unknownAccount.code, 1);
    const badId = await cli(server.configPath, ["token", "revoke", "abc"]);
    assertEquals(badId.code, 2);
    const missing = await cli(server.configPath, ["token", "create"]);
    assertEquals(missing.code, 2);
    for (const garbage of ["postern_1_short", "nonsense", "postern_999_" + "A".repeat(43)]) {
      const response = await bearer(server, "/jmap/session", garbage);
      assertEquals(response.status, 401, garbage);
      await response.body?.cancel();
    }
  });
});

Deno.test("jmap token: wrong tokens count as authentication failures for the rate limiter", async () => {
  await withServer(async (server) => {
    const address = server.admin!.address;
    const { id, token } = await createToken(server, address);
    for (let i = 0; i < 3; i++) {
      const response = await bearer(server, "/jmap/session", `postern_${id}_${"A".repeat(43)}`);
      assertEquals(response.status, 401);
      await response.body?.cancel();
    }
    // The account has reached max_failures_per_account: its right password is refused, as is
    // its right token.
    const login = await fetch(`http://127.0.0.1:${server.ports.http}/jmap/session`, {
      headers: { authorization: basicAuth(address, server.admin!.password) },
    });
    assertEquals(login.status, 429);
    await login.body?.cancel();
    const right = await bearer(server, "/jmap/session", token);
    assertEquals(right.status, 401);
    await right.body?.cancel();
  }, { auth: { max_failures_per_account: 3 } });
});
