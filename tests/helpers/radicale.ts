/**
 * A private Radicale (the reference CalDAV/CardDAV server) as an interop peer: one user with a
 * random password in a plain htpasswd file, filesystem storage, a config and a rights file in a
 * temporary folder, listening on a free 127.0.0.1 port. The stock rights refuse the nested
 * collections litmus creates, so the rights file grants the owner `RrWw` on `{user}(/.*)?`
 * (and everyone `R` on the root, for principal discovery). Needs the `radicale` package
 * (scripts/install-dav-peers.sh); it runs with Debian's /usr/bin/python3.
 *
 * Paths on it: the principal and both homes are `/<user>/`; a calendar or address book is any
 * collection below it created with MKCALENDAR or an extended MKCOL.
 *
 * @example
 * const radicale = await startRadicale();
 * try {
 *   await fetch(`${radicale.url}${radicale.user}/`, { method: "PROPFIND", headers: {...} });
 * } finally {
 *   await radicale.stop();
 * }
 */

export interface RadicalePeer {
  /** Root URL with a trailing slash, e.g. "http://127.0.0.1:40123/". */
  url: string;
  user: string;
  password: string;
  /** The temporary folder holding config, rights, htpasswd and the storage. */
  dir: string;
  /** Kills the server, waits for it, removes `dir`. Idempotent. */
  stop(): Promise<void>;
}

const USER = "alice";
const START_TIMEOUT_MS = 15_000;

/** Starts a private Radicale; resolves once it answers HTTP. */
export async function startRadicale(): Promise<RadicalePeer> {
  const dir = await Deno.makeTempDir({ prefix: "postern-radicale-" });
  const password = crypto.randomUUID();
  const port = freePort();
  await Deno.mkdir(`${dir}/collections`);
  await Deno.writeTextFile(`${dir}/htpasswd`, `${USER}:${password}\n`);
  await Deno.writeTextFile(
    `${dir}/rights`,
    [
      "[root]",
      "user: .+",
      "collection:",
      "permissions: R",
      "",
      "[owner]",
      "user: .+",
      "collection: {user}(/.*)?",
      "permissions: RrWw",
      "",
    ].join("\n"),
  );
  await Deno.writeTextFile(
    `${dir}/config`,
    [
      "[server]",
      `hosts = 127.0.0.1:${port}`,
      "[auth]",
      "type = htpasswd",
      `htpasswd_filename = ${dir}/htpasswd`,
      "htpasswd_encryption = plain",
      // Radicale sleeps up to this long after a failed login; tests that try a wrong password
      // should not wait for it.
      "delay = 0",
      "[rights]",
      "type = from_file",
      `file = ${dir}/rights`,
      "[storage]",
      `filesystem_folder = ${dir}/collections`,
      "[logging]",
      "level = warning",
      "",
    ].join("\n"),
  );
  // --config replaces the default search path, so /etc/radicale/config is not read.
  const process = new Deno.Command("/usr/bin/python3", {
    args: ["-m", "radicale", "--config", `${dir}/config`],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = drain(process);
  const url = `http://127.0.0.1:${port}/`;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    try {
      process.kill("SIGTERM");
    } catch { /* already gone */ }
    await process.status;
    await output.done;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    try {
      const response = await fetch(url);
      await response.body?.cancel();
      break;
    } catch {
      if (Date.now() > deadline || output.exited()) {
        await stop();
        throw new Error(`Radicale did not start on ${url}:\n${output.text()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return { url, user: USER, password, dir, stop };
}

/** A port that was free a moment ago (the OS picks it; Radicale binds it right after). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Collects the child's stdout and stderr (for the error message when it does not start). */
function drain(process: Deno.ChildProcess) {
  let text = "";
  let exited = false;
  process.status.then(() => exited = true);
  const read = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) text += chunk;
  };
  const done = Promise.all([read(process.stdout), read(process.stderr)]);
  return { done, text: () => text, exited: () => exited };
}
