/**
 * Interop: cadaver, a command-line WebDAV client (neon underneath), driven through stdin with
 * its credentials in ~/.netrc of a temporary HOME, works in Postern's WebDAV file space: MKCOL a
 * collection, PUT a file with every byte value into it, list both, GET the file back
 * byte-identical, DELETE it and the collection, and list the space empty again.
 * Needs `cadaver` (scripts/install-dav-peers.sh).
 */
import { assert, assertEquals, assertStringIncludes } from "../helpers/assert.ts";
import { cli, startServer } from "../helpers/server.ts";

const LOGIN = "alice@example.com";
const PASSWORD = "pw-alice-dav";

/** What cadaver printed for one command line of its stdin. */
export interface CadaverStep {
  command: string;
  output: string;
}

/**
 * Runs cadaver on `url` with `commands` on stdin (one per line, "quit" appended) in `cwd`, with a
 * temporary HOME whose .netrc holds the credentials, and splits its output per command.
 * cadaver exits 0 whatever its commands did; each step's output says "succeeded" or why not.
 */
export async function runCadaver(
  url: string,
  user: string,
  password: string,
  cwd: string,
  commands: string[],
): Promise<CadaverStep[]> {
  const home = await Deno.makeTempDir({ prefix: "postern-cadaver-home-" });
  try {
    const host = new URL(url).hostname;
    // Without a .netrc entry cadaver asks for the username on stdin and eats a command.
    await Deno.writeTextFile(
      `${home}/.netrc`,
      `machine ${host}\nlogin ${user}\npassword ${password}\n`,
      { mode: 0o600 },
    );
    const child = new Deno.Command("cadaver", {
      args: [url],
      cwd,
      env: { HOME: home },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(60_000),
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode([...commands, "quit", ""].join("\n")));
    await writer.close();
    const result = await child.output();
    const decoder = new TextDecoder();
    const output = decoder.decode(result.stdout) + decoder.decode(result.stderr);
    assertEquals(result.code, 0, output);
    // cadaver echoes each command after its prompt, "dav:/path/> command".
    const parts = output.split(/^dav:[^\n>]*> /m);
    return commands.map((command, i) => {
      const part = parts[i + 1] ?? "";
      assert(part.startsWith(command), `cadaver did not run "${command}":\n${output}`);
      return { command, output: part.slice(command.length).trim() };
    });
  } finally {
    await Deno.remove(home, { recursive: true });
  }
}

/** Every byte value, twice, so nothing in the path from client to disk may transcode. */
function binaryFile(): Uint8Array {
  const bytes = new Uint8Array(512);
  for (let i = 0; i < bytes.length; i++) bytes[i] = i % 256;
  return bytes;
}

/**
 * The cadaver scenario against a WebDAV collection `url` the account may write in: MKCOL
 * `interop/`, PUT, list, GET, compare, DELETE, RMCOL, list.
 */
export async function cadaverScenario(url: string, user: string, password: string) {
  const cwd = await Deno.makeTempDir({ prefix: "postern-cadaver-" });
  try {
    const file = binaryFile();
    await Deno.writeFile(`${cwd}/upload.bin`, file);
    const steps = await runCadaver(url, user, password, cwd, [
      "mkcol interop",
      "cd interop",
      "put upload.bin data.bin",
      "ls",
      "get data.bin download.bin",
      "delete data.bin",
      "ls",
      "cd ..",
      "ls",
      "rmcol interop",
      "ls",
    ]);
    const transcript = steps.map((s) => `> ${s.command}\n${s.output}`).join("\n");
    const [mkcol, cd, put, listed, get, del, emptied, up, listedTop, rmcol, finalList] = steps;
    assertStringIncludes(mkcol.output, "succeeded", transcript);
    assert(!/fail|error/i.test(cd.output), transcript);
    assertStringIncludes(put.output, "succeeded", transcript);
    // The upload went into the new collection, so "cd" worked.
    assertStringIncludes(put.output, "/interop/data.bin'", transcript);
    // "ls" prints one line per member: name, size, date.
    assert(/^\s*data\.bin\s+512\s/m.test(listed.output), transcript);
    assertStringIncludes(get.output, "succeeded", transcript);
    assertEquals(await Deno.readFile(`${cwd}/download.bin`), file, transcript);
    assertStringIncludes(del.output, "succeeded", transcript);
    assertStringIncludes(emptied.output, "collection is empty", transcript);
    assert(!/fail|error/i.test(up.output), transcript);
    // Collections are listed with "Coll:" before the name.
    assert(/^Coll:\s+interop\s/m.test(listedTop.output), transcript);
    assertStringIncludes(rmcol.output, "succeeded", transcript);
    assert(!/\binterop\b/.test(finalList.output.replace(/`[^`]*'/g, "")), transcript);
  } finally {
    await Deno.remove(cwd, { recursive: true });
  }
}

Deno.test("cadaver makes a collection, puts, lists, gets back and deletes a file", async () => {
  const server = await startServer();
  try {
    const added = await cli(server.configPath, ["account", "add", LOGIN, "--password", PASSWORD]);
    assertEquals(added.code, 0, added.stderr);
    const url = `http://127.0.0.1:${server.ports.http}/dav/files/${encodeURIComponent(LOGIN)}/`;
    await cadaverScenario(url, LOGIN, PASSWORD);
  } finally {
    await server.stop();
    await Deno.remove(server.dir, { recursive: true }).catch(() => {});
  }
});
