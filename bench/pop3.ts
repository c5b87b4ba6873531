/**
 * `deno task bench pop3 [--accounts A] [--messages M] [--clients C]`: POP3 retrieval. A accounts
 * hold M messages of 2–50 KB each (bench/corpus.ts); C clients at once, one account each, log in
 * with USER/PASS, STAT, RETR every message one after the other, and QUIT (keeping the mail). The
 * clock runs from the first connection to the last QUIT. First against the real Postern server
 * (the `pop3` listener, plaintext logins allowed as Dovecot's are on loopback), then in the same
 * run against Dovecot's POP3 (dovecot-pop3d) with a throwaway config over the same messages in
 * Maildir. Prints messages/s, MB/s, the ratio and memory; never passes or fails on time.
 */
import { parseArgs } from "node:util";
import { loadConfig } from "../src/config/load.ts";
import { configureLogging } from "../src/observability/log.ts";
import { openApp } from "../src/app.ts";
import { makeMessage } from "./corpus.ts";
import { makeTestConfig, startServer } from "../tests/helpers/server.ts";
import {
  freePort,
  killAndWait,
  processTree,
  readPidFile,
  statusKiB,
  waitForPort,
} from "./procs.ts";

const DOVECOT = "/usr/sbin/dovecot";
const PASSWORD = "bench-pw";
const ROOT = new URL("../", import.meta.url).pathname;

interface Figures {
  seconds: number;
  messages: number;
  bytes: number;
  /** Peak RSS summed over the server's processes, sampled every 100 ms. */
  peakKiB: number;
  idleKiB: number;
  processes: number;
}

export async function run(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      accounts: { type: "string", default: "10" },
      messages: { type: "string", default: "500" },
      clients: { type: "string", default: "10" },
    },
  });
  const accounts = Number(values.accounts);
  const perAccount = Number(values.messages);
  const clients = Number(values.clients);
  configureLogging({ level: "warn" });
  await new Deno.Command("bash", { args: [`${ROOT}scripts/install-pop3-peers.sh`] }).output()
    .catch(() => null);

  const corpus = Array.from({ length: perAccount }, (_, i) => {
    const size = 2048 + ((i * 7919) % (48 * 1024));
    return makeMessage(i, size);
  });
  const totalBytes = corpus.reduce((n, m) => n + m.length, 0) * accounts;
  console.log(
    `maildrops: ${accounts} accounts × ${perAccount} messages of 2–50 KB ` +
      `(${(totalBytes / 1024 / 1024).toFixed(1)} MiB in all); ${clients} clients, RETR of every ` +
      `message, one command at a time`,
  );
  const loadAverage = (await Deno.readTextFile("/proc/loadavg")).split(" ")[0];
  console.log(`machine: ${navigator.hardwareConcurrency} CPUs, load average ${loadAverage}`);

  const postern = await runPostern(accounts, corpus, clients);
  print("postern pop3", postern);
  let dovecot: Figures | null = null;
  if (await dovecotPop3Available()) {
    dovecot = await runDovecot(accounts, corpus, clients);
    print("dovecot pop3", dovecot);
    console.log(
      `ratio postern/dovecot (messages/s): ${(dovecot.seconds / postern.seconds).toFixed(2)}x`,
    );
  } else {
    console.log("dovecot: not installed (apt-get install dovecot-pop3d) — no side-by-side figure");
  }
}

function print(label: string, f: Figures) {
  console.log(
    `${label.padEnd(14)} ${(f.messages / f.seconds).toFixed(0).padStart(6)} messages/s  ` +
      `${(f.bytes / 1024 / 1024 / f.seconds).toFixed(1).padStart(6)} MiB/s  (${
        f.seconds.toFixed(2)
      } s)  RSS idle ${mib(f.idleKiB)} MiB, peak ${mib(f.peakKiB)} MiB over ${f.processes} ` +
      `process${f.processes === 1 ? "" : "es"}`,
  );
}

function mib(kiB: number): string {
  return (kiB / 1024).toFixed(1);
}

const account = (i: number) => `user${i}@example.com`;

async function runPostern(
  accounts: number,
  corpus: Uint8Array[],
  clients: number,
): Promise<Figures> {
  const { dir, configPath } = await makeTestConfig({
    extra: "[pop3]\nallow_plaintext_auth = true",
  });
  try {
    const app = await openApp(await loadConfig(configPath, { env: {} }));
    await app.directory.addDomain("example.com");
    for (let a = 0; a < accounts; a++) {
      const { id } = await app.directory.addAccount(account(a), { password: PASSWORD });
      let next = 0;
      await Promise.all(Array.from({ length: 16 }, async () => {
        while (next < corpus.length) await app.messages.ingest(corpus[next++], { accountId: id });
      }));
    }
    await app.close();
    const server = await startServer({ dir, configPath });
    try {
      return await drive(server.ports.pop3, accounts, clients, () => [server.process.pid]);
    } finally {
      await server.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

export async function dovecotPop3Available(): Promise<boolean> {
  try {
    await Deno.stat(DOVECOT);
    await Deno.stat("/usr/lib/dovecot/pop3");
    return true;
  } catch {
    return false;
  }
}

async function runDovecot(
  accounts: number,
  corpus: Uint8Array[],
  clients: number,
): Promise<Figures> {
  const dir = await Deno.makeTempDir({ prefix: "postern-dovecot-pop3-" });
  await Deno.chmod(dir, 0o755);
  const port = freePort();
  for (const sub of ["run", "state", "mail"]) await Deno.mkdir(`${dir}/${sub}`);
  // Maildir files as Dovecot's own delivery writes them: LF line ends, with S= (file size) and
  // W= (CRLF size) in the name so LIST/STAT need not read the files.
  const encoder = new TextEncoder();
  const files = corpus.map((m) => {
    const lf = encoder.encode(new TextDecoder().decode(m).replaceAll("\r\n", "\n"));
    return { lf, crlfSize: m.length };
  });
  for (let a = 0; a < accounts; a++) {
    const home = `${dir}/mail/${account(a)}`;
    for (const sub of ["cur", "new", "tmp"]) {
      await Deno.mkdir(`${home}/${sub}`, { recursive: true });
    }
    for (const [i, file] of files.entries()) {
      const name = `${1700000000 + i}.M${i}P1.bench,S=${file.lf.length},W=${file.crlfSize}`;
      await Deno.writeFile(`${home}/new/${name}`, file.lf);
    }
  }
  await new Deno.Command("chown", { args: ["-R", "nobody:nogroup", `${dir}/mail`] }).output();
  const config = `
base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${dir}/dovecot.log
ssl = no
disable_plaintext_auth = no
protocols = pop3
mail_location = maildir:${dir}/mail/%u
pop3_uidl_format = %08Xu%08Xv
passdb {
  driver = static
  args = password=${PASSWORD}
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=${dir}/mail/%u
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = ${port}
  }
  inet_listener pop3s {
    port = 0
  }
  service_count = 0
  process_min_avail = 2
}
service auth {
  client_limit = 2000
}
service pop3 {
  service_count = 1000
  process_min_avail = ${clients}
}
`;
  await Deno.writeTextFile(`${dir}/dovecot.conf`, config);
  const start = await new Deno.Command(DOVECOT, {
    args: ["-c", `${dir}/dovecot.conf`],
    stdout: "null",
    stderr: "null",
  }).output();
  if (!start.success) {
    const log = await Deno.readTextFile(`${dir}/dovecot.log`).catch(() => "");
    throw new Error(`dovecot failed to start: ${log}`);
  }
  let master = 0;
  try {
    await waitForPort(port);
    master = await readPidFile(`${dir}/run/master.pid`);
    if (!master) throw new Error("dovecot wrote no pid file");
    await new Promise((r) => setTimeout(r, 500)); // let process_min_avail fill
    return await drive(port, accounts, clients, () => processTree([master]));
  } finally {
    if (!master) master = await readPidFile(`${dir}/run/master.pid`);
    if (master) await killAndWait(master);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** Runs the clients against `port` and samples the server's memory meanwhile. */
async function drive(
  port: number,
  accounts: number,
  clients: number,
  processes: () => number[],
): Promise<Figures> {
  const rssOf = (pids: number[]) => pids.reduce((n, pid) => n + statusKiB(pid, "VmRSS"), 0);
  const idleKiB = rssOf(processes());
  let peakKiB = idleKiB;
  let peakProcesses = processes().length;
  const sampler = setInterval(() => {
    const pids = processes();
    peakKiB = Math.max(peakKiB, rssOf(pids));
    peakProcesses = Math.max(peakProcesses, pids.length);
  }, 100);
  let nextAccount = 0;
  let messages = 0;
  let bytes = 0;
  const started = performance.now();
  try {
    await Promise.all(Array.from({ length: clients }, async () => {
      while (nextAccount < accounts) {
        const user = account(nextAccount++);
        const result = await retrieveAll(port, user);
        messages += result.messages;
        bytes += result.bytes;
      }
    }));
  } finally {
    clearInterval(sampler);
  }
  const seconds = (performance.now() - started) / 1000;
  return { seconds, messages, bytes, peakKiB, idleKiB, processes: peakProcesses };
}

/** One POP3 session: USER/PASS, STAT, RETR 1..n, QUIT. Returns messages and octets (by STAT). */
async function retrieveAll(
  port: number,
  user: string,
): Promise<{ messages: number; bytes: number }> {
  const client = new Pop3Reader(await Deno.connect({ hostname: "127.0.0.1", port }));
  try {
    await client.status();
    await client.command(`USER ${user}`);
    await client.command(`PASS ${PASSWORD}`);
    const [count, size] = (await client.command("STAT")).split(" ").slice(1).map(Number);
    for (let i = 1; i <= count; i++) {
      await client.command(`RETR ${i}`);
      await client.body();
    }
    await client.command("QUIT");
    return { messages: count, bytes: size };
  } finally {
    client.close();
  }
}

const TERMINATOR = new TextEncoder().encode("\r\n.\r\n");

/** A minimal POP3 reader over raw bytes: status lines and dot-terminated bodies. */
class Pop3Reader {
  #buffer = new Uint8Array(1 << 20);
  #start = 0;
  #end = 0;
  readonly #encoder = new TextEncoder();
  readonly #decoder = new TextDecoder();

  constructor(private readonly conn: Deno.TcpConn) {}

  async command(line: string): Promise<string> {
    const bytes = this.#encoder.encode(`${line}\r\n`);
    for (let written = 0; written < bytes.length;) {
      written += await this.conn.write(bytes.subarray(written));
    }
    const status = await this.status();
    if (!status.startsWith("+OK")) throw new Error(`${line.split(" ")[0]} → ${status}`);
    return status;
  }

  async status(): Promise<string> {
    for (;;) {
      const lf = this.#buffer.subarray(this.#start, this.#end).indexOf(0x0a);
      if (lf >= 0) {
        const line = this.#decoder.decode(this.#buffer.subarray(this.#start, this.#start + lf - 1));
        this.#start += lf + 1;
        return line;
      }
      await this.#fill();
    }
  }

  /** Skips a multi-line body up to and including its terminator. */
  async body(): Promise<void> {
    // The body starts right after a CRLF, so an empty body is ".\r\n" at once.
    let scanned = 0; // bytes after #start known to hold no terminator start
    for (;;) {
      const held = this.#buffer.subarray(this.#start, this.#end);
      if (held.length >= 3 && held[0] === 0x2e && held[1] === 0x0d && held[2] === 0x0a) {
        this.#start += 3;
        return;
      }
      const at = indexOfSequence(held, TERMINATOR, scanned);
      if (at >= 0) {
        this.#start += at + TERMINATOR.length;
        return;
      }
      scanned = Math.max(0, held.length - TERMINATOR.length + 1);
      await this.#fill();
    }
  }

  async #fill(): Promise<void> {
    if (this.#end === this.#buffer.length) {
      const held = this.#end - this.#start;
      const target = held === this.#buffer.length
        ? new Uint8Array(this.#buffer.length * 2)
        : this.#buffer;
      target.set(this.#buffer.subarray(this.#start, this.#end), 0);
      this.#buffer = target;
      this.#start = 0;
      this.#end = held;
    }
    const n = await this.conn.read(this.#buffer.subarray(this.#end));
    if (n === null) throw new Error("POP3 connection closed");
    this.#end += n;
  }

  close(): void {
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }
}

function indexOfSequence(haystack: Uint8Array, needle: Uint8Array, from: number): number {
  for (
    let at = haystack.indexOf(needle[0], from);
    at >= 0;
    at = haystack.indexOf(needle[0], at + 1)
  ) {
    if (at + needle.length > haystack.length) return -1;
    let i = 1;
    while (i < needle.length && haystack[at + i] === needle[i]) i++;
    if (i === needle.length) return at;
  }
  return -1;
}
