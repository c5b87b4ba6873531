/**
 * The release artifact: `deno task build` bundles main.ts (and the password worker) into dist/;
 * the bundle must run on its own: answer `version`, deliver through the CLI, and serve.
 */
import { assertEquals, assertMatch } from "../helpers/assert.ts";
import { makeTestConfig } from "../helpers/server.ts";

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
      const built = await run(["bundle", "--platform=deno", entry, "-o", `${out}/${file}`]);
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
    await Deno.remove(dir, { recursive: true });
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
