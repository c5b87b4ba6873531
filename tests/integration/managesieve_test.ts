/**
 * The ManageSieve server (RFC 5804) on the `managesieve` listener of the real server process:
 * capabilities, STARTTLS (and its injection defence), AUTHENTICATE, every script command and
 * response code, literals and limits, as a client sees them on the wire.
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { cliAll } from "../helpers/mail.ts";
import { LineClient } from "../helpers/tls.ts";

const ALICE = "alice@example.com";
const BOB = "bob@example.com";
const encoder = new TextEncoder();

const plain = (user: string, password: string) => btoa(`\0${user}\0${password}`);

const VALID = 'require "fileinto";\r\nif header :contains "subject" "spam" {\r\n' +
  '  fileinto "Junk";\r\n}\r\n';

function caOf(server: TestServer): Promise<string> {
  return Deno.readTextFile(`${server.dir}/data/tls/self-signed.crt`);
}

/** A literal as a client sends it (non-synchronizing, RFC 5804 4). */
function literal(text: string): string {
  return `{${encoder.encode(text).length}+}\r\n${text}`;
}

interface Reply {
  /** Lines before the status line; a literal is one entry holding its whole content. */
  lines: string[];
  status: string;
}

class SieveClient {
  constructor(readonly line: LineClient) {}

  /** Connects to the plaintext port and reads the greeting's capabilities. */
  static async connect(server: TestServer): Promise<{ client: SieveClient; greeting: Reply }> {
    const client = new SieveClient(await LineClient.connect(server.ports.managesieve));
    const greeting = await client.reply();
    assertMatch(greeting.status, /^OK "mail\.example\.com ManageSieve ready"$/);
    return { client, greeting };
  }

  /** Connects, upgrades with STARTTLS; returns the capabilities sent after the handshake. */
  static async tls(server: TestServer): Promise<{ client: SieveClient; capabilities: Reply }> {
    const { client } = await SieveClient.connect(server);
    assertEquals(await client.send("STARTTLS"), 'OK "Begin TLS negotiation now"');
    await client.line.startTls(await caOf(server));
    const capabilities = await client.reply();
    assertEquals(capabilities.status, 'OK "TLS negotiation successful"');
    return { client, capabilities };
  }

  static async login(server: TestServer, user: string, password: string): Promise<SieveClient> {
    const { client } = await SieveClient.tls(server);
    assertEquals(
      await client.send(`AUTHENTICATE "PLAIN" "${plain(user, password)}"`),
      'OK "Logged in"',
    );
    return client;
  }

  async readLine(): Promise<string> {
    const line = await this.line.readLine();
    if (line === null) throw new Error("connection closed");
    return line;
  }

  /**
   * Lines up to the OK/NO/BYE status line. A literal line is one entry with its content; a
   * status line holding a literal keeps its wire form (`NO {n}` CRLF text).
   */
  async reply(): Promise<Reply> {
    const lines: string[] = [];
    for (;;) {
      const line = await this.readLine();
      const size = /\{(\d+)\}$/.exec(line);
      if (/^(OK|NO|BYE)\b/.test(line)) {
        if (!size) return { lines, status: line };
        const { content, rest } = await this.#literal(Number(size[1]));
        return { lines, status: `${line}\r\n${content}${rest}` };
      }
      if (!size) {
        lines.push(line);
        continue;
      }
      const { content, rest } = await this.#literal(Number(size[1]));
      assertEquals(rest, "");
      lines.push(content);
    }
  }

  /** `size` bytes of literal, and the rest of the line it ends on. */
  async #literal(size: number): Promise<{ content: string; rest: string }> {
    let text = "";
    while (encoder.encode(text).length < size) text += (await this.readLine()) + "\r\n";
    const bytes = encoder.encode(text);
    if (bytes.length === size) return { content: text, rest: await this.readLine() };
    const decoder = new TextDecoder();
    return {
      content: decoder.decode(bytes.subarray(0, size)),
      rest: decoder.decode(bytes.subarray(size, bytes.length - 2)),
    };
  }

  /** Sends a command; returns the status line (asserting nothing came before it). */
  async send(command: string): Promise<string> {
    const { lines, status } = await this.command(command);
    assertEquals(lines, [], `${command} → ${status}`);
    return status;
  }

  async command(command: string): Promise<Reply> {
    await this.line.write(`${command}\r\n`);
    return await this.reply();
  }

  async list(): Promise<string[]> {
    const { lines, status } = await this.command("LISTSCRIPTS");
    assertEquals(status, 'OK "Listscripts completed"');
    return lines;
  }

  async close(): Promise<void> {
    await this.line.close();
  }
}

function capabilityNames(reply: Reply): string[] {
  return reply.lines.map((line) => /^"([^"]+)"/.exec(line)![1]);
}

function capability(reply: Reply, name: string): string | null | undefined {
  for (const line of reply.lines) {
    const match = /^"([^"]+)"(?: "((?:[^"\\]|\\.)*)")?$/.exec(line);
    if (match?.[1] === name) return match[2] ?? null;
  }
  return undefined;
}

Deno.test("ManageSieve server", async (t) => {
  const server = await startServer({
    extra: "[sieve]\nmax_script_size = 2048\nmax_scripts = 3",
  });
  try {
    await cliAll(server, [
      ["account", "add", ALICE, "--password", "pw-alice"],
      ["account", "add", BOB, "--password", "pw-bob"],
    ]);

    await t.step("greeting before TLS: STARTTLS, empty SASL; AUTHENTICATE refused", async () => {
      const { client, greeting } = await SieveClient.connect(server);
      assertEquals(capabilityNames(greeting), [
        "IMPLEMENTATION",
        "SIEVE",
        "SASL",
        "STARTTLS",
        "MAXREDIRECTS",
        "NOTIFY",
        "UNAUTHENTICATE",
        "VERSION",
      ]);
      assertEquals(capability(greeting, "IMPLEMENTATION"), "Postern");
      assertEquals(capability(greeting, "SASL"), "");
      assertEquals(capability(greeting, "STARTTLS"), null);
      assertEquals(capability(greeting, "MAXREDIRECTS"), "4");
      assertEquals(capability(greeting, "NOTIFY"), "mailto");
      assertEquals(capability(greeting, "VERSION"), "1.0");
      const sieve = capability(greeting, "SIEVE")!.split(" ");
      for (const extension of ["fileinto", "vacation", "envelope", "variables"]) {
        assert(sieve.includes(extension), sieve.join(" "));
      }
      const refusal =
        'NO (ENCRYPT-NEEDED) "Plaintext authentication disallowed on non-secure connections; use STARTTLS"';
      assertEquals(
        await client.send(`AUTHENTICATE "PLAIN" "${plain(ALICE, "pw-alice")}"`),
        refusal,
      );
      assertEquals(await client.send('AUTHENTICATE "LOGIN"'), refusal);
      assertEquals(await client.send("LISTSCRIPTS"), 'NO "LISTSCRIPTS needs AUTHENTICATE first"');
      assertEquals(await client.send('GETSCRIPT "x"'), 'NO "GETSCRIPT needs AUTHENTICATE first"');
      assertEquals(await client.send("LOGOUT"), 'OK "Logout completed"');
      assert(await client.line.waitClosed());
    });

    await t.step("STARTTLS: capabilities again, with SASL and without STARTTLS", async () => {
      const { client, capabilities } = await SieveClient.tls(server);
      assert(client.line.authorized);
      assertEquals(capability(capabilities, "SASL"), "PLAIN LOGIN");
      assertEquals(capability(capabilities, "STARTTLS"), undefined);
      assertEquals(capability(capabilities, "OWNER"), undefined);
      const again = await client.command("CAPABILITY");
      assertEquals(again.lines, capabilities.lines);
      assertEquals(again.status, 'OK "Capability completed"');
      assertEquals(await client.send("STARTTLS"), 'NO "TLS is already active"');
      await client.close();
    });

    await t.step(
      "STARTTLS injection: commands pipelined after STARTTLS are discarded",
      async () => {
        const { client } = await SieveClient.connect(server);
        await client.line.write(
          `STARTTLS\r\nAUTHENTICATE "PLAIN" "${plain(ALICE, "pw-alice")}"\r\nLISTSCRIPTS\r\n`,
        );
        assertEquals(await client.readLine(), 'OK "Begin TLS negotiation now"');
        await client.line.startTls(await caOf(server));
        // Only the post-handshake capabilities may follow (they can be buffered already).
        const capabilities = await client.reply();
        assertEquals(capabilities.status, 'OK "TLS negotiation successful"');
        // Had the pipelined AUTHENTICATE run, the session would be authenticated now.
        assertEquals(await client.send("LISTSCRIPTS"), 'NO "LISTSCRIPTS needs AUTHENTICATE first"');
        assertEquals(capability(await client.command("CAPABILITY"), "OWNER"), undefined);
        await client.close();
      },
    );

    await t.step("AUTHENTICATE: PLAIN inline, as a literal, by continuation; LOGIN", async () => {
      const { client } = await SieveClient.tls(server);
      assertEquals(
        await client.send(`AUTHENTICATE "PLAIN" ${literal(plain(ALICE, "pw-alice"))}`),
        'OK "Logged in"',
      );
      const capabilities = await client.command("CAPABILITY");
      assertEquals(capability(capabilities, "OWNER"), ALICE);
      assertEquals(capability(capabilities, "SASL"), "");
      assertEquals(
        await client.send(`AUTHENTICATE "PLAIN" "${plain(ALICE, "pw-alice")}"`),
        'NO "Already authenticated"',
      );
      assertEquals(await client.send("UNAUTHENTICATE"), 'OK "Unauthenticate completed"');
      assertEquals(capability(await client.command("CAPABILITY"), "OWNER"), undefined);
      assertEquals(await client.send("LISTSCRIPTS"), 'NO "LISTSCRIPTS needs AUTHENTICATE first"');
      assertEquals(
        await client.send("UNAUTHENTICATE"),
        'NO "UNAUTHENTICATE needs AUTHENTICATE first"',
      );
      await client.close();

      // PLAIN without an initial response: an empty challenge, then the response.
      const second = (await SieveClient.tls(server)).client;
      await second.line.write('AUTHENTICATE "plain"\r\n');
      assertEquals(await second.readLine(), '""');
      await second.line.write(`"${plain(BOB, "pw-bob")}"\r\n`);
      assertEquals(await second.readLine(), 'OK "Logged in"');
      assertEquals(capability(await second.command("CAPABILITY"), "OWNER"), BOB);
      assertEquals(await second.send("UNAUTHENTICATE"), 'OK "Unauthenticate completed"');

      // LOGIN: two challenges ("Username:", "Password:"), answered as a literal and a quoted string.
      await second.line.write('AUTHENTICATE "LOGIN"\r\n');
      assertEquals(await second.readLine(), `"${btoa("Username:")}"`);
      await second.line.write(`${literal(btoa(ALICE))}\r\n`);
      assertEquals(await second.readLine(), `"${btoa("Password:")}"`);
      await second.line.write(`"${btoa("pw-alice")}"\r\n`);
      assertEquals(await second.readLine(), 'OK "Logged in"');
      assertEquals(await second.send("UNAUTHENTICATE"), 'OK "Unauthenticate completed"');

      // "*" cancels; an unknown mechanism and bad base64 are refused.
      await second.line.write('AUTHENTICATE "PLAIN"\r\n');
      assertEquals(await second.readLine(), '""');
      assertEquals(await second.send('"*"'), 'NO "Authentication cancelled"');
      assertEquals(
        await second.send('AUTHENTICATE "CRAM-MD5"'),
        'NO "Unsupported authentication mechanism"',
      );
      assertEquals(
        await second.send('AUTHENTICATE "PLAIN" "not base64!"'),
        'NO "Invalid authentication response"',
      );
      assertEquals(
        await second.send(`AUTHENTICATE "PLAIN" "${plain(ALICE, "wrong")}"`),
        'NO "Authentication failed"',
      );
      assertEquals(
        await second.send(`AUTHENTICATE "PLAIN" "${plain("nobody@example.com", "wrong")}"`),
        'NO "Authentication failed"',
      );
      await second.close();
    });

    await t.step("PUTSCRIPT, LISTSCRIPTS, GETSCRIPT, SETACTIVE, CHECKSCRIPT", async () => {
      const client = await SieveClient.login(server, ALICE, "pw-alice");
      assertEquals(await client.list(), []);
      assertEquals(
        await client.send(`PUTSCRIPT "filter" ${literal(VALID)}`),
        'OK "Putscript completed"',
      );
      // A quoted string is a script too (RFC 5804 4: sieve-script = string).
      assertEquals(await client.send('PUTSCRIPT "tiny" "keep;"'), 'OK "Putscript completed"');
      assertEquals(await client.list(), ['"filter"', '"tiny"']);

      const got = await client.command('GETSCRIPT "filter"');
      assertEquals(got.lines, [VALID]);
      assertEquals(got.status, 'OK "Getscript completed"');
      assertEquals(
        await client.send('GETSCRIPT "missing"'),
        'NO (NONEXISTENT) "There is no script named missing"',
      );

      assertEquals(await client.send('SETACTIVE "filter"'), 'OK "Setactive completed"');
      assertEquals(await client.list(), ['"filter" ACTIVE', '"tiny"']);
      assertEquals(await client.send('SETACTIVE "tiny"'), 'OK "Setactive completed"');
      assertEquals(await client.list(), ['"filter"', '"tiny" ACTIVE']);
      assertEquals(
        await client.send('SETACTIVE "missing"'),
        'NO (NONEXISTENT) "There is no script named missing"',
      );
      assertEquals(await client.list(), ['"filter"', '"tiny" ACTIVE']);
      assertEquals(await client.send('SETACTIVE ""'), 'OK "Setactive completed"');
      assertEquals(await client.list(), ['"filter"', '"tiny"']);

      // Replacing the active script keeps it active (RFC 5804 2.6).
      assertEquals(await client.send('SETACTIVE "tiny"'), 'OK "Setactive completed"');
      assertEquals(await client.send('PUTSCRIPT "tiny" "discard;"'), 'OK "Putscript completed"');
      assertEquals(await client.list(), ['"filter"', '"tiny" ACTIVE']);
      assertEquals((await client.command('GETSCRIPT "tiny"')).lines, ["discard;"]);

      assertEquals(await client.send(`CHECKSCRIPT ${literal(VALID)}`), 'OK "Script is valid"');
      const bad = 'require "fileinto";\r\nfileinto "a";\r\nfrobnicate;\r\n';
      const checked = await client.send(`CHECKSCRIPT ${literal(bad)}`);
      assertMatch(checked, /^NO "line 3, column 1: [^"]*frobnicate[^"]*"$/);
      const put = await client.send(`PUTSCRIPT "bad" ${literal(bad)}`);
      assertEquals(put, checked);
      const syntax = await client.send('CHECKSCRIPT "if true {"');
      assertMatch(syntax, /^NO "line 1, column \d+: /);
      assertEquals(await client.list(), ['"filter"', '"tiny" ACTIVE']);

      // Bob sees none of Alice's scripts.
      const bob = await SieveClient.login(server, BOB, "pw-bob");
      assertEquals(await bob.list(), []);
      assertEquals(
        await bob.send('GETSCRIPT "filter"'),
        'NO (NONEXISTENT) "There is no script named filter"',
      );
      await bob.close();
      await client.close();
    });

    await t.step("several errors come back as a literal, one per line", async () => {
      const client = await SieveClient.login(server, ALICE, "pw-alice");
      const { status } = await client.command(`CHECKSCRIPT ${literal("foo;\r\nbar;\r\n")}`);
      const [first, second] = status.replace(/^NO \{\d+\}\r\n/, "").split("\r\n");
      assertMatch(first, /^line 1, column 1: .*foo/);
      assertMatch(second, /^line 2, column 1: .*bar/);
      await client.close();
    });

    await t.step("RENAMESCRIPT, DELETESCRIPT: ACTIVE, NONEXISTENT, ALREADYEXISTS", async () => {
      const client = await SieveClient.login(server, ALICE, "pw-alice");
      assertEquals(
        await client.send('RENAMESCRIPT "filter" "tiny"'),
        'NO (ALREADYEXISTS) "A script named tiny already exists"',
      );
      assertEquals(
        await client.send('RENAMESCRIPT "nope" "other"'),
        'NO (NONEXISTENT) "There is no script named nope"',
      );
      // The active script keeps being active under its new name.
      assertEquals(await client.send('RENAMESCRIPT "tiny" "main"'), 'OK "Renamescript completed"');
      assertEquals(await client.list(), ['"filter"', '"main" ACTIVE']);
      assertEquals(
        await client.send('DELETESCRIPT "main"'),
        'NO (ACTIVE) "The active script cannot be deleted; deactivate it first"',
      );
      assertEquals(
        await client.send('DELETESCRIPT "tiny"'),
        'NO (NONEXISTENT) "There is no script named tiny"',
      );
      assertEquals(await client.send('DELETESCRIPT "filter"'), 'OK "Deletescript completed"');
      assertEquals(await client.list(), ['"main" ACTIVE']);
      await client.close();
    });

    await t.step("HAVESPACE and the limits: QUOTA/MAXSIZE, QUOTA/MAXSCRIPTS", async () => {
      const client = await SieveClient.login(server, ALICE, "pw-alice");
      assertEquals(await client.send('HAVESPACE "new" 2048'), 'OK "Putscript would succeed"');
      assertEquals(
        await client.send('HAVESPACE "new" 2049'),
        'NO (QUOTA/MAXSIZE) "Scripts are limited to 2048 bytes"',
      );
      assertEquals(await client.send('HAVESPACE "new" x'), 'NO "HAVESPACE expects a number"');
      // An oversized literal is refused and its bytes dropped; the session stays in step.
      const big = "# " + "x".repeat(100_000) + "\r\nkeep;\r\n";
      assertEquals(
        await client.send(`PUTSCRIPT "big" ${literal(big)}`),
        'NO (QUOTA/MAXSIZE) "Scripts are limited to 2048 bytes"',
      );
      assertEquals(
        await client.send(`CHECKSCRIPT ${literal(big)}`),
        'NO (QUOTA/MAXSIZE) "Scripts are limited to 2048 bytes"',
      );
      assertEquals(await client.list(), ['"main" ACTIVE']);
      assertEquals(await client.send('PUTSCRIPT "two" "keep;"'), 'OK "Putscript completed"');
      assertEquals(await client.send('PUTSCRIPT "three" "keep;"'), 'OK "Putscript completed"');
      const tooMany = 'NO (QUOTA/MAXSCRIPTS) "An account may keep at most 3 scripts"';
      assertEquals(await client.send('HAVESPACE "four" 10'), tooMany);
      assertEquals(await client.send('PUTSCRIPT "four" "keep;"'), tooMany);
      // Replacing an existing script is no new script.
      assertEquals(await client.send('HAVESPACE "three" 10'), 'OK "Putscript would succeed"');
      assertEquals(await client.send('PUTSCRIPT "three" "stop;"'), 'OK "Putscript completed"');
      assertEquals(await client.send('DELETESCRIPT "three"'), 'OK "Deletescript completed"');
      assertEquals(await client.send('DELETESCRIPT "two"'), 'OK "Deletescript completed"');
      await client.close();
    });

    await t.step("script names: controls refused, UTF-8 kept (NFC), length limit", async () => {
      const client = await SieveClient.login(server, ALICE, "pw-alice");
      assertEquals(
        await client.send(`PUTSCRIPT ${literal("a\tb")} "keep;"`),
        'NO "A script name must not contain control characters"',
      );
      assertEquals(
        await client.send(`PUTSCRIPT ${literal("a\u2028b")} "keep;"`),
        'NO "A script name must not contain control characters"',
      );
      assertEquals(
        await client.send('PUTSCRIPT "" "keep;"'),
        'NO "A script name must not be empty"',
      );
      assertEquals(
        await client.send(`PUTSCRIPT "${"n".repeat(129)}" "keep;"`),
        'NO "A script name has at most 128 characters"',
      );
      // "Cafe" + COMBINING ACUTE is stored as "Café" (RFC 5804 1.6, Net-Unicode).
      assertEquals(
        await client.send('PUTSCRIPT "Cafe\u0301 \\"quoted\\"" "keep;"'),
        'OK "Putscript completed"',
      );
      assertEquals(await client.list(), ['"Café \\"quoted\\""', '"main" ACTIVE']);
      assertEquals(
        (await client.command('GETSCRIPT "Caf\u00e9 \\"quoted\\""')).lines,
        ["keep;"],
      );
      assertEquals(
        await client.send('DELETESCRIPT "Caf\u00e9 \\"quoted\\""'),
        'OK "Deletescript completed"',
      );
      await client.close();
    });

    await t.step("NOOP echoes its tag; syntax errors are NO and the session goes on", async () => {
      const { client } = await SieveClient.connect(server);
      assertEquals(await client.send("NOOP"), 'OK "NOOP completed"');
      assertEquals(
        await client.send('noop "STARTTLS-sync-42"'),
        'OK (TAG "STARTTLS-sync-42") "Done"',
      );
      assertEquals(
        await client.send(`NOOP ${literal('multi\r\nline "tag"')}`),
        'OK (TAG {17}\r\nmulti\r\nline "tag") "Done"',
      );
      assertEquals(await client.send("FROBNICATE"), 'NO "Unknown command FROBNICATE"');
      assertEquals(
        await client.send('GETSCRIPT "a" "b"'),
        'NO "Wrong number of arguments for GETSCRIPT"',
      );
      assertEquals(await client.send('GETSCRIPT "unterminated'), 'NO "Unterminated string"');
      assertEquals(
        await client.send("GETSCRIPT name"),
        'NO "GETSCRIPT expects a quoted string or a literal"',
      );
      assertEquals(await client.send(""), 'NO "Empty command"');
      assertEquals(
        await client.send(`NOOP "${"x".repeat(1025)}"`),
        'NO "Quoted string too long; send a literal"',
      );
      // A literal announced after a syntax error is still consumed, never run as commands.
      assertEquals(
        await client.send(`GETSCRIPT "a" % ${literal("LOGOUT\r\n")}`),
        'NO "Unexpected character"',
      );
      assertEquals(await client.send(`NOOP "a" "b" "c"`), 'NO "Too many arguments"');
      assertEquals(await client.send("X".repeat(70 * 1024)), 'NO "Line too long"');
      assertEquals(await client.send("NOOP"), 'OK "NOOP completed"');
      assertEquals(await client.send("LOGOUT"), 'OK "Logout completed"');
      assert(await client.line.waitClosed());
    });
  } finally {
    await server.stop();
    await Deno.remove(server.dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("ManageSieve: allow_plaintext_auth lets AUTHENTICATE through before STARTTLS", async () => {
  const server = await startServer({ extra: "[sieve]\nallow_plaintext_auth = true" });
  try {
    await cliAll(server, [["account", "add", ALICE, "--password", "pw-alice"]]);
    const { client, greeting } = await SieveClient.connect(server);
    assertEquals(capability(greeting, "SASL"), "PLAIN LOGIN");
    assertEquals(capability(greeting, "STARTTLS"), null);
    assertEquals(
      await client.send(`AUTHENTICATE "PLAIN" "${plain(ALICE, "pw-alice")}"`),
      'OK "Logged in"',
    );
    assertEquals(await client.list(), []);
    await client.close();
  } finally {
    await server.stop();
    await Deno.remove(server.dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("ManageSieve: failed logins hit the shared rate limiter", async () => {
  const server = await startServer({ auth: { max_failures_per_ip: 2 } });
  try {
    await cliAll(server, [["account", "add", ALICE, "--password", "pw-alice"]]);
    const { client } = await SieveClient.tls(server);
    assertEquals(
      await client.send(`AUTHENTICATE "PLAIN" "${plain(ALICE, "wrong")}"`),
      'NO "Authentication failed"',
    );
    assertEquals(
      await client.send(`AUTHENTICATE "PLAIN" "${plain("nobody@example.com", "wrong")}"`),
      'NO "Authentication failed"',
    );
    // Blocked now, even with the right password.
    assertEquals(
      await client.send(`AUTHENTICATE "PLAIN" "${plain(ALICE, "pw-alice")}"`),
      'NO (TRYLATER) "Too many failed logins, try again later"',
    );
    await client.close();
  } finally {
    await server.stop();
    await Deno.remove(server.dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("ManageSieve: an idle session gets BYE", async () => {
  const server = await startServer({ limits: { idle_timeout: "1s" } });
  try {
    const { client } = await SieveClient.connect(server);
    assertEquals(await client.line.readLine(3000), 'BYE "Disconnected for inactivity"');
    assert(await client.line.waitClosed());
  } finally {
    await server.stop();
    await Deno.remove(server.dir, { recursive: true }).catch(() => {});
  }
});
