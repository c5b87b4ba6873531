/**
 * Postfix in front of Dovecot as the side-by-side peer for `bench smtp`: the classic stack a
 * Postern replaces. A throwaway Postfix (its own config_directory, queue_directory and
 * data_directory in a temporary folder; smtpd bound to a loopback port in master.cf) accepts
 * mail for the bench domain as a virtual mailbox domain and hands it over LMTP to a throwaway
 * Dovecot, which stores it in Maildir (one file per message in `new/`).
 *
 * Implementation notes:
 * - Both daemons are started by this module and stopped by the PIDs in their own pid files;
 *   nothing here touches a system-wide instance or /etc beyond reading Postfix's meta files.
 * - Both log to files in the temporary folder (Postfix through postlogd), as a real server
 *   logs: logging is part of the cost being measured.
 * - Postfix's LMTP client keeps up to 20 connections to Dovecot (its default destination
 *   concurrency); Dovecot keeps that many LMTP processes ready so none is forked mid-run.
 */
import { dovecotLmtpAvailable, startDovecotLmtp } from "./dovecot.ts";
import { freePort, killAndWait, readPidFile, waitForPort } from "./procs.ts";

const POSTFIX = "/usr/sbin/postfix";

/** Why the Postfix + Dovecot stack cannot run here, or null when it can. */
export async function postfixDovecotUnavailable(): Promise<string | null> {
  try {
    await Deno.stat(POSTFIX);
    await Deno.stat("/usr/lib/postfix/sbin/master");
  } catch {
    return "Postfix is not installed (apt-get install postfix)";
  }
  if (!await dovecotLmtpAvailable()) {
    return "Dovecot LMTP is not installed (apt-get install dovecot-core dovecot-lmtpd)";
  }
  if (Deno.uid() !== 0) return "Postfix and Dovecot need root to start as their own users";
  return null;
}

export interface PeerStack {
  /** The loopback port Postfix's smtpd listens on. */
  smtpPort: number;
  /** The master processes; every other process of the stack descends from one of them. */
  masterPids: number[];
  /**
   * Deliveries Postfix logged as sent (Dovecot answered the LMTP DATA with 250, which it does
   * after storing). Cheap: reads only what the log gained since the last call.
   */
  delivered(): Promise<number>;
  /** Messages Dovecot has stored for `recipient`: files in its Maildir INBOX `new/`. */
  stored(): Promise<number>;
  /** Stops both daemons and removes the temporary folder. */
  stop(): Promise<void>;
}

/** Starts Dovecot (LMTP only) and Postfix delivering `domain` to it; `recipient` gets a Maildir. */
export async function startPostfixDovecot(
  options: { domain: string; recipient: string },
): Promise<PeerStack> {
  const dir = await Deno.makeTempDir({ prefix: "postern-bench-postfix-" });
  // Postfix and Dovecot drop to their own users and must be able to walk into the folder.
  await Deno.chmod(dir, 0o755);
  const smtpPort = freePort();
  const lmtpPort = freePort();
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const fn of stops.reverse()) await fn().catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    const dovecotPid = await startDovecotLmtp(`${dir}/dovecot`, lmtpPort, 20);
    stops.push(() => killAndWait(dovecotPid));
    const postfixPid = await startPostfix(`${dir}/postfix`, {
      smtpPort,
      lmtpPort,
      domain: options.domain,
    });
    stops.push(() => killAndWait(postfixPid));
    await waitForPort(smtpPort);
    const newDir = `${dir}/dovecot/mail/${options.recipient}/new`;
    return {
      smtpPort,
      masterPids: [postfixPid, dovecotPid],
      delivered: logCounter(`${dir}/postfix/postfix.log`, / status=sent /),
      stored: () => countFiles(newDir),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function startPostfix(
  dir: string,
  options: { smtpPort: number; lmtpPort: number; domain: string },
): Promise<number> {
  await Deno.mkdir(`${dir}/etc`, { recursive: true });
  await Deno.mkdir(`${dir}/queue`);
  // Postfix's defaults throughout; only paths, names, the domain and its transport are set.
  const mainCf = `
compatibility_level = 3.6
config_directory = ${dir}/etc
queue_directory = ${dir}/queue
data_directory = ${dir}/data
maillog_file = ${dir}/postfix.log
maillog_file_prefixes = ${dir}
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.bench.test
mydomain = bench.test
myorigin = $myhostname
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
local_recipient_maps =
biff = no
smtpd_tls_security_level = none
smtp_tls_security_level = none
virtual_mailbox_domains = ${options.domain}
virtual_transport = lmtp:inet:127.0.0.1:${options.lmtpPort}
`;
  const service = (name: string, type: string, priv: string, wakeup: string, limit: string) =>
    `${name.padEnd(10)} ${type.padEnd(10)} ${priv} - n ${wakeup} ${limit} `;
  const masterCf = [
    `${service(`127.0.0.1:${options.smtpPort}`, "inet", "n", "-", "-")}smtpd`,
    `${service("pickup", "unix", "n", "60", "1")}pickup`,
    `${service("cleanup", "unix", "n", "-", "0")}cleanup`,
    `${service("qmgr", "unix", "n", "300", "1")}qmgr`,
    `${service("rewrite", "unix", "-", "-", "-")}trivial-rewrite`,
    `${service("bounce", "unix", "-", "-", "0")}bounce`,
    `${service("defer", "unix", "-", "-", "0")}bounce`,
    `${service("trace", "unix", "-", "-", "0")}bounce`,
    `${service("verify", "unix", "-", "-", "1")}verify`,
    `${service("flush", "unix", "n", "1000?", "0")}flush`,
    `${service("proxymap", "unix", "-", "-", "-")}proxymap`,
    `${service("smtp", "unix", "-", "-", "-")}smtp`,
    `${service("relay", "unix", "-", "-", "-")}smtp`,
    `${service("showq", "unix", "n", "-", "-")}showq`,
    `${service("error", "unix", "-", "-", "-")}error`,
    `${service("retry", "unix", "-", "-", "-")}error`,
    `${service("discard", "unix", "-", "-", "-")}discard`,
    `${service("lmtp", "unix", "-", "-", "-")}lmtp`,
    `${service("anvil", "unix", "-", "-", "1")}anvil`,
    `${service("scache", "unix", "-", "-", "1")}scache`,
    `${service("postlog", "unix-dgram", "n", "-", "1")}postlogd`,
  ].join("\n") + "\n";
  await Deno.writeTextFile(`${dir}/etc/main.cf`, mainCf);
  await Deno.writeTextFile(`${dir}/etc/master.cf`, masterCf);
  // `postfix start` creates the queue's subfolders with their owners, then waits for master to
  // run. It reports errors on stderr only to a terminal; otherwise they are in the log file.
  const start = await new Deno.Command(POSTFIX, {
    args: ["-c", `${dir}/etc`, "start"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const pid = await readPidFile(`${dir}/queue/pid/master.pid`);
  if (!start.success || !pid) {
    if (pid) await killAndWait(pid);
    const output = new TextDecoder().decode(start.stderr) + new TextDecoder().decode(start.stdout);
    throw new Error(`postfix failed to start: ${output}${await readLog(`${dir}/postfix.log`)}`);
  }
  return pid;
}

/** A function counting the lines matching `pattern` in the log at `path`, read incrementally. */
function logCounter(path: string, pattern: RegExp): () => Promise<number> {
  let offset = 0;
  let partial = "";
  let count = 0;
  const decoder = new TextDecoder();
  return async () => {
    const file = await Deno.open(path).catch(() => null);
    if (!file) return count;
    try {
      await file.seek(offset, Deno.SeekMode.Start);
      const chunk = new Uint8Array(64 * 1024);
      let n: number | null;
      while ((n = await file.read(chunk)) !== null) {
        offset += n;
        const lines = (partial + decoder.decode(chunk.subarray(0, n), { stream: true }))
          .split("\n");
        partial = lines.pop()!;
        for (const line of lines) if (pattern.test(line)) count++;
      }
    } finally {
      file.close();
    }
    return count;
  };
}

async function countFiles(path: string): Promise<number> {
  let count = 0;
  try {
    for await (const _ of Deno.readDir(path)) count++;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return count;
}

async function readLog(path: string): Promise<string> {
  return (await Deno.readTextFile(path).catch(() => "")).split("\n").slice(-20).join("\n");
}
