/**
 * Dovecot as the side-by-side peer: a throwaway Dovecot with only LMTP on loopback, delivering
 * into Maildir, fed by N concurrent LMTP sessions (what Postfix does in the classic stack).
 */
import { makeMessage } from "./corpus.ts";
import { freePort, killAndWait, readPidFile, waitForPort } from "./procs.ts";

const DOVECOT = "/usr/sbin/dovecot";

export async function dovecotLmtpAvailable(): Promise<boolean> {
  try {
    await Deno.stat(DOVECOT);
    await Deno.stat("/usr/lib/dovecot/lmtp");
    return true;
  } catch {
    return false;
  }
}

export async function runDovecotLmtp(
  messages: Uint8Array[],
  sessions: number,
): Promise<{ seconds: number }> {
  const dir = await Deno.makeTempDir({ prefix: "postern-dovecot-" });
  const port = freePort();
  const pid = await startDovecotLmtp(dir, port, 2);
  try {
    const started = performance.now();
    let next = 0;
    await Promise.all(Array.from({ length: sessions }, async () => {
      const session = await LmtpClient.connect(port);
      while (next < messages.length) await session.deliver(messages[next++], "alice@example.com");
      await session.quit();
    }));
    return { seconds: (performance.now() - started) / 1000 };
  } finally {
    await killAndWait(pid);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/**
 * Starts a Dovecot with only LMTP on 127.0.0.1:`port`, delivering into Maildirs under `dir`
 * (static passdb and userdb), `processes` LMTP processes kept ready; resolves to the master's
 * pid once the port answers.
 */
export async function startDovecotLmtp(
  dir: string,
  port: number,
  processes: number,
): Promise<number> {
  for (const sub of ["run", "state", "mail"]) {
    await Deno.mkdir(`${dir}/${sub}`, { recursive: true });
  }
  await Deno.chmod(dir, 0o755);
  await new Deno.Command("chown", { args: ["-R", "nobody:nogroup", `${dir}/mail`] }).output();
  const config = `
base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${dir}/dovecot.log
ssl = no
protocols = lmtp
mail_location = maildir:${dir}/mail/%u
passdb {
  driver = static
  args = password=x
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=${dir}/mail/%u
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = ${port}
  }
  process_min_avail = ${processes}
}
`;
  await Deno.writeTextFile(`${dir}/dovecot.conf`, config);
  const log = () => Deno.readTextFile(`${dir}/dovecot.log`).catch(() => "(no log)");
  // The daemon keeps inherited pipes open, so give it none and read its log on failure.
  const start = await new Deno.Command(DOVECOT, {
    args: ["-c", `${dir}/dovecot.conf`],
    stdout: "null",
    stderr: "null",
  }).output();
  if (!start.success) throw new Error(`dovecot failed to start: ${await log()}`);
  // The master writes its pid file after it has detached, so `dovecot` may return before it.
  const pid = await readPidFile(`${dir}/run/master.pid`);
  if (!pid) throw new Error(`dovecot wrote no pid file: ${await log()}`);
  try {
    await waitForPort(port);
  } catch (error) {
    await killAndWait(pid);
    throw error;
  }
  return pid;
}

class LmtpClient {
  #buffer = "";
  #decoder = new TextDecoder();
  #encoder = new TextEncoder();
  private constructor(private conn: Deno.TcpConn) {}

  static async connect(port: number): Promise<LmtpClient> {
    const client = new LmtpClient(await Deno.connect({ hostname: "127.0.0.1", port }));
    await client.#reply();
    await client.#command("LHLO bench.example");
    return client;
  }

  async deliver(message: Uint8Array, recipient: string) {
    await this.#command("MAIL FROM:<sender@example.net>");
    await this.#command(`RCPT TO:<${recipient}>`);
    await this.#command("DATA", "354");
    const text = this.#decoder.decode(message).replace(/^\./gm, "..");
    await this.#write(text.endsWith("\r\n") ? text : text + "\r\n");
    await this.#command(".");
  }

  async quit() {
    await this.#command("QUIT", "221");
    this.conn.close();
  }

  async #write(text: string) {
    const bytes = this.#encoder.encode(text);
    let written = 0;
    while (written < bytes.length) written += await this.conn.write(bytes.subarray(written));
  }

  async #command(line: string, expect = "2") {
    await this.#write(line + "\r\n");
    const reply = await this.#reply();
    if (!reply.startsWith(expect)) throw new Error(`LMTP ${line} → ${reply}`);
  }

  async #reply(): Promise<string> {
    const chunk = new Uint8Array(4096);
    while (true) {
      const match = /(^|\r\n)(\d{3}) [^\r\n]*\r\n/.exec(this.#buffer);
      if (match) {
        const end = match.index + match[0].length;
        const reply = this.#buffer.slice(0, end).replace(/^\r\n/, "");
        this.#buffer = this.#buffer.slice(end);
        return reply.split("\r\n").filter(Boolean).at(-1)!;
      }
      const n = await this.conn.read(chunk);
      if (n === null) throw new Error("LMTP connection closed");
      this.#buffer += this.#decoder.decode(chunk.subarray(0, n));
    }
  }
}

export { makeMessage };
