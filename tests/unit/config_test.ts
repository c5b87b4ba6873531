import { assertEquals, assertMatch, assertThrows } from "../helpers/assert.ts";
import { ConfigError, loadConfig, parseConfigText } from "../../src/config/load.ts";
import { parse as parseToml } from "smol-toml";

Deno.test("the shipped config.toml loads and yields the documented defaults", async () => {
  const { config, paths } = await loadConfig("./config.toml", { env: {} });
  assertEquals(config.server.hostname, "mail.example.com");
  assertEquals(config.listeners.smtp, "0.0.0.0:25");
  assertEquals(config.listeners.https, "0.0.0.0:443");
  assertEquals(config.limits.max_message_size, 50 * 1024 * 1024);
  assertEquals(config.limits.idle_timeout, 1800);
  assertMatch(paths.dataDir, /\/data$/);
  assertMatch(paths.database, /\/data\/postern\.db$/);
});

Deno.test("config.toml names every setting, with its default value", async () => {
  const shipped = parseToml(await Deno.readTextFile("./config.toml")) as Record<
    string,
    Record<string, unknown>
  >;
  const defaults = parseConfigText("", "empty.toml") as unknown as Record<
    string,
    Record<string, unknown>
  >;
  const parsed = parseConfigText(await Deno.readTextFile("./config.toml"), "config.toml", {});
  for (const [section, values] of Object.entries(defaults)) {
    assertEquals(
      Object.keys(shipped[section] ?? {}).sort(),
      Object.keys(values).sort(),
      `[${section}] in config.toml`,
    );
    if (section === "server") continue; // hostname is the example's, not the default
    assertEquals(
      (parsed as unknown as Record<string, unknown>)[section],
      values,
      `[${section}] values in config.toml`,
    );
  }
});

Deno.test("an empty file gives every default, with standard ports", () => {
  const config = parseConfigText("", "empty.toml");
  const ports = Object.fromEntries(
    Object.entries(config.listeners).map(([k, v]) => [k, Number(v.split(":").pop())]),
  );
  assertEquals(ports, {
    smtp: 25,
    submission: 587,
    submissions: 465,
    imap: 143,
    imaps: 993,
    pop3: 110,
    pop3s: 995,
    managesieve: 4190,
    http: 80,
    https: 443,
  });
});

Deno.test("sizes and durations accept units", () => {
  const config = parseConfigText(
    `[limits]\nmax_message_size = "10M"\nidle_timeout = "2m"\nmax_header_size = 2048\n`,
    "t.toml",
  );
  assertEquals(config.limits.max_message_size, 10 * 1024 * 1024);
  assertEquals(config.limits.idle_timeout, 120);
  assertEquals(config.limits.max_header_size, 2048);
});

Deno.test("an empty listener string disables it", () => {
  const config = parseConfigText(`[listeners]\nsmtp = ""\n`, "t.toml");
  assertEquals(config.listeners.smtp, "");
});

function problem(text: string): string {
  const error = assertThrows(() => parseConfigText(text, "bad.toml"), ConfigError);
  return error.message;
}

Deno.test("errors name the key, what was expected and what was found", () => {
  assertEquals(
    problem(`[limits]\nmax_message_size = "huge"\n`),
    `bad.toml: limits.max_message_size: expected a size like "50M" or 1048576, found "huge"`,
  );
  assertEquals(
    problem(`[listeners]\nimap = "143"\n`),
    `bad.toml: listeners.imap: expected "host:port" (e.g. "0.0.0.0:25" or "[::]:25") or "" to disable, found "143"`,
  );
  assertEquals(
    problem(`[limits]\nmax_mime_depth = "deep"\n`),
    `bad.toml: limits.max_mime_depth: expected number, found string "deep"`,
  );
  assertEquals(problem(`[server]\nhostnme = "x"\n`), `bad.toml: server: unknown key "hostnme"`);
  assertEquals(problem(`[sever]\n`), `bad.toml: unknown key "sever"`);
  assertEquals(
    problem(`[log]\nlevel = "loud"\n`),
    `bad.toml: log.level: expected one of "debug", "info", "warn", "error", found string "loud"`,
  );
  assertMatch(problem(`[server\nhostname = "x"`), /^bad\.toml: TOML syntax error at line 1/);
  assertMatch(problem(`[listeners]\nsmtp = "0.0.0.0:99999"\n`), /listeners\.smtp: expected/);
  assertMatch(
    problem(`[server]\nhostname = "bad host"\n`),
    /server\.hostname: expected a DNS host name/,
  );
});

Deno.test("environment variables override keys", () => {
  const config = parseConfigText(`[server]\nhostname = "a.example"\n`, "t.toml", {
    POSTERN__SERVER__HOSTNAME: "b.example",
    POSTERN__LIMITS__MAX_MIME_DEPTH: "7",
    UNRELATED: "x",
  });
  assertEquals(config.server.hostname, "b.example");
  assertEquals(config.limits.max_mime_depth, 7);
});

Deno.test("a missing file is a clear error", async () => {
  const error = await loadConfig("/nonexistent/postern.toml", { env: {} }).then(
    () => null,
    (e) => e,
  );
  assertEquals(error instanceof ConfigError, true);
  assertEquals(error.message, "/nonexistent/postern.toml: file not found (pass --config FILE)");
});

Deno.test("[acme] refuses a challenge whose listener is disabled, naming both keys", () => {
  for (
    const [challenge, listener] of [["http-01", "http"], ["tls-alpn-01", "https"]] as const
  ) {
    const text =
      `[acme]\nenabled = true\nchallenge = "${challenge}"\n[listeners]\n${listener} = ""\n`;
    const error = assertThrows(() => parseConfigText(text, "x.toml"), ConfigError);
    assertMatch(
      error.message,
      new RegExp(
        `acme\\.challenge: "${challenge}" needs the ${listener} listener.*listeners\\.${listener} = ""`,
      ),
    );
  }
  // The other listener off is fine, and so is anything while ACME is off.
  parseConfigText(
    '[acme]\nenabled = true\nchallenge = "tls-alpn-01"\n[listeners]\nhttp = ""\n',
    "x.toml",
  );
  parseConfigText('[listeners]\nhttp = ""\nhttps = ""\n', "x.toml");
});
