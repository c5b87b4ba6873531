/**
 * /api/settings and /api/logs on the real server over real HTTP: the settings list shows where
 * each value comes from (file, environment, default); a live key (spam.junk_threshold) changes
 * the next delivery's X-Spam-Status without a restart and log.level changes what is logged; a
 * restart-only key is written into config.toml (comments and other lines kept, file mode kept)
 * and answered as restart_required while the running server keeps the old value; invalid
 * values are refused with the key and reason and leave the file untouched; a key set by an
 * environment variable cannot be changed. A failed login is found in /api/logs with the level,
 * component and session filters, without the password it tried.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../helpers/assert.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { messagesOf, readReply } from "../helpers/mail.ts";
import { compose, deliver, LETTER } from "../helpers/spam.ts";
import { LineClient } from "../helpers/tls.ts";
import { admin, api as callApi, type Call, type Credentials } from "../helpers/api.ts";
import { settingKeys } from "../../src/config/settings.ts";

interface SettingView {
  key: string;
  value: unknown;
  default: unknown;
  source: string;
  env?: string;
  live: boolean;
  secret: boolean;
  restart_pending: boolean;
}

interface LogEventView {
  time: string;
  level: string;
  component: string;
  message: string;
  fields: Record<string, unknown>;
}

const SPAM_SECTION = `
# Spam filter settings for this test; this comment must survive every edit.
[spam]
# Points for the Junk mailbox.
junk_threshold = 5.0   # five points
dns_lists = false
`;

/** An API request as the first-start administrator (or `credentials`). */
function api(
  server: TestServer,
  method: string,
  path: string,
  json?: unknown,
  credentials: Credentials = admin(server),
): Promise<Call> {
  return callApi(server, credentials, method, path, { json });
}

async function settings(server: TestServer): Promise<Map<string, SettingView>> {
  const call = await api(server, "GET", "/api/settings");
  assertEquals(call.status, 200, JSON.stringify(call.body));
  return new Map((call.body.settings as SettingView[]).map((s) => [s.key, s]));
}

async function events(server: TestServer, query: string): Promise<LogEventView[]> {
  const call = await api(server, "GET", `/api/logs?${query}`);
  assertEquals(call.status, 200, JSON.stringify(call.body));
  return call.body.events as LogEventView[];
}

/** The X-Spam-Status field of the newest message delivered to `address`. */
async function deliverLetter(server: TestServer, address: string, id: string): Promise<string> {
  const message = compose(
    { from: "Jonas <jonas@uni.test>", to: address, subject: "Grant report", id },
    LETTER,
  );
  assertMatch(await deliver(server, "jonas@uni.test", [address], message), /^250/);
  const stored = messagesOf(server, address).find((m) => m.includes(`<${id}>`));
  assert(stored, `message ${id} stored`);
  return /^X-Spam-Status: (.*)$/m.exec(stored)?.[1] ?? "";
}

async function smtpGreeting(server: TestServer): Promise<string> {
  const client = await LineClient.connect(server.ports.smtp);
  try {
    return (await readReply(client)).join("\n");
  } finally {
    await client.close();
  }
}

async function withSettingsServer(work: (server: TestServer) => Promise<void>): Promise<void> {
  // The server inherits this process's environment: one key comes from a variable. Test files
  // may run in parallel in this process, so it names a key no test sets, at its default value.
  Deno.env.set("POSTERN__SIEVE__MAX_INCLUDE_DEPTH", "10");
  let server: TestServer;
  try {
    server = await startServer({ extra: SPAM_SECTION });
  } finally {
    Deno.env.delete("POSTERN__SIEVE__MAX_INCLUDE_DEPTH");
  }
  try {
    await work(server);
  } catch (error) {
    console.error(server.logs.slice(-30).join("\n"));
    throw error;
  } finally {
    await server.stop();
  }
}

Deno.test("api settings: sources, live and restart-only changes written into config.toml", async () => {
  await withSettingsServer(async (server) => {
    await Deno.chmod(server.configPath, 0o640);
    const original = await Deno.readTextFile(server.configPath);
    const admin = server.admin!.address;

    const listed = await api(server, "GET", "/api/settings");
    assertEquals(listed.body.file, server.configPath);
    assertEquals(listed.body.problems, []);
    let all = await settings(server);
    const junk = all.get("spam.junk_threshold")!;
    assertEquals(
      [junk.value, junk.default, junk.source, junk.live, junk.restart_pending],
      [5, 5, "file", true, false],
    );
    const greeting = all.get("smtp.greeting")!;
    assertEquals(
      [greeting.value, greeting.default, greeting.source, greeting.live],
      ["ESMTP Postern", "ESMTP Postern", "default", false],
    );
    assertEquals(all.get("log.format")?.source, "file");
    assertEquals(all.get("log.format")?.value, "json");
    assertEquals(all.get("limits.max_message_size")?.default, "50M");
    assertEquals(all.get("spam.greylist.exempt")?.source, "default");
    const depth = all.get("sieve.max_include_depth")!;
    assertEquals(
      [depth.value, depth.source, depth.env],
      [10, "env", "POSTERN__SIEVE__MAX_INCLUDE_DEPTH"],
    );
    assertEquals(all.size, settingKeys().length);

    // A live key: the next delivery is judged against the new threshold, no restart.
    assertMatch(await deliverLetter(server, admin, "one@uni.test"), / required=5\.0$/);
    const live = await api(server, "PATCH", "/api/settings", {
      values: { "spam.junk_threshold": 7.5 },
    });
    assertEquals(live.status, 200, JSON.stringify(live.body));
    assertEquals(live.body, { changed: ["spam.junk_threshold"], restart_required: [] });
    assertMatch(await deliverLetter(server, admin, "two@uni.test"), / required=7\.5$/);
    let text = await Deno.readTextFile(server.configPath);
    assertEquals(
      text,
      original.replace(
        "junk_threshold = 5.0   # five points",
        "junk_threshold = 7.5   # five points",
      ),
    );
    assertEquals((await Deno.stat(server.configPath)).mode! & 0o777, 0o640);

    // A restart-only key: written (new [smtp] section at the end), not applied.
    const restart = await api(server, "PATCH", "/api/settings", {
      values: { "smtp.greeting": 'ESMTP "Test" \\ ✉' },
    });
    assertEquals(restart.status, 200, JSON.stringify(restart.body));
    assertEquals(restart.body, { changed: [], restart_required: ["smtp.greeting"] });
    text = await Deno.readTextFile(server.configPath);
    assert(text.startsWith(original.replace("= 5.0 ", "= 7.5 ")), text);
    assertEquals(
      text.slice(original.length),
      '\n[smtp]\ngreeting = "ESMTP \\"Test\\" \\\\ ✉"\n',
    );
    assertStringIncludes(text, "# Spam filter settings for this test; this comment must survive");
    assertMatch(await smtpGreeting(server), /^220 mail\.example\.com ESMTP Postern/);
    all = await settings(server);
    assertEquals(all.get("smtp.greeting")?.source, "file");
    assertEquals(all.get("smtp.greeting")?.value, 'ESMTP "Test" \\ ✉');
    assertEquals(all.get("smtp.greeting")?.restart_pending, true);
    assertEquals(all.get("spam.junk_threshold")?.restart_pending, false);

    // Refusals leave the file as it was.
    const before = await Deno.readTextFile(server.configPath);
    const invalid = await api(server, "PATCH", "/api/settings", {
      values: { "spam.junk_threshold": 0, "log.level": "debug" },
    });
    assertEquals(invalid.status, 400);
    assertEquals(invalid.body.error?.type, "invalidRequest");
    assertMatch(invalid.body.error!.message, /^spam\.junk_threshold: .*0\.1/);
    const wrongType = await api(server, "PATCH", "/api/settings", {
      values: { "queue.concurrency": "many" },
    });
    assertEquals(wrongType.status, 400);
    assertMatch(wrongType.body.error!.message, /^queue\.concurrency: expected number/);
    const unknown = await api(server, "PATCH", "/api/settings", { values: { "spam.nope": 1 } });
    assertEquals(unknown.status, 400);
    assertMatch(unknown.body.error!.message, /^spam\.nope: no such setting/);
    const table = await api(server, "PATCH", "/api/settings", { values: { "spam": {} } });
    assertEquals(table.status, 400);
    const fromEnv = await api(server, "PATCH", "/api/settings", {
      values: { "sieve.max_include_depth": 3 },
    });
    assertEquals(fromEnv.status, 409);
    assertMatch(fromEnv.body.error!.message, /POSTERN__SIEVE__MAX_INCLUDE_DEPTH/);
    assertEquals(await Deno.readTextFile(server.configPath), before);
    assertMatch(await deliverLetter(server, admin, "three@uni.test"), / required=7\.5$/);

    // null takes a key out of the file: back to its default, live.
    const reset = await api(server, "PATCH", "/api/settings", {
      values: { "spam.junk_threshold": null },
    });
    assertEquals(reset.body, { changed: ["spam.junk_threshold"], restart_required: [] });
    assert(!(await Deno.readTextFile(server.configPath)).includes("junk_threshold"));
    assertEquals((await settings(server)).get("spam.junk_threshold")?.source, "default");
    assertMatch(await deliverLetter(server, admin, "four@uni.test"), / required=5\.0$/);
  });
});

Deno.test("api logs: a failed login found by level, component and session; log.level is live", async () => {
  await withSettingsServer(async (server) => {
    const admin = server.admin!.address;
    const wrongPassword = "wrong-Pa55word-for-the-log";
    const failedLogin = async () => {
      const call = await api(server, "GET", "/api/status", undefined, {
        user: admin,
        password: wrongPassword,
      });
      assertEquals(call.status, 401);
    };
    await failedLogin();
    const auth = await events(server, "component=auth&level=info");
    const failure = auth.find((e) => e.message === "login failed");
    assert(failure, JSON.stringify(auth));
    assertEquals(failure.level, "info");
    assertEquals(failure.component, "auth");
    assertEquals(failure.fields.user, admin);
    assertEquals(failure.fields.ip, "127.0.0.1");
    assert(!Number.isNaN(Date.parse(failure.time)));
    assert(auth.every((e) => e.component === "auth"));

    const everything = await events(server, "limit=5000");
    assert(!JSON.stringify(everything).includes(wrongPassword), "the password is never logged");
    const times = everything.map((e) => Date.parse(e.time));
    assert(times.every((t, i) => i === 0 || t <= times[i - 1]), "newest first");
    assertEquals((await events(server, "limit=1")).length, 1);
    assert((await events(server, "level=warn")).every((e) => ["warn", "error"].includes(e.level)));
    assertEquals(
      (await events(server, "level=warn&component=auth")).filter((e) =>
        e.message === "login failed"
      ),
      [],
    );

    // A session's events: an SMTP connection logs with its session id.
    await deliverLetter(server, admin, "logs@uni.test");
    const smtp = await events(server, "component=smtp");
    const session = smtp.find((e) => typeof e.fields.session === "string")?.fields.session;
    assert(typeof session === "string", JSON.stringify(smtp));
    const ofSession = await events(server, `session=${session}`);
    assert(ofSession.length > 0);
    assert(ofSession.every((e) => e.fields.session === session));
    assertEquals(await events(server, "session=nosuchsession"), []);

    assertEquals((await api(server, "GET", "/api/logs?level=loud")).status, 400);
    assertEquals((await api(server, "GET", "/api/logs?limit=0")).status, 400);
    assertEquals((await api(server, "GET", "/api/logs?limit=x")).status, 400);

    // log.level is live: at "warn" a failed login (info) is no longer recorded.
    const count = async () =>
      (await events(server, "component=auth&limit=5000"))
        .filter((e) => e.message === "login failed").length;
    const atInfo = await count();
    const quiet = await api(server, "PATCH", "/api/settings", { values: { "log.level": "warn" } });
    assertEquals(quiet.body, { changed: ["log.level"], restart_required: [] });
    await failedLogin();
    assertEquals(await count(), atInfo);
    await api(server, "PATCH", "/api/settings", { values: { "log.level": "info" } });
    await failedLogin();
    assertEquals(await count(), atInfo + 1);
  });
});
