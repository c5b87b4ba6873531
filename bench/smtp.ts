/**
 * `deno task bench smtp [--messages N] [--sessions S] [--size BYTES]`: inbound delivery end to
 * end. Postfix's smtp-source opens S sessions, keeps each open (-d) and sends N messages of
 * BYTES payload to one local account; the clock runs from its start until the last message is
 * stored. First into a real Postern server (its port 25 listener, a data directory of its own),
 * then in the same run into Postfix → LMTP → Dovecot (bench/postfix.ts) where those can run.
 * Prints messages/s, the ratio, CPU per message and memory; never passes or fails on time.
 */
import { parseArgs } from "node:util";
import { DatabaseSync } from "node:sqlite";
import { cli, startServer } from "../tests/helpers/server.ts";
import { postfixDovecotUnavailable, startPostfixDovecot } from "./postfix.ts";
import { processTree, rollupKiB, statFields, statusKiB } from "./procs.ts";

const SMTP_SOURCE = "/usr/sbin/smtp-source";
const DOMAIN = "example.com";
const RECIPIENT = `alice@${DOMAIN}`;
const SENDER = "sender@example.net";
/** Seconds without a newly stored message before a run is given up. */
const STALL_SECONDS = 60;
/** Linux reports process CPU times in clock ticks of 1/100 s. */
const CLOCK_TICKS = 100;

interface Load {
  messages: number;
  sessions: number;
  size: number;
}

interface RunFigures {
  seconds: number;
  cpuSeconds: number;
  memory: MemoryPeak & {
    /** RSS just before smtp-source started. */
    idleKiB: number;
    /** The kernel's own peak RSS (VmHWM) of a one-process server; 0 otherwise. */
    hwmKiB: number;
  };
}

export async function run(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      messages: { type: "string", default: "20000" },
      sessions: { type: "string", default: "20" },
      size: { type: "string", default: "5120" },
    },
  });
  const load: Load = {
    messages: Number(values.messages),
    sessions: Number(values.sessions),
    size: Number(values.size),
  };
  try {
    await Deno.stat(SMTP_SOURCE);
  } catch {
    console.log(
      "smtp-source is not installed (apt-get install postfix): nothing drives this bench",
    );
    return;
  }
  console.log(
    `smtp-source: ${load.sessions} sessions kept open, ${load.messages} messages of ` +
      `${(load.size / 1024).toFixed(1)} KB to ${RECIPIENT}; clock runs until all are stored`,
  );
  // Both sides share the machine with smtp-source and this process; other load skews both.
  const loadAverage = (await Deno.readTextFile("/proc/loadavg")).split(" ")[0];
  console.log(`machine: ${navigator.hardwareConcurrency} CPUs, load average ${loadAverage}`);

  const postern = await withInterruptCleanup((cleanups) => runPostern(load, cleanups));
  print("postern (smtp listener → store)", load.messages, postern);
  console.log(
    `  postern: peak RSS ${mib(postern.memory.hwmKiB)} MiB (VmHWM; sampled every 100 ms: ${
      mib(postern.memory.rssKiB)
    } MiB), idle before the run ${mib(postern.memory.idleKiB)} MiB, PSS at the end ${
      mib(postern.memory.pssKiB)
    } MiB`,
  );

  const unavailable = await postfixDovecotUnavailable();
  if (unavailable) {
    console.log(`postfix+dovecot: ${unavailable} — Postern's figures only`);
    return;
  }
  let peer: RunFigures;
  try {
    peer = await withInterruptCleanup((cleanups) => runPostfixDovecot(load, cleanups));
  } catch (error) {
    console.log(
      `postfix+dovecot: could not run (${(error as Error).message}) — Postern's figures only`,
    );
    return;
  }
  print("postfix → lmtp → dovecot (maildir)", load.messages, peer);
  console.log(
    `  postfix+dovecot: peak ${peer.memory.processes} processes, RSS sum ${
      mib(peer.memory.rssKiB)
    } MiB, PSS sum ${mib(peer.memory.pssKiB)} MiB (shared pages counted once)`,
  );
  console.log(
    `ratio postern/postfix+dovecot (messages/s): ${(peer.seconds / postern.seconds).toFixed(2)}x`,
  );
}

async function runPostern(load: Load, cleanups: Cleanups): Promise<RunFigures> {
  // smtp-source keeps each session for all its messages; the default of 100 would end them.
  const server = await startServer({
    limits: { max_connections_per_ip: Math.max(50, load.sessions) },
    extra: `[smtp]\nmax_messages_per_connection = ${load.messages}\n`,
  });
  cleanups.push(async () => {
    await server.stop();
    await Deno.remove(server.dir, { recursive: true });
  });
  const added = await cli(server.configPath, ["account", "add", RECIPIENT, "--password", "x"]);
  if (added.code !== 0) throw new Error(`account add: ${added.stderr}`);
  const db = new DatabaseSync(`${server.dir}/data/postern.db`, { readOnly: true });
  cleanups.push(() => Promise.resolve(db.close()));
  const count = db.prepare(
    "SELECT count(*) AS n FROM emails e JOIN principals p ON p.id = e.account_id WHERE p.name = ?",
  );
  const stored = () => Promise.resolve(Number((count.get(RECIPIENT) as { n: number }).n));
  // One process (the password hashing worker is a thread): its status is cheap to read often.
  return await drive(load, server.ports.smtp, {
    roots: [server.process.pid],
    descendants: false,
    progress: stored,
    stored,
    sampleMs: 100,
  });
}

async function runPostfixDovecot(load: Load, cleanups: Cleanups): Promise<RunFigures> {
  const stack = await startPostfixDovecot({ domain: DOMAIN, recipient: RECIPIENT });
  cleanups.push(() => stack.stop());
  // ~120 processes: listing them and reading their memory takes ~15 ms of the two cores a
  // small machine has, so their memory is sampled each second; the maildir (20,000 files at the
  // end) is counted only once Postfix's log says all were delivered.
  return await drive(load, stack.smtpPort, {
    roots: stack.masterPids,
    descendants: true,
    progress: stack.delivered,
    stored: stack.stored,
    sampleMs: 1000,
  });
}

interface Observed {
  /** The server's processes: these and, with `descendants`, every process below them. */
  roots: number[];
  descendants: boolean;
  /** Messages stored so far, cheaply and possibly an underestimate; polled every 100 ms. */
  progress: () => Promise<number>;
  /** Messages stored, exactly; asked once `progress` reaches the target. */
  stored: () => Promise<number>;
  sampleMs: number;
}

/**
 * Runs smtp-source against `port` until `observed` has stored all its messages; the clock runs
 * from starting smtp-source (its first connection) until then.
 */
async function drive(load: Load, port: number, observed: Observed): Promise<RunFigures> {
  const processes = () => observed.descendants ? processTree(observed.roots) : observed.roots;
  const base = { progress: await observed.progress(), stored: await observed.stored() };
  const idleKiB = processes().reduce((n, pid) => n + statusKiB(pid, "VmRSS"), 0);
  const cpuBefore = cpuSecondsOf(processes(), observed.roots);
  const sampler = sampleMemory(processes, observed.sampleMs);
  const started = performance.now();
  const source = new Deno.Command(SMTP_SOURCE, {
    args: [
      ...["-4", "-d", "-s", String(load.sessions), "-m", String(load.messages)],
      ...["-l", String(load.size), "-f", SENDER, "-t", RECIPIENT, "-M", "client.example.net"],
      `127.0.0.1:${port}`,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let exit: Deno.CommandOutput | null = null;
  const exited = source.output().then((output) => exit = output);
  try {
    let progress = 0;
    let lastProgress = performance.now();
    while (true) {
      await new Promise((r) => setTimeout(r, 100));
      const now = (await observed.progress()) - base.progress;
      if (now > progress) lastProgress = performance.now();
      progress = now;
      if (progress >= load.messages && (await observed.stored()) - base.stored >= load.messages) {
        break;
      }
      const failed = exit as Deno.CommandOutput | null;
      if (failed && !failed.success) {
        throw new Error(`smtp-source: ${new TextDecoder().decode(failed.stderr).trim()}`);
      }
      if (performance.now() - lastProgress > STALL_SECONDS * 1000) {
        throw new Error(`only ${progress} of ${load.messages} messages stored after a stall`);
      }
    }
    const seconds = (performance.now() - started) / 1000;
    await exited;
    const cpuSeconds = cpuSecondsOf(processes(), observed.roots) - cpuBefore;
    const peak = sampler.stop();
    const pssKiB = observed.descendants
      ? peak.pssKiB
      : processes().reduce((n, pid) => n + rollupKiB(pid, "Pss"), 0);
    const hwmKiB = observed.descendants ? 0 : statusKiB(observed.roots[0], "VmHWM");
    return { seconds, cpuSeconds, memory: { ...peak, pssKiB, idleKiB, hwmKiB } };
  } finally {
    sampler.stop();
    try {
      source.kill("SIGKILL");
    } catch { /* exited */ }
    await exited;
  }
}

interface MemoryPeak {
  /** Highest sum of VmRSS over the processes, sampled every `sampleMs`. */
  rssKiB: number;
  /** Highest sum of Pss (shared pages divided among their users) over the processes. */
  pssKiB: number;
  /** Most processes seen at once. */
  processes: number;
}

function sampleMemory(processes: () => number[], intervalMs: number) {
  const peak: MemoryPeak = { rssKiB: 0, pssKiB: 0, processes: 0 };
  const sample = () => {
    const pids = processes();
    let rss = 0;
    let pss = 0;
    for (const pid of pids) {
      rss += statusKiB(pid, "VmRSS");
      // Pss is the costly read; for one process the end of the run is enough (see drive).
      if (pids.length > 1) pss += rollupKiB(pid, "Pss");
    }
    peak.rssKiB = Math.max(peak.rssKiB, rss);
    peak.pssKiB = Math.max(peak.pssKiB, pss);
    peak.processes = Math.max(peak.processes, pids.length);
  };
  const timer = setInterval(sample, intervalMs);
  sample();
  return {
    stop(): MemoryPeak {
      clearInterval(timer);
      return { ...peak };
    },
  };
}

/**
 * CPU seconds used by `processes`: their own user+system time, plus what the `roots` among them
 * collected from children that already exited.
 */
function cpuSecondsOf(processes: number[], roots: number[]): number {
  let ticks = 0;
  for (const pid of processes) {
    const fields = statFields(pid);
    if (!fields) continue;
    // Fields after "(comm)": state is [0], utime [11], stime [12], cutime [13], cstime [14].
    ticks += Number(fields[11]) + Number(fields[12]);
    if (roots.includes(pid)) ticks += Number(fields[13]) + Number(fields[14]);
  }
  return ticks / CLOCK_TICKS;
}

type Cleanups = (() => Promise<void>)[];

/**
 * Runs `fn` and afterwards the cleanups it registered (newest first), also when it throws or
 * the bench is interrupted: Postfix and Dovecot detach from the terminal and would outlive it.
 */
async function withInterruptCleanup<T>(fn: (cleanups: Cleanups) => Promise<T>): Promise<T> {
  const cleanups: Cleanups = [];
  const cleanAll = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      await cleanup().catch((error) => console.error(`cleanup: ${error.message}`));
    }
  };
  const onSignal = () => cleanAll().finally(() => Deno.exit(130));
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  for (const signal of signals) Deno.addSignalListener(signal, onSignal);
  try {
    return await fn(cleanups);
  } finally {
    await cleanAll();
    for (const signal of signals) Deno.removeSignalListener(signal, onSignal);
  }
}

function print(label: string, count: number, figures: RunFigures) {
  console.log(
    `${label.padEnd(36)} ${(count / figures.seconds).toFixed(0).padStart(6)} messages/s` +
      `  (${figures.seconds.toFixed(2)} s; CPU ${
        (figures.cpuSeconds * 1000 / count).toFixed(2)
      } ms/message)`,
  );
}

function mib(kiB: number): string {
  return (kiB / 1024).toFixed(1);
}
