/**
 * Dovecot's IMAP (dovecot-imapd) as the peer of `bench imap`: a throwaway instance on loopback
 * with the tuned process model (`service_count = 0` for imap-login, reused imap processes kept
 * warm with `process_min_avail`), `ssl = no`, and a passwd-file passdb with plaintext passwords.
 * Mailboxes are Maildir files written directly, named as Dovecot's own delivery names them.
 */
import { freePort, killAndWait, processTree, readPidFile, waitForPort } from "./procs.ts";

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
    if (!master) master = await readPidFile(`${dir}/run/master.pid`);
    if (master) await killAndWait(master);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    await Deno.chmod(dir, 0o755);
    const port = freePort();
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
    master = await readPidFile(`${dir}/run/master.pid`);
    if (!master) throw new Error("dovecot wrote no pid file");
    await new Promise((r) => setTimeout(r, 500)); // let process_min_avail fill
    return { port, processes: () => processTree([master]), stop };
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
