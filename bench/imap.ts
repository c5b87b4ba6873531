/**
 * `deno task bench imap [--clients 10,50] [--seconds S] [--messages M] [--big B] [--idle I]`:
 * IMAP under a mixed load, Postern against Dovecot in the same run.
 *
 * - Load: for each client count C, C clients at once, each on an account of its own holding M
 *   messages of 2–20 KB (bench/corpus.ts), loop for S seconds over one session: LOGIN,
 *   LIST "" "*", SELECT INBOX, FETCH 1:* (UID FLAGS), FETCH of ENVELOPE for 50 messages,
 *   3 × UID FETCH n BODY.PEEK[] of random messages, UID STORE +FLAGS (\Seen) on a random message,
 *   APPEND of a 1 KB message (LITERAL+), UID STORE +FLAGS.SILENT (\Deleted) on it, EXPUNGE,
 *   LOGOUT. One command, one operation; the clients do not pipeline. Before the clock starts
 *   every account is opened once on both servers (Dovecot builds its index files then).
 * - A B-message mailbox (3 KB messages; one in 1,000 holds the word "zanzibar"):
 *   SELECT, `UID FETCH 1:* (FLAGS)` and `SEARCH TEXT zanzibar`, first run and best of three.
 *   B is 20,000 by default: the 100,000 takes Postern two minutes to seed here.
 * - Postern only, on the server restarted after the load: RSS with I connections logged in,
 *   INBOX selected, in IDLE.
 *
 * Postern: the real server (tests/helpers/server.ts) with `[imap] allow_plaintext_auth` on its
 * 143 listener, seeded through the message path (src/app.ts) before it starts. Dovecot
 * (bench/imap_dovecot.ts): Maildir written directly, `ssl = no`, tuned process model. Both over
 * plain TCP on loopback. Memory: Postern is one process (VmHWM, the lifetime peak); Dovecot is
 * many, so its figure is the peak of the PSS summed over all of them (sampled every 250 ms), its
 * RSS sum beside it. Prints figures; never passes or fails on time.
 */
import { parseArgs } from "node:util";
import { createConnection, type Socket } from "node:net";
import { loadConfig } from "../src/config/load.ts";
import { configureLogging } from "../src/observability/log.ts";
import { openApp } from "../src/app.ts";
import { makeMessage } from "./corpus.ts";
import { makeTestConfig, startServer } from "../tests/helpers/server.ts";
import { dovecotImapAvailable, startDovecotImap } from "./imap_dovecot.ts";
import { rollupKiB, statusKiB } from "./procs.ts";

const PASSWORD = "bench-pw";
const BIG_USER = "big@example.com";
const RARE_WORD = "zanzibar";
const account = (i: number) => `user${i}@example.com`;

interface LoadFigures {
  clients: number;
  seconds: number;
  operations: number;
  /** Milliseconds per command name. */
  latencies: Map<string, number[]>;
  peakKiB: number;
  peakRssSumKiB: number;
  processes: number;
  errors: number;
  /** Fewest and most messages SELECT reported: APPEND and EXPUNGE keep the count steady. */
  exists: [number, number];
}

interface BigFigures {
  selectMs: number;
  fetchFirstMs: number;
  fetchBestMs: number;
  fetched: number;
  searchFirstMs: number;
  searchBestMs: number;
  hits: number;
}

interface Side {
  loads: LoadFigures[];
  big: BigFigures | null;
}

export async function run(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      clients: { type: "string", default: "10,50" },
      seconds: { type: "string", default: "10" },
      messages: { type: "string", default: "1000" },
      big: { type: "string", default: "20000" },
      idle: { type: "string", default: "1000" },
    },
  });
  const clientCounts = values.clients.split(",").map(Number);
  const seconds = Number(values.seconds);
  const perAccount = Number(values.messages);
  const bigCount = Number(values.big);
  const idleCount = Number(values.idle);
  const accounts = Math.max(...clientCounts);
  configureLogging({ level: "warn" });

  const corpus = Array.from({ length: perAccount }, (_, i) => {
    return makeMessage(i, 2048 + ((i * 7919) % (18 * 1024)));
  });
  const loadAverage = (await Deno.readTextFile("/proc/loadavg")).split(" ")[0];
  console.log(
    `accounts: ${accounts} × ${perAccount} messages of 2–20 KB (one account per client); ` +
      `clients ${clientCounts.join(" and ")}, ${seconds} s each; big mailbox ${bigCount} ` +
      `messages; ${idleCount} idle connections`,
  );
  console.log(
    `machine: ${navigator.hardwareConcurrency} CPUs (load generator and server share them), ` +
      `load average ${loadAverage}`,
  );
  let started = performance.now();
  const big = Array.from({ length: bigCount }, (_, i) => bigMessage(i));
  console.log(
    `generated the big mailbox in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );

  const postern = await runPostern(accounts, corpus, big, clientCounts, seconds, idleCount);
  let dovecot: Side | null = null;
  if (await dovecotImapAvailable()) {
    const mailboxes = new Map<string, Uint8Array[]>();
    for (let a = 0; a < accounts; a++) mailboxes.set(account(a), corpus);
    if (bigCount > 0) mailboxes.set(BIG_USER, big);
    started = performance.now();
    const server = await startDovecotImap(mailboxes, PASSWORD, accounts);
    console.log(
      `dovecot: Maildir written and server started in ` +
        `${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
    try {
      dovecot = await measure(server.port, server.processes, clientCounts, seconds, bigCount);
    } finally {
      await server.stop();
    }
  } else {
    console.log("dovecot: not installed (apt-get install dovecot-imapd) — no side-by-side figure");
  }

  console.log("");
  for (const [i, clients] of clientCounts.entries()) {
    printLoad("postern imap", postern.loads[i]);
    if (dovecot) {
      printLoad("dovecot imap", dovecot.loads[i]);
      const p = postern.loads[i];
      const d = dovecot.loads[i];
      console.log(
        `ratio postern/dovecot at ${clients} clients: operations/s ` +
          `${(rate(p) / rate(d)).toFixed(2)}x, p50 latency ` +
          `${(percentile(all(p), 50) / percentile(all(d), 50)).toFixed(2)}x, memory ` +
          `${(p.peakKiB / d.peakKiB).toFixed(2)}x`,
      );
    }
    printCommands(postern.loads[i], dovecot?.loads[i] ?? null);
    console.log("");
  }
  if (postern.big) printBig("postern", bigCount, postern.big);
  if (dovecot?.big) printBig("dovecot", bigCount, dovecot.big);
}

async function runPostern(
  accounts: number,
  corpus: Uint8Array[],
  big: Uint8Array[],
  clientCounts: number[],
  seconds: number,
  idleCount: number,
): Promise<Side> {
  const { dir, configPath } = await makeTestConfig({
    extra: `[imap]\nallow_plaintext_auth = true\nmax_connections_per_user = 10000`,
    limits: {
      max_connections_per_ip: idleCount + accounts + 100,
      max_connections: idleCount + accounts + 100,
    },
  });
  try {
    let started = performance.now();
    const app = await openApp(await loadConfig(configPath, { env: {} }));
    try {
      await app.directory.addDomain("example.com");
      const ids: number[] = [];
      for (let a = 0; a < accounts; a++) {
        ids.push((await app.directory.addAccount(account(a), { password: PASSWORD })).id);
      }
      // Each message is parsed once and committed to every account (one shared blob).
      let next = 0;
      await Promise.all(Array.from({ length: 16 }, async () => {
        while (next < corpus.length) {
          const parsed = app.messages.prepare(corpus[next++]);
          for (const accountId of ids) await app.messages.commit(parsed, { accountId });
        }
      }));
      console.log(
        `postern: ${accounts} × ${corpus.length} messages stored in ` +
          `${((performance.now() - started) / 1000).toFixed(1)} s`,
      );
      if (big.length > 0) {
        started = performance.now();
        const { id } = await app.directory.addAccount(BIG_USER, { password: PASSWORD });
        next = 0;
        await Promise.all(Array.from({ length: 16 }, async () => {
          while (next < big.length) await app.messages.ingest(big[next++], { accountId: id });
        }));
        console.log(
          `postern: ${big.length} messages stored for ${BIG_USER} in ` +
            `${((performance.now() - started) / 1000).toFixed(1)} s`,
        );
      }
    } finally {
      await app.close();
    }
    // The load, then the idle connections on a restarted server: each figure is what that
    // phase costs, not what the heap kept from the other.
    const side = await withServer(
      dir,
      configPath,
      (port, pid) => measure(port, () => [pid], clientCounts, seconds, big.length),
    );
    if (idleCount > 0) {
      await withServer(dir, configPath, (port, pid) => measureIdle(port, pid, idleCount, accounts));
    }
    return side;
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** Runs `work` against a started server; prints the server's complaints if it fails. */
async function withServer<T>(
  dir: string,
  configPath: string,
  work: (port: number, pid: number) => Promise<T>,
): Promise<T> {
  const server = await startServer({ dir, configPath });
  try {
    return await work(server.ports.imap, server.process.pid);
  } catch (error) {
    const warnings = server.logs.filter((line) => !line.includes('"msg":"listening"'));
    console.error(`postern log (warnings and errors):\n${warnings.slice(-20).join("\n")}`);
    throw error;
  } finally {
    await server.stop();
  }
}

/** Warm-up, the load at each client count, then the big mailbox. */
async function measure(
  port: number,
  processes: () => number[],
  clientCounts: number[],
  seconds: number,
  bigCount: number,
): Promise<Side> {
  const accounts = Math.max(...clientCounts);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(accounts, 10) }, async () => {
    while (next < accounts) {
      const user = account(next++);
      const client = await ImapClient.connect(port);
      try {
        await client.ok(`LOGIN ${user} ${PASSWORD}`);
        await client.ok("SELECT INBOX");
        await client.ok("FETCH 1:* (UID FLAGS ENVELOPE)");
        await client.ok("LOGOUT");
      } finally {
        client.close();
      }
    }
  }));
  const loads: LoadFigures[] = [];
  for (const clients of clientCounts) loads.push(await load(port, processes, clients, seconds));
  const big = bigCount > 0 ? await bigMailbox(port) : null;
  return { loads, big };
}

async function load(
  port: number,
  processes: () => number[],
  clients: number,
  seconds: number,
): Promise<LoadFigures> {
  const single = processes().length === 1;
  const figures: LoadFigures = {
    clients,
    seconds,
    operations: 0,
    latencies: new Map(),
    peakKiB: 0,
    peakRssSumKiB: 0,
    processes: 0,
    errors: 0,
    exists: [Infinity, 0],
  };
  const sample = () => {
    const pids = processes();
    figures.processes = Math.max(figures.processes, pids.length);
    const rss = pids.reduce((n, pid) => n + statusKiB(pid, "VmRSS"), 0);
    figures.peakRssSumKiB = Math.max(figures.peakRssSumKiB, rss);
    if (!single) {
      figures.peakKiB = Math.max(
        figures.peakKiB,
        pids.reduce((n, pid) => n + rollupKiB(pid, "Pss"), 0),
      );
    }
  };
  sample();
  const sampler = setInterval(sample, 250);
  const started = performance.now();
  const deadline = started + seconds * 1000;
  try {
    await Promise.all(Array.from({ length: clients }, async (_, i) => {
      const random = mulberry(i + 1);
      while (performance.now() < deadline) {
        try {
          await cycle(port, account(i), random, deadline, figures);
        } catch (error) {
          figures.errors++;
          if (figures.errors <= 3) console.error(`client ${i}: ${(error as Error).message}`);
        }
      }
    }));
  } finally {
    clearInterval(sampler);
  }
  sample();
  figures.seconds = (performance.now() - started) / 1000;
  if (single) figures.peakKiB = statusKiB(processes()[0], "VmHWM");
  return figures;
}

const SMALL = new TextEncoder().encode(
  "From: Bench <bench@example.net>\r\nTo: Alice <alice@example.com>\r\n" +
    "Subject: appended by the load generator\r\nDate: Tue, 1 Sep 2026 10:00:00 +0000\r\n" +
    "Message-ID: <append@example.net>\r\nMIME-Version: 1.0\r\n" +
    "Content-Type: text/plain; charset=utf-8\r\n\r\n" +
    "A short note the benchmark appends and expunges again.\r\n".repeat(16),
);

/** One session of the mixed profile; stops between commands once the deadline has passed. */
async function cycle(
  port: number,
  user: string,
  random: () => number,
  deadline: number,
  figures: LoadFigures,
) {
  const client = await ImapClient.connect(port);
  try {
    const timed = async (name: string, line: string, literal?: Uint8Array) => {
      if (performance.now() >= deadline) throw new Deadline();
      const started = performance.now();
      const result = await client.ok(line, literal);
      const ms = performance.now() - started;
      if (performance.now() <= deadline) {
        figures.operations++;
        let list = figures.latencies.get(name);
        if (!list) figures.latencies.set(name, list = []);
        list.push(ms);
      }
      return result;
    };
    await timed("LOGIN", `LOGIN ${user} ${PASSWORD}`);
    await timed("LIST", `LIST "" "*"`);
    const selected = await timed("SELECT", "SELECT INBOX");
    const exists = Number(/^\* (\d+) EXISTS/m.exec(selected.untagged.join("\n"))?.[1] ?? 0);
    figures.exists = [Math.min(figures.exists[0], exists), Math.max(figures.exists[1], exists)];
    const flags = await timed("FETCH FLAGS", "FETCH 1:* (UID FLAGS)");
    const uids = flags.untagged.flatMap((line) => {
      const uid = /^\* \d+ FETCH \(.*UID (\d+)/.exec(line);
      return uid ? [Number(uid[1])] : [];
    });
    if (exists > 0) {
      const from = 1 + Math.floor(random() * Math.max(1, exists - 49));
      await timed("FETCH ENVELOPE", `FETCH ${from}:${Math.min(exists, from + 49)} (ENVELOPE)`);
    }
    if (uids.length > 0) {
      const pick = () => uids[Math.floor(random() * uids.length)];
      for (let i = 0; i < 3; i++) {
        await timed("UID FETCH BODY[]", `UID FETCH ${pick()} BODY.PEEK[]`);
      }
      await timed("STORE \\Seen", `UID STORE ${pick()} +FLAGS (\\Seen)`);
    }
    const appended = await timed("APPEND", `APPEND INBOX {${SMALL.length}+}`, SMALL);
    const uid = /APPENDUID \d+ (\d+)/.exec(appended.status)?.[1];
    if (uid) {
      await timed("STORE \\Deleted", `UID STORE ${uid} +FLAGS.SILENT (\\Deleted)`);
      await timed("EXPUNGE", "EXPUNGE");
    }
    await timed("LOGOUT", "LOGOUT");
  } catch (error) {
    if (!(error instanceof Deadline)) throw error;
  } finally {
    client.close();
  }
}

class Deadline extends Error {}

/** SELECT, UID FETCH 1:* (FLAGS) and SEARCH TEXT on the big mailbox. */
async function bigMailbox(port: number): Promise<BigFigures> {
  const client = await ImapClient.connect(port);
  try {
    await client.ok(`LOGIN ${BIG_USER} ${PASSWORD}`);
    const time = async (line: string) => {
      const started = performance.now();
      const result = await client.ok(line);
      return { ms: performance.now() - started, untagged: result.untagged };
    };
    const select = await time("SELECT INBOX");
    const fetches = [];
    for (let i = 0; i < 3; i++) fetches.push(await time("UID FETCH 1:* (FLAGS)"));
    const searches = [];
    for (let i = 0; i < 3; i++) searches.push(await time(`SEARCH TEXT ${RARE_WORD}`));
    const hits = searches[0].untagged.find((line) => line.startsWith("* SEARCH"));
    await client.ok("LOGOUT");
    return {
      selectMs: select.ms,
      fetchFirstMs: fetches[0].ms,
      fetchBestMs: Math.min(...fetches.map((f) => f.ms)),
      fetched: fetches[0].untagged.filter((line) => / FETCH /.test(line)).length,
      searchFirstMs: searches[0].ms,
      searchBestMs: Math.min(...searches.map((s) => s.ms)),
      hits: (hits ?? "* SEARCH").split(" ").length - 2,
    };
  } finally {
    client.close();
  }
}

/** Opens `count` sessions in IDLE (INBOX selected), reads the server's RSS, closes them. */
async function measureIdle(port: number, pid: number, count: number, accounts: number) {
  // Each account logs in once first, and the password worker those logins start is left to
  // stop (10 s idle): the figure is what sessions cost, not a one-off worker.
  for (let a = 0; a < Math.min(count, accounts); a++) {
    const client = await ImapClient.connect(port);
    await client.ok(`LOGIN ${account(a)} ${PASSWORD}`);
    await client.ok("SELECT INBOX");
    client.close();
  }
  await new Promise((r) => setTimeout(r, 11_000));
  const before = statusKiB(pid, "VmRSS");
  const clients: ImapClient[] = [];
  const started = performance.now();
  try {
    let next = 0;
    await Promise.all(Array.from({ length: 50 }, async () => {
      while (next < count) {
        const user = account(next++ % accounts);
        const client = await ImapClient.connect(port);
        clients.push(client);
        await client.ok(`LOGIN ${user} ${PASSWORD}`);
        await client.ok("SELECT INBOX");
        await client.idle();
      }
    }));
    const opened = (performance.now() - started) / 1000;
    await new Promise((r) => setTimeout(r, 2000));
    const after = statusKiB(pid, "VmRSS");
    console.log(
      `postern: ${count} connections in IDLE (opened in ${opened.toFixed(1)} s): RSS ` +
        `${mib(after)} MiB (${mib(before)} MiB before, ` +
        `${((after - before) / count).toFixed(1)} KiB per connection; ` +
        `target for 10,000: under 300 MB)`,
    );
  } finally {
    for (const client of clients) client.close();
  }
}

function printLoad(label: string, f: LoadFigures) {
  const latencies = all(f);
  const memory = f.processes === 1
    ? `peak RSS ${mib(f.peakKiB)} MiB (VmHWM)`
    : `peak PSS ${mib(f.peakKiB)} MiB summed over ${f.processes} processes (RSS sum ` +
      `${mib(f.peakRssSumKiB)} MiB)`;
  console.log(
    `${label}, ${String(f.clients).padStart(3)} clients: ${rate(f).toFixed(0).padStart(6)} ` +
      `operations/s, latency p50 ${ms(percentile(latencies, 50))} p95 ` +
      `${ms(percentile(latencies, 95))} p99 ${ms(percentile(latencies, 99))} ms, ${memory}, ` +
      `INBOX ${f.exists[0]}–${f.exists[1]} messages` +
      (f.errors ? `, ${f.errors} failed sessions` : ""),
  );
}

function printCommands(postern: LoadFigures, dovecot: LoadFigures | null) {
  console.log(
    `  ${"command".padEnd(18)} ${"postern p50/p95/p99 ms".padStart(26)}` +
      (dovecot ? ` ${"dovecot p50/p95/p99 ms".padStart(26)}` : ""),
  );
  const triple = (list: number[] | undefined) =>
    list && list.length > 0 ? [50, 95, 99].map((p) => ms(percentile(list, p))).join(" / ") : "-";
  for (const [name, list] of postern.latencies) {
    console.log(
      `  ${name.padEnd(18)} ${triple(list).padStart(26)}` +
        (dovecot ? ` ${triple(dovecot.latencies.get(name)).padStart(26)}` : ""),
    );
  }
}

function printBig(label: string, count: number, f: BigFigures) {
  console.log(
    `${label} ${count}-message mailbox: SELECT ${ms(f.selectMs)} ms; UID FETCH 1:* (FLAGS) ` +
      `${ms(f.fetchFirstMs)} ms first, ${ms(f.fetchBestMs)} ms best of 3 (${f.fetched} ` +
      `messages; target under 300 ms); SEARCH TEXT ${RARE_WORD} ${ms(f.searchFirstMs)} ms ` +
      `first, ${ms(f.searchBestMs)} ms best of 3 (${f.hits} hits; target under 100 ms)`,
  );
}

const rate = (f: LoadFigures) => f.operations / f.seconds;
const all = (f: LoadFigures) => [...f.latencies.values()].flat();
const mib = (kiB: number) => (kiB / 1024).toFixed(1);
const ms = (value: number) => value.toFixed(value < 10 ? 2 : 0);

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function mulberry(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A 3 KB message; one in 1,000 carries RARE_WORD in its text part. */
function bigMessage(i: number): Uint8Array {
  const message = makeMessage(i, 3072, 2);
  if (i % 1000 !== 7) return message;
  const text = new TextDecoder().decode(message).replace(
    "Content-Transfer-Encoding: 7bit\r\n\r\n",
    `Content-Transfer-Encoding: 7bit\r\n\r\nThe ${RARE_WORD} file. `,
  );
  return new TextEncoder().encode(text);
}

/** A minimal IMAP client: one command at a time, responses with their literals skipped. */
class ImapClient {
  #buffer = new Uint8Array(64 * 1024);
  #start = 0;
  #end = 0;
  #tag = 0;
  #wake: (() => void) | null = null;
  #failure: Error | null = null;
  readonly #decoder = new TextDecoder();
  readonly #encoder = new TextEncoder();

  private constructor(private readonly socket: Socket) {
    socket.on("data", (chunk: Uint8Array) => {
      this.#append(chunk);
      this.#notify();
    });
    socket.on("error", (error: Error) => {
      this.#failure ??= error;
      this.#notify();
    });
    socket.on("close", () => {
      this.#failure ??= new Error("IMAP connection closed");
      this.#notify();
    });
  }

  static async connect(port: number): Promise<ImapClient> {
    const socket = createConnection({ host: "127.0.0.1", port });
    socket.setNoDelay(true);
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    const client = new ImapClient(socket);
    const greeting = await client.#response();
    if (!greeting.startsWith("* OK")) throw new Error(`greeting: ${greeting}`);
    return client;
  }

  /** Sends a command (with an optional LITERAL+ literal) and fails unless it ends in OK. */
  async ok(line: string, literal?: Uint8Array): Promise<{ status: string; untagged: string[] }> {
    const tag = `a${++this.#tag}`;
    this.socket.write(this.#encoder.encode(`${tag} ${line}\r\n`));
    if (literal) {
      this.socket.write(literal);
      this.socket.write(this.#encoder.encode("\r\n"));
    }
    const untagged: string[] = [];
    for (;;) {
      const response = await this.#response();
      if (response.startsWith(`${tag} `)) {
        const status = response.slice(tag.length + 1);
        if (!status.startsWith("OK")) throw new Error(`${line.split(" ")[0]} → ${status}`);
        return { status, untagged };
      }
      untagged.push(response);
    }
  }

  /** Starts IDLE and waits for the server's continuation. */
  async idle(): Promise<void> {
    this.socket.write(this.#encoder.encode(`a${++this.#tag} IDLE\r\n`));
    const response = await this.#response();
    if (!response.startsWith("+")) throw new Error(`IDLE → ${response}`);
  }

  close() {
    this.socket.destroy();
  }

  /** One response: its lines joined, each literal's content left out. */
  async #response(): Promise<string> {
    let text = "";
    for (;;) {
      const lf = this.#buffer.subarray(this.#start, this.#end).indexOf(0x0a);
      if (lf < 0) {
        await this.#more();
        continue;
      }
      const line = this.#decoder.decode(this.#buffer.subarray(this.#start, this.#start + lf - 1));
      this.#start += lf + 1;
      text += line;
      const literal = /\{(\d+)\+?\}$/.exec(line);
      if (!literal) return text;
      let skip = Number(literal[1]);
      while (this.#end - this.#start < skip) {
        skip -= this.#end - this.#start;
        this.#start = this.#end = 0;
        await this.#more();
      }
      this.#start += skip;
    }
  }

  #append(chunk: Uint8Array) {
    if (this.#start === this.#end) this.#start = this.#end = 0;
    if (this.#end + chunk.length > this.#buffer.length) {
      const held = this.#end - this.#start;
      const target = held + chunk.length > this.#buffer.length
        ? new Uint8Array(Math.max(this.#buffer.length * 2, held + chunk.length))
        : this.#buffer;
      target.set(this.#buffer.subarray(this.#start, this.#end), 0);
      this.#buffer = target;
      this.#start = 0;
      this.#end = held;
    }
    this.#buffer.set(chunk, this.#end);
    this.#end += chunk.length;
  }

  #notify() {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  async #more(): Promise<void> {
    const had = this.#end - this.#start;
    while (this.#end - this.#start === had) {
      if (this.#failure) throw this.#failure;
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
  }
}
