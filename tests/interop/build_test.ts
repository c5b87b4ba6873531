/**
 * The release artifact: `deno task build` bundles main.ts (and the password worker) into dist/;
 * the bundle must run on its own: answer `version`, deliver through the CLI, and serve.
 */
import { assertEquals, assertMatch } from "../helpers/assert.ts";
import { makeTestConfig } from "../helpers/server.ts";
import { startDnsServer } from "../helpers/dns_server.ts";
import { DatabaseSync } from "node:sqlite";
import { blobPath } from "../helpers/mail.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

async function run(args: string[], options: { cwd?: string; stdin?: string } = {}) {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: options.cwd ?? ROOT,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const output = await child.output();
  return {
    code: output.code,
    stdout: new TextDecoder().decode(output.stdout),
    stderr: new TextDecoder().decode(output.stderr),
  };
}

Deno.test("the bundled build runs on its own", async () => {
  const out = await Deno.makeTempDir({ prefix: "postern-build-" });
  try {
    for (
      const [entry, file] of [["main.ts", "postern.js"], [
        "src/directory/password_worker.ts",
        "password_worker.js",
      ]]
    ) {
      const built = await run([
        "bundle",
        "--platform=deno",
        "--external=mailauth",
        entry,
        "-o",
        `${out}/${file}`,
      ]);
      assertEquals(built.code, 0, built.stderr);
    }
    const version = await run(["run", "-A", `${out}/postern.js`, "version"], { cwd: out });
    assertMatch(version.stdout, /^postern \d+\.\d+\.\d+ /);

    const { dir, configPath } = await makeTestConfig();
    await run([
      "run",
      "-A",
      `${out}/postern.js`,
      "domain",
      "add",
      "example.com",
      "--config",
      configPath,
    ]);
    const added = await run([
      "run",
      "-A",
      `${out}/postern.js`,
      "account",
      "add",
      "alice@example.com",
      "--password",
      "pw",
      "--config",
      configPath,
    ]);
    assertEquals(added.stdout, "added account alice@example.com\n", added.stderr);
    const delivered = await run(
      ["run", "-A", `${out}/postern.js`, "deliver", "alice@example.com", "--config", configPath],
      { stdin: "Subject: from the bundle\r\n\r\nhi\r\n" },
    );
    assertMatch(delivered.stdout, /delivered to alice@example\.com \(uid 1\)/);
    assertEquals(delivered.stderr.includes("worker"), false, delivered.stderr);

    // The bundle serves SMTP, and loads mailauth (left out of the bundle) at run time.
    const dns = await startDnsServer({});
    const smtpConfig = await makeTestConfig({ dns: `${dns.host}:${dns.port}` });
    await run([
      "run",
      "-A",
      `${out}/postern.js`,
      "domain",
      "add",
      "example.com",
      "--config",
      smtpConfig.configPath,
    ]);
    await run([
      "run",
      "-A",
      `${out}/postern.js`,
      "account",
      "add",
      "bob@example.com",
      "--password",
      "pw",
      "--config",
      smtpConfig.configPath,
    ]);
    const server = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${out}/postern.js`, "serve", "--config", smtpConfig.configPath],
      cwd: out,
      stdout: "null",
      stderr: "piped",
    }).spawn();
    let port = 0;
    let httpPort = 0;
    let log = "";
    const stderr = server.stderr.pipeThrough(new TextDecoderStream()).getReader();
    while (!log.includes('"msg":"ready"')) {
      const { value, done } = await stderr.read();
      if (done) break;
      log += value;
      port ||= Number(/"service":"smtp","address":"127\.0\.0\.1:(\d+)"/.exec(log)?.[1] ?? 0);
      httpPort ||= Number(/"service":"http","address":"127\.0\.0\.1:(\d+)"/.exec(log)?.[1] ?? 0);
    }
    // Keep draining the server's log, or its writes to a closed pipe would fail.
    const drained = (async () => {
      while (!(await stderr.read()).done) { /* discard */ }
    })();
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const encoder = new TextEncoder();
    const decoder = new TextDecoder();
    const buffer = new Uint8Array(4096);
    let replies = "";
    const until = async (pattern: RegExp) => {
      while (!pattern.test(replies)) {
        const n = await conn.read(buffer);
        if (n === null) break;
        replies += decoder.decode(buffer.subarray(0, n));
      }
    };
    await conn.write(encoder.encode(
      "EHLO client.example\r\nMAIL FROM:<a@sender.test>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n",
    ));
    await until(/\r\n354 /);
    await conn.write(encoder.encode("Subject: over smtp\r\n\r\nhello\r\n.\r\nQUIT\r\n"));
    await until(/\r\n221 /);
    conn.close();
    // The pages built at their first request (src/http/lazy.ts) load from the bundle too.
    const page = await fetch(`http://127.0.0.1:${httpPort}/admin/login`);
    assertMatch(await page.text(), /<form[^>]*action="\/admin\/login"/);
    const api = await fetch(`http://127.0.0.1:${httpPort}/api/status`);
    await api.body?.cancel();
    assertEquals(api.status, 401);
    server.kill("SIGTERM");
    await server.status;
    await drained;
    await dns.close();
    assertMatch(replies, /\r\n250 2\.0\.0 [^\r]*\r\n221 /);
    const db = new DatabaseSync(`${smtpConfig.dir}/data/postern.db`, { readOnly: true });
    const row = db.prepare("SELECT blob_hash FROM emails WHERE subject = 'over smtp'").get() as {
      blob_hash: string;
    };
    db.close();
    const stored = await Deno.readTextFile(
      blobPath(smtpConfig.dir, row.blob_hash),
    );
    assertMatch(stored, /Authentication-Results: mail\.example\.com;/);
    await Deno.remove(smtpConfig.dir, { recursive: true });
    await Deno.remove(dir, { recursive: true });
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
