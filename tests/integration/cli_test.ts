/** CLI round trips as a user types them, against a fresh data directory (no server running). */
import { assertEquals, assertMatch, assertStringIncludes } from "../helpers/assert.ts";
import { cli, makeTestConfig } from "../helpers/server.ts";

async function withConfig(work: (configPath: string, dir: string) => Promise<void>) {
  const { dir, configPath } = await makeTestConfig();
  try {
    await work(configPath, dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("domain, account, alias and mailbox commands round-trip", async () => {
  await withConfig(async (config) => {
    const ok = async (...args: string[]) => {
      const result = await cli(config, args);
      assertEquals(result.code, 0, `${args.join(" ")}: ${result.stderr}`);
      return result.stdout;
    };
    assertEquals(await ok("domain", "add", "Example.ORG"), "added domain example.org\n");
    assertEquals(await ok("domain", "add", "second.test"), "added domain second.test\n");
    assertEquals(await ok("domain", "list"), "example.org\nsecond.test\n");
    assertEquals(
      await ok("account", "add", "Alice@Example.org", "--password", "pw1", "--quota", "1M"),
      "added account alice@example.org\n",
    );
    assertEquals(
      await ok("account", "add", "bob@example.org", "--hash", "{PLAIN}hunter2"),
      "added account bob@example.org\n",
    );
    const accounts = await ok("account", "list");
    assertMatch(accounts, /alice@example\.org\s+1\.0 MiB\s+0 B/);
    assertMatch(accounts, /bob@example\.org\s+unlimited\s+0 B/);
    assertEquals(
      await ok("account", "list", "--domain", "second.test"),
      "ADDRESS  NAME  QUOTA  USED\n",
    );
    assertEquals(
      await ok("alias", "add", "info@example.org", "alice@example.org"),
      "added alias info@example.org -> alice@example.org\n",
    );
    assertEquals(
      await ok("alias", "add", "@example.org", "bob@example.org"),
      "added alias @example.org -> bob@example.org\n",
    );
    assertMatch(
      await ok("alias", "list"),
      /@example\.org\s+bob@example\.org\ninfo@example\.org\s+alice@example\.org/,
    );
    const boxes = await ok("mailbox", "list", "alice@example.org");
    assertEquals(
      boxes.split("\n")[0].split(/\s+/),
      ["MAILBOX", "ROLE", "MESSAGES", "UNSEEN", "SIZE"],
    );
    assertEquals(boxes.trim().split("\n").slice(1).map((l) => l.split(/\s+/).slice(0, 3)), [
      ["INBOX", "inbox", "0"],
      ["Drafts", "drafts", "0"],
      ["Sent", "sent", "0"],
      ["Junk", "junk", "0"],
      ["Trash", "trash", "0"],
      ["Archive", "archive", "0"],
    ]);
    assertEquals(
      await ok("account", "passwd", "alice@example.org", "--password", "pw2"),
      "password changed for alice@example.org\n",
    );
    assertEquals(
      await ok("alias", "delete", "info@example.org"),
      "deleted alias info@example.org\n",
    );
    assertMatch(
      await ok("account", "delete", "alice@example.org"),
      /^deleted account alice@example\.org/,
    );
    assertEquals(await ok("domain", "delete", "second.test"), "deleted domain second.test\n");
    assertEquals(await ok("domain", "list"), "example.org\n");
  });
});

Deno.test("domain dns prints the records to publish, with the domain's DKIM keys", async () => {
  await withConfig(async (config) => {
    await cli(config, ["domain", "add", "example.org"]);
    const first = await cli(config, ["domain", "dns", "Example.org"]);
    assertEquals(first.code, 0, first.stderr);
    assertStringIncludes(first.stdout, "example.org.\t3600\tIN\tMX\t10 mail.example.com.\n");
    assertMatch(
      first.stdout,
      /rsa-\d{6}\._domainkey\.example\.org\.\t3600\tIN\tTXT\t"v=DKIM1; k=rsa;/,
    );
    assertMatch(
      first.stdout,
      /ed-\d{6}\._domainkey\.example\.org\.\t3600\tIN\tTXT\t"v=DKIM1; k=ed25519;/,
    );
    assertStringIncludes(
      first.stdout,
      '_dmarc.example.org.\t3600\tIN\tTXT\t"v=DMARC1; p=quarantine;',
    );
    // Client discovery and MTA-STS, from the listeners.
    assertMatch(
      first.stdout,
      /^_imaps\._tcp\.example\.org\.\t3600\tIN\tSRV\t0 1 \d+ mail\.example\.com\.$/m,
    );
    assertMatch(
      first.stdout,
      /^_mta-sts\.example\.org\.\t3600\tIN\tTXT\t"v=STSv1; id=[0-9a-f]+"$/m,
    );
    // The keys are stored, not made anew each time.
    const second = await cli(config, ["domain", "dns", "example.org"]);
    assertEquals(second.stdout, first.stdout);
    const missing = await cli(config, ["domain", "dns", "nowhere.test"]);
    assertEquals([missing.code, missing.stderr], [1, "error: no domain nowhere.test\n"]);
  });
});

Deno.test("account add reads the password from stdin when it is not a terminal", async () => {
  await withConfig(async (config) => {
    await cli(config, ["domain", "add", "example.org"]);
    const result = await cli(config, ["account", "add", "carol@example.org"], "from-stdin\n");
    assertEquals(result.code, 0, result.stderr);
    const empty = await cli(config, ["account", "add", "dave@example.org"], "\n");
    assertEquals([empty.code, empty.stderr], [1, "error: the password is empty\n"]);
  });
});

Deno.test("errors are one line on stderr with a non-zero exit", async () => {
  await withConfig(async (config) => {
    const cases: [string[], number, RegExp][] = [
      [
        ["account", "add", "x@nowhere.test", "--password", "p"],
        1,
        /^error: domain nowhere\.test does not exist; add it first/,
      ],
      [
        ["account", "add", "not-an-address", "--password", "p"],
        1,
        /^error: "not-an-address" is not an address/,
      ],
      [
        ["account", "add", "a@b.test", "--hash", "{MD5}abc"],
        1,
        /unsupported or malformed password hash/,
      ],
      [["domain", "delete", "nowhere.test"], 1, /^error: no domain nowhere\.test$/],
      [["domain", "frobnicate"], 2, /^unknown command 'domain frobnicate'/],
      [["frobnicate"], 2, /^unknown command 'frobnicate'/],
      [["domain", "add"], 2, /^missing argument\nusage: postern domain add DOMAIN$/],
      [["account", "add", "a@b.test", "--bogus"], 2, /Unknown option '--bogus'/],
      [
        ["mailbox", "list", "ghost@example.org"],
        1,
        /^error: (no account ghost@example\.org|domain)/,
      ],
    ];
    for (const [args, code, pattern] of cases) {
      const result = await cli(config, args);
      assertEquals(result.code, code, `${args.join(" ")} → ${result.stderr}`);
      assertMatch(result.stderr.trim(), pattern);
      assertEquals(result.stdout, "");
    }
    await cli(config, ["domain", "add", "example.org"]);
    await cli(config, ["account", "add", "a@example.org", "--password", "p"]);
    const busy = await cli(config, ["domain", "delete", "example.org"]);
    assertEquals(busy.code, 1);
    assertEquals(
      busy.stderr,
      "error: domain example.org still has 1 account(s) and 0 alias(es); delete them first\n",
    );
    const dup = await cli(config, ["account", "add", "A@example.org", "--password", "p"]);
    assertEquals(dup.stderr, "error: account a@example.org already exists\n");
  });
});

Deno.test("--help works on every command, and version and config check answer", async () => {
  await withConfig(async (config) => {
    const top = await cli(config, ["--help"]);
    assertEquals(top.code, 0);
    for (
      const word of [
        "serve",
        "domain add",
        "account passwd",
        "alias delete",
        "mailbox list",
        "deliver",
        "config check",
        "version",
      ]
    ) {
      assertStringIncludes(top.stdout, word);
    }
    for (
      const args of [
        ["serve"],
        ["domain", "add"],
        ["account", "add"],
        ["account"],
        ["alias", "list"],
        ["deliver"],
        ["config", "check"],
      ]
    ) {
      const result = await cli(config, [...args, "--help"]);
      assertEquals(result.code, 0, args.join(" "));
      assertMatch(result.stdout, /postern /);
    }
    const version = await cli(config, ["version"]);
    assertMatch(version.stdout, /^postern \d+\.\d+\.\d+ \(deno 2\.9\.6\)\n$/);
    const check = await cli(config, ["config", "check"]);
    assertEquals(check.code, 0);
    assertMatch(check.stdout, /: OK\n/);
    assertMatch(check.stdout, /smtp\s+127\.0\.0\.1:0/);
  });
});

Deno.test("the shipped config.toml passes config check", async () => {
  const result = await cli("./config.toml", ["config", "check"]);
  assertEquals(result.code, 0, result.stderr);
  assertMatch(result.stdout, /https\s+0\.0\.0\.0:443/);
});
