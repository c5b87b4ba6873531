/**
 * A private Postfix instance as an interop peer: its own config, queue and data directories in a
 * temporary folder, its smtpd bound on one loopback address (127.0.0.4:25 by default, bound in
 * master.cf because inet_interfaces refuses addresses no interface carries), and its log in a
 * file (maillog_file + the postlog service) so no syslog is needed. Needs root and the `postfix`
 * package (scripts/install-interop.sh).
 *
 * What the instance does:
 * - accepts mail for `domains`, any local part, from any loopback client (mynetworks
 *   127.0.0.0/8), and delivers it with the virtual agent into one Maildir under its temp folder;
 *   `maildir(recipient)` picks a recipient's messages by the Delivered-To header;
 * - sends everything else to `relayhost` (write it bracketed, "[127.0.0.1]:2525", so no MX
 *   lookup happens) or per-domain `transports`;
 * - never asks DNS: smtp_dns_support_level = disabled (the client resolves through /etc/hosts),
 *   smtpd_peername_lookup = no. Postfix cannot be pointed at a test DNS server on another port,
 *   so routes are given as bracketed addresses instead.
 *
 * @example
 * const postfix = await startPostfix({ domains: ["postfix.test"], relayhost: "[127.0.0.1]:2525" });
 * try {
 *   await postfix.send("a@postfix.test", ["b@example.com"], bytes);
 * } finally {
 *   await postfix.stop();
 * }
 */

export interface PostfixOptions {
  /** Loopback address smtpd listens on. */
  address?: string;
  port?: number;
  myhostname?: string;
  /** Domains delivered locally, by the virtual agent into a Maildir; any local part is accepted. */
  domains?: string[];
  /** Where all other mail goes, e.g. "[127.0.0.1]:2525"; empty means direct delivery. */
  relayhost?: string;
  /** transport_maps entries, e.g. `{ "example.com": "smtp:[127.0.0.1]:2525" }`. */
  transports?: Record<string, string>;
  /** STARTTLS to the next hop when offered (smtp_tls_security_level = may); off by default. */
  smtpTls?: boolean;
  /** main.cf settings that override the generated ones (e.g. `{ message_size_limit: "1000" }`). */
  mainCf?: Record<string, string>;
  /** How long to wait for the listener, in milliseconds. */
  startTimeoutMs?: number;
}

export interface PostfixPeer {
  dir: string;
  address: string;
  port: number;
  myhostname: string;
  /** Messages delivered for `recipient` (by Delivered-To), oldest first, as stored (LF line ends). */
  maildir(recipient: string): Uint8Array[];
  /** Polls until `recipient` has `count` messages; throws with the queue and log tail on timeout. */
  waitForMessages(recipient: string, count: number, timeoutMs?: number): Promise<Uint8Array[]>;
  /**
   * Submits a message over SMTP to the instance's own listener (so it takes the path any remote
   * client takes); dot-stuffing is done here. Resolves with the queue reply ("250 2.0.0 Ok:
   * queued as …"); throws on any other reply.
   */
  send(from: string, to: string[], message: Uint8Array | string): Promise<string>;
  /** Queue ids still in the queue (postqueue -j). */
  queueIds(): Promise<string[]>;
  /** Polls until the queue is empty; throws with the queue and log tail on timeout. */
  waitForEmptyQueue(timeoutMs?: number): Promise<void>;
  /** The last `lines` lines of the instance's maillog. */
  logTail(lines?: number): string;
  /** `postfix stop`, waits for the master to exit, removes the temp folder. Idempotent. */
  stop(): Promise<void>;
}

const DEFAULTS = {
  address: "127.0.0.4",
  port: 25,
  myhostname: "postfix.test",
  startTimeoutMs: 15_000,
};
const DELIVERY_USER = "nobody";
const SHARED_MAILDIR = "maildir";
const COMMAND_TIMEOUT_MS = 30_000;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Starts a private Postfix; resolves once its smtpd accepts connections. */
export async function startPostfix(options: PostfixOptions = {}): Promise<PostfixPeer> {
  const address = options.address ?? DEFAULTS.address;
  const port = options.port ?? DEFAULTS.port;
  const myhostname = options.myhostname ?? DEFAULTS.myhostname;
  const dir = await Deno.makeTempDir({ prefix: "postern-postfix-" });
  // Postfix daemons run as the postfix user and chdir into the queue under this folder.
  await Deno.chmod(dir, 0o755);
  const config = `${dir}/config`;
  const mailBase = `${dir}/mail`;
  const maillog = `${dir}/maillog`;
  const { uid, gid } = passwdEntry(DELIVERY_USER);
  await Deno.mkdir(config);
  await makeQueueAndDataDirectories(dir);
  await Deno.mkdir(mailBase);
  await Deno.chown(mailBase, uid, gid);
  await Deno.writeTextFile(
    `${config}/transport`,
    Object.entries(options.transports ?? {}).map(([d, t]) => `${d} ${t}\n`).join(""),
  );
  const main: Record<string, string> = {
    compatibility_level: "3.6",
    queue_directory: `${dir}/queue`,
    data_directory: `${dir}/data`,
    mail_owner: "postfix",
    setgid_group: "postdrop",
    maillog_file: maillog,
    maillog_file_prefixes: dir,
    myhostname,
    mydomain: myhostname,
    myorigin: "$myhostname",
    mydestination: "",
    local_recipient_maps: "",
    alias_maps: "",
    alias_database: "",
    inet_interfaces: "loopback-only",
    inet_protocols: "ipv4",
    mynetworks: "127.0.0.0/8",
    smtpd_banner: "$myhostname ESMTP Postfix",
    smtpd_peername_lookup: "no",
    smtpd_relay_restrictions: "permit_mynetworks, reject_unauth_destination",
    smtpd_recipient_restrictions: "permit_mynetworks, reject_unauth_destination",
    smtp_dns_support_level: "disabled",
    smtp_host_lookup: "native",
    lmtp_host_lookup: "native",
    smtp_address_preference: "ipv4",
    smtp_tls_security_level: options.smtpTls ? "may" : "none",
    // Logs "… TLS connection established to …" with protocol and cipher.
    smtp_tls_loglevel: "1",
    smtputf8_enable: "yes",
    relayhost: options.relayhost ?? "",
    transport_maps: `texthash:${config}/transport`,
    virtual_mailbox_domains: (options.domains ?? []).join(", "),
    virtual_mailbox_base: mailBase,
    // The virtual agent refuses $n substitution from regexp maps, so every recipient shares one
    // Maildir and maildir() tells them apart by the Delivered-To the agent prepends.
    virtual_mailbox_maps: `static:${SHARED_MAILDIR}/`,
    virtual_uid_maps: `static:${uid}`,
    virtual_gid_maps: `static:${gid}`,
    // Tests want retries in seconds, not minutes, and no delay warnings.
    queue_run_delay: "1s",
    minimal_backoff_time: "1s",
    maximal_backoff_time: "2s",
    delay_warning_time: "0",
    biff: "no",
    ...options.mainCf,
  };
  await Deno.writeTextFile(
    `${config}/main.cf`,
    Object.entries(main).map(([k, v]) => `${k} = ${v}\n`).join(""),
  );
  await Deno.writeTextFile(`${config}/master.cf`, masterCf(`${address}:${port}`));

  let stopped = false;
  const peer: PostfixPeer = {
    dir,
    address,
    port,
    myhostname,
    maildir(recipient) {
      const wanted = recipient.toLowerCase();
      const box = `${mailBase}/${SHARED_MAILDIR}`;
      const files: { path: string; mtime: number; name: string }[] = [];
      for (const sub of ["new", "cur"]) {
        let entries: Deno.DirEntry[];
        try {
          entries = [...Deno.readDirSync(`${box}/${sub}`)];
        } catch (error) {
          if (error instanceof Deno.errors.NotFound) continue;
          throw error;
        }
        for (const entry of entries) {
          if (!entry.isFile) continue;
          const path = `${box}/${sub}/${entry.name}`;
          files.push({ path, name: entry.name, mtime: Deno.statSync(path).mtime?.getTime() ?? 0 });
        }
      }
      // Maildir names begin with the delivery time in seconds; mtime then name orders them.
      files.sort((a, b) => a.mtime - b.mtime || a.name.localeCompare(b.name));
      return files.map((f) => Deno.readFileSync(f.path)).filter((bytes) =>
        deliveredTo(bytes) === wanted
      );
    },
    async waitForMessages(recipient, count, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const messages = peer.maildir(recipient);
        if (messages.length >= count) return messages;
        if (Date.now() > deadline) {
          throw new Error(
            `postfix: ${messages.length} of ${count} messages for ${recipient} after ` +
              `${timeoutMs} ms; queue ${JSON.stringify(await peer.queueIds())}\n` +
              peer.logTail(),
          );
        }
        await sleep(50);
      }
    },
    async send(from, to, message) {
      return await smtpSend(address, port, from, to, message).catch((error) => {
        throw new Error(`${error instanceof Error ? error.message : error}\n${peer.logTail()}`);
      });
    },
    async queueIds() {
      const output = await run("postqueue", ["-c", config, "-j"], true);
      return output.split("\n").filter((line) => line.trim() !== "").map((line) =>
        String(JSON.parse(line).queue_id)
      );
    },
    async waitForEmptyQueue(timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const ids = await peer.queueIds();
        if (ids.length === 0) return;
        if (Date.now() > deadline) {
          throw new Error(`postfix: queue not empty: ${ids.join(" ")}\n${peer.logTail()}`);
        }
        await sleep(100);
      }
    },
    logTail(lines = 40) {
      let text = "";
      try {
        text = Deno.readTextFileSync(maillog);
      } catch { /* no log yet */ }
      return `--- postfix maillog (${maillog}) ---\n` +
        text.trimEnd().split("\n").slice(-lines).join("\n");
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      const pid = masterPid(dir);
      try {
        await run("postfix", ["-c", config, "stop"], true);
      } catch { /* not running */ }
      if (pid !== null) {
        const deadline = Date.now() + 10_000;
        while (processAlive(pid) && Date.now() < deadline) await sleep(50);
        if (processAlive(pid)) {
          try {
            Deno.kill(pid, "SIGKILL");
          } catch { /* gone meanwhile */ }
        }
      }
      // The next instance binds the same address: wait until the smtpd children let go of it.
      if (pid !== null) await waitForListener(address, port, 5_000, false).catch(() => {});
      await Deno.remove(dir, { recursive: true });
    },
  };

  try {
    // A leftover instance on the address would answer for this one.
    await waitForListener(address, port, 0, false).catch(() => {
      throw new Error(`${address}:${port} is already in use`);
    });
    await run("postfix", ["-c", config, "start"]);
    await waitForListener(address, port, options.startTimeoutMs ?? DEFAULTS.startTimeoutMs);
  } catch (error) {
    const log = peer.logTail();
    await peer.stop();
    throw new Error(
      `postfix did not start: ${error instanceof Error ? error.message : error}\n${log}`,
    );
  }
  return peer;
}

/**
 * The queue and data directories as /etc/postfix/postfix-files lays them out, plus the
 * `quick-start` marker that makes `postfix start` skip its integrity checks (post-install
 * create-missing and a find over the install): they take 4–5 s here, the start itself 0.3 s.
 */
async function makeQueueAndDataDirectories(dir: string): Promise<void> {
  const mailOwner = passwdEntry("postfix");
  const setgidGroup = groupId("postdrop");
  const queue = `${dir}/queue`;
  // name, owner uid (null: root), group gid (null: the owner's default), mode
  const layout: [string, number | null, number | null, number][] = [
    ["active", mailOwner.uid, null, 0o700],
    ["bounce", mailOwner.uid, null, 0o700],
    ["corrupt", mailOwner.uid, null, 0o700],
    ["defer", mailOwner.uid, null, 0o700],
    ["deferred", mailOwner.uid, null, 0o700],
    ["flush", mailOwner.uid, null, 0o700],
    ["hold", mailOwner.uid, null, 0o700],
    ["incoming", mailOwner.uid, null, 0o700],
    ["private", mailOwner.uid, null, 0o700],
    ["maildrop", mailOwner.uid, setgidGroup, 0o730],
    ["public", mailOwner.uid, setgidGroup, 0o710],
    ["pid", null, null, 0o755],
    ["saved", mailOwner.uid, null, 0o700],
    ["trace", mailOwner.uid, null, 0o700],
  ];
  await Deno.mkdir(queue, { mode: 0o755 });
  for (const [name, uid, gid, mode] of layout) {
    const path = `${queue}/${name}`;
    await Deno.mkdir(path);
    await Deno.chmod(path, mode); // mkdir's mode is masked by the umask
    if (uid !== null) await Deno.chown(path, uid, gid ?? 0);
  }
  await Deno.writeTextFile(`${queue}/quick-start`, "");
  await Deno.mkdir(`${dir}/data`);
  await Deno.chmod(`${dir}/data`, 0o700);
  await Deno.chown(`${dir}/data`, mailOwner.uid, mailOwner.gid);
}

/** The stock Debian services, none chrooted, with smtpd bound on `listen` only. */
function masterCf(listen: string): string {
  // service type private unpriv chroot wakeup maxproc command
  const services = [
    `${listen} inet n - n - - smtpd`,
    "pickup unix n - n 60 1 pickup",
    "cleanup unix n - n - 0 cleanup",
    "qmgr unix n - n 300 1 qmgr",
    "tlsmgr unix - - n 1000? 1 tlsmgr",
    "rewrite unix - - n - - trivial-rewrite",
    "bounce unix - - n - 0 bounce",
    "defer unix - - n - 0 bounce",
    "trace unix - - n - 0 bounce",
    "verify unix - - n - 1 verify",
    "flush unix n - n 1000? 0 flush",
    "proxymap unix - - n - - proxymap",
    "proxywrite unix - - n - 1 proxymap",
    "smtp unix - - n - - smtp",
    "relay unix - - n - - smtp",
    "showq unix n - n - - showq",
    "error unix - - n - - error",
    "retry unix - - n - - error",
    "discard unix - - n - - discard",
    "local unix - n n - - local",
    "virtual unix - n n - - virtual",
    "lmtp unix - - n - - lmtp",
    "anvil unix - - n - 1 anvil",
    "scache unix - - n - 1 scache",
    "postlog unix-dgram n - n - 1 postlogd",
  ];
  return services.join("\n") + "\n";
}

function groupId(group: string): number {
  for (const line of Deno.readTextFileSync("/etc/group").split("\n")) {
    const fields = line.split(":");
    if (fields[0] === group) return Number(fields[2]);
  }
  throw new Error(`no group ${group} in /etc/group`);
}

function passwdEntry(user: string): { uid: number; gid: number } {
  for (const line of Deno.readTextFileSync("/etc/passwd").split("\n")) {
    const fields = line.split(":");
    if (fields[0] === user) return { uid: Number(fields[2]), gid: Number(fields[3]) };
  }
  throw new Error(`no user ${user} in /etc/passwd`);
}

/** The first Delivered-To of a delivered message's header, lower-cased. */
function deliveredTo(message: Uint8Array): string | null {
  const text = decoder.decode(message.subarray(0, 64 * 1024));
  const headerEnd = text.search(/\r?\n\r?\n/);
  const header = headerEnd < 0 ? text : text.slice(0, headerEnd);
  const match = /^Delivered-To:[ \t]*(\S+)/im.exec(header);
  return match ? match[1].toLowerCase() : null;
}

function masterPid(dir: string): number | null {
  try {
    const pid = Number(Deno.readTextFileSync(`${dir}/queue/pid/master.pid`).trim());
    return pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function processAlive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // A zombie (state Z) has exited; only its parent has not reaped it yet.
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

/** Runs a Postfix command; killed after 30 s (`postfix stop` can hang when postlogd is gone). */
async function run(command: string, args: string[], quiet = false): Promise<string> {
  const output = await new Deno.Command(command, {
    args,
    stdin: "null",
    signal: AbortSignal.timeout(COMMAND_TIMEOUT_MS),
  }).output();
  const stdout = decoder.decode(output.stdout);
  if (output.code !== 0) {
    const stderr = decoder.decode(output.stderr);
    throw new Error(`${command} ${args.join(" ")} exited ${output.code}: ${stderr}`);
  }
  if (!quiet && output.stderr.length > 0) {
    // postfix start reports problems on stderr even when it exits 0; keep them visible.
    console.error(decoder.decode(output.stderr).trimEnd());
  }
  return stdout;
}

/** Polls until `hostname:port` accepts connections (or, with `accepting` false, refuses them). */
async function waitForListener(
  hostname: string,
  port: number,
  timeoutMs: number,
  accepting = true,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown = "still accepting";
  for (;;) {
    try {
      const conn = await Deno.connect({ hostname, port });
      conn.close();
      if (accepting) return;
    } catch (error) {
      if (!accepting) return;
      lastError = error;
    }
    if (Date.now() >= deadline) break;
    await sleep(50);
  }
  throw new Error(
    `${hostname}:${port}${accepting ? " not accepting connections" : ""}: ${lastError}`,
  );
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Dot-stuffs (RFC 5321 4.5.2) and terminates a message, normalising bare LF to CRLF. */
export function smtpData(message: Uint8Array | string): Uint8Array {
  const text = typeof message === "string" ? encoder.encode(message) : message;
  const out: number[] = [];
  let lineStart = true;
  for (let i = 0; i < text.length; i++) {
    const byte = text[i];
    if (lineStart && byte === 0x2e) out.push(0x2e);
    if (byte === 0x0a && (i === 0 || text[i - 1] !== 0x0d)) out.push(0x0d);
    out.push(byte);
    lineStart = byte === 0x0a;
  }
  if (!lineStart) out.push(0x0d, 0x0a);
  out.push(0x2e, 0x0d, 0x0a);
  return new Uint8Array(out);
}

async function smtpSend(
  hostname: string,
  port: number,
  from: string,
  to: string[],
  message: Uint8Array | string,
): Promise<string> {
  const conn = await Deno.connect({ hostname, port });
  const reader = conn.readable.getReader();
  let buffered = "";
  const readReply = async (): Promise<string> => {
    const lines: string[] = [];
    for (;;) {
      let newline;
      while ((newline = buffered.indexOf("\r\n")) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 2);
        lines.push(line);
        if (line.length < 4 || line[3] === " ") return lines.join("\n");
      }
      const { value, done } = await reader.read();
      if (done) throw new Error(`postfix closed the connection after: ${lines.join("\n")}`);
      buffered += decoder.decode(value, { stream: true });
    }
  };
  const writer = conn.writable.getWriter();
  const command = async (line: string | Uint8Array, expect: string): Promise<string> => {
    await writer.write(typeof line === "string" ? encoder.encode(`${line}\r\n`) : line);
    const reply = await readReply();
    if (!reply.startsWith(expect)) {
      const shown = typeof line === "string" ? line : "<message>";
      throw new Error(`postfix answered ${shown} with: ${reply}`);
    }
    return reply;
  };
  try {
    const greeting = await readReply();
    if (!greeting.startsWith("220")) throw new Error(`postfix greeted with: ${greeting}`);
    await command("EHLO client.test", "250");
    // deno-lint-ignore no-control-regex
    const utf8 = /[^\x00-\x7f]/.test(from + to.join("")) ? " SMTPUTF8" : "";
    await command(`MAIL FROM:<${from}> BODY=8BITMIME${utf8}`, "250");
    for (const recipient of to) await command(`RCPT TO:<${recipient}>`, "250");
    await command("DATA", "354");
    const queued = await command(smtpData(message), "250");
    await command("QUIT", "221").catch(() => {});
    return queued;
  } finally {
    try {
      conn.close();
    } catch { /* already closed */ }
  }
}
