/**
 * Dovecot's IMAP (dovecot-imapd) as the peer of `bench imap`: a throwaway instance on loopback
 * with the tuned process model (`service_count = 0` for imap-login, reused imap processes kept
 * warm with `process_min_avail`), `ssl = no`, and a passwd-file passdb with plaintext passwords.
 * Mailboxes are Maildir files written directly, named as Dovecot's own delivery names them.
 */

const DOVECOT = "/usr/sbin/dovecot";
/** The folders Postern creates for every new account, so LIST answers alike. */
const SPECIAL_FOLDERS = ["Sent", "Drafts", "Junk", "Trash", "Archive"];

export interface DovecotImap {
  port: number;
  /** The master process and every process below it, at the moment of the call. */
  processes(): number[];
  stop(): Promise<void>;
}

export async function dovecotImapAvailable(): Promise<boolean> {
  try {
    await Deno.stat(DOVECOT);
    await Deno.stat("/usr/lib/dovecot/imap");
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts Dovecot over `mailboxes` (address → messages in CRLF form, written to INBOX).
 * `sessions` is how many imap processes to keep ready.
 */
export async function startDovecotImap(
  mailboxes: Map<string, Uint8Array[]>,
  password: string,
  sessions: number,
): Promise<DovecotImap> {
  const dir = await Deno.makeTempDir({ prefix: "postern-dovecot-imap-" });
  let master = 0;
  const stop = async () => {
    if (!master) master = await readPid(`${dir}/run/master.pid`).catch(() => 0);
    if (master) {
      await new Deno.Command("kill", { args: [String(master)] }).output();
      for (let i = 0; i < 100 && statusKiB(master, "VmRSS") > 0; i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    await Deno.chmod(dir, 0o755);
    const port = 20000 + Math.floor(Math.random() * 20000);
    for (const sub of ["run", "state", "mail"]) await Deno.mkdir(`${dir}/${sub}`);
    const passwd: string[] = [];
    for (const [address, messages] of mailboxes) {
      passwd.push(`${address}:{PLAIN}${password}::::::`);
      await writeMaildir(`${dir}/mail/${address}`, messages);
    }
    await Deno.writeTextFile(`${dir}/passwd`, passwd.join("\n") + "\n");
    await new Deno.Command("chown", { args: ["-R", "nobody:nogroup", `${dir}/mail`] }).output();
    await Deno.writeTextFile(`${dir}/dovecot.conf`, config(dir, port, sessions));
    // The daemon keeps inherited pipes open, so give it none and read its log on failure.
    const start = await new Deno.Command(DOVECOT, {
      args: ["-c", `${dir}/dovecot.conf`],
      stdout: "null",
      stderr: "null",
    }).output();
    if (!start.success) {
      const log = await Deno.readTextFile(`${dir}/dovecot.log`).catch(() => "");
      throw new Error(`dovecot failed to start: ${log}`);
    }
    await waitForPort(port);
    master = await readPid(`${dir}/run/master.pid`);
    await new Promise((r) => setTimeout(r, 500)); // let process_min_avail fill
    return { port, processes: () => processTree(master), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

function config(dir: string, port: number, sessions: number): string {
  return `
base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${dir}/dovecot.log
ssl = no
disable_plaintext_auth = no
protocols = imap
mail_location = maildir:${dir}/mail/%u
mail_max_userip_connections = 100000
passdb {
  driver = passwd-file
  args = scheme=PLAIN ${dir}/passwd
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=${dir}/mail/%u
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${port}
  }
  inet_listener imaps {
    port = 0
  }
  service_count = 0
  process_min_avail = ${navigator.hardwareConcurrency}
  client_limit = 20000
}
service auth {
  client_limit = 20000
}
service anvil {
  client_limit = 20000
}
service imap {
  service_count = 1000
  process_min_avail = ${sessions}
  process_limit = ${Math.max(1024, sessions * 2)}
}
`;
}

/**
 * A Maildir as Dovecot's delivery leaves it after a first look: files in cur/ with LF line ends,
 * S= (file size) and W= (CRLF size) in the name, so listing needs no read of the files.
 */
async function writeMaildir(home: string, messages: Uint8Array[]) {
  for (const folder of ["", ...SPECIAL_FOLDERS.map((name) => `/.${name}`)]) {
    for (const sub of ["cur", "new", "tmp"]) {
      await Deno.mkdir(`${home}${folder}/${sub}`, { recursive: true });
    }
  }
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  let next = 0;
  await Promise.all(Array.from({ length: 32 }, async () => {
    while (next < messages.length) {
      const i = next++;
      const lf = encoder.encode(decoder.decode(messages[i]).replaceAll("\r\n", "\n"));
      const name = `${1700000000 + i}.M${i}P1.bench,S=${lf.length},W=${messages[i].length}:2,`;
      await Deno.writeFile(`${home}/cur/${name}`, lf);
    }
  }));
}

/** Dovecot writes its pid file a moment after it starts listening. */
async function readPid(path: string): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const text = await Deno.readTextFile(path).catch(() => "");
    if (text.trim()) return Number(text.trim());
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no pid in ${path}`);
}

export async function waitForPort(port: number) {
  for (let i = 0; i < 100; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`nothing listens on ${port}`);
}

/** `root` and every process below it. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of Deno.readDirSync("/proc")) {
    const pid = Number(entry.name);
    if (!Number.isInteger(pid)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), pid]);
    } catch {
      // gone meanwhile
    }
  }
  const all: number[] = [];
  for (const queue = [root]; queue.length > 0;) {
    const pid = queue.pop()!;
    all.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return all;
}

/** A field of /proc/PID/status in KiB (VmRSS, VmHWM); 0 when the process is gone. */
export function statusKiB(pid: number, field: string): number {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** Proportional set size in KiB: shared pages split among the processes that map them. */
export function pssKiB(pid: number): number {
  try {
    const rollup = Deno.readTextFileSync(`/proc/${pid}/smaps_rollup`);
    return Number(/^Pss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0);
  } catch {
    return 0;
  }
}
