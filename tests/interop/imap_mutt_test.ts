/**
 * Interop: mutt (Debian's mutt 2.2) in batch mode against the real server process over IMAPS,
 * verifying the server's certificate. mutt's index needs a terminal, so it runs under `script`
 * (a pseudo-terminal) with its keystrokes queued by `-e 'push …'`; it reads one message (piped
 * out raw, then displayed, which marks it \Seen), saves another to Archive (mutt's
 * save-message: COPY or MOVE, \Deleted, EXPUNGE on sync) and quits. The server's database
 * must then show the read flag and the move. Installs mutt through
 * scripts/install-imap-clients.sh.
 */
import { DatabaseSync } from "node:sqlite";
import { assertEquals } from "../helpers/assert.ts";
import { cli, startServer, type TestServer } from "../helpers/server.ts";
import { cliAll, messagesOf } from "../helpers/mail.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const USER = "alice@example.com";
const PASSWORD = "pw-alice";

async function installClients(): Promise<void> {
  const result = await new Deno.Command("bash", {
    args: [`${ROOT}scripts/install-imap-clients.sh`],
  })
    .output();
  assertEquals(result.code, 0, new TextDecoder().decode(result.stderr));
}

function query(server: TestServer, sql: string): Record<string, unknown>[] {
  const db = new DatabaseSync(`${server.dir}/data/postern.db`, { readOnly: true });
  try {
    return db.prepare(sql).all() as Record<string, unknown>[];
  } finally {
    db.close();
  }
}

async function deliver(server: TestServer, subject: string): Promise<void> {
  const result = await cli(
    server.configPath,
    ["deliver", USER],
    `From: Bob <bob@example.org>\r\nTo: ${USER}\r\nSubject: ${subject}\r\n` +
      `Message-ID: <${subject}@example.org>\r\n\r\nBody of ${subject}.\r\n`,
  );
  assertEquals(result.code, 0, result.stderr);
}

/** Runs mutt under a pseudo-terminal with `keys` pushed; returns its exit code and screen. */
async function mutt(
  rc: string,
  home: string,
  keys: string,
): Promise<{ code: number; screen: string }> {
  const command = `mutt -n -F '${rc}' -e 'push "${keys}"'`;
  const output = await new Deno.Command("timeout", {
    args: ["60", "script", "-qfec", command, "/dev/null"],
    env: { HOME: home, TERM: "xterm", LANG: "C.UTF-8", COLUMNS: "120", LINES: "40" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const screen = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
  return { code: output.code, screen };
}

/** Mailbox name → subjects in it, by UID, from the server's database. */
function mailboxes(server: TestServer): Record<string, string[]> {
  const rows = query(
    server,
    "SELECT b.name AS box, e.subject AS subject FROM mailbox_messages m " +
      "JOIN mailboxes b ON b.id = m.mailbox_id JOIN emails e ON e.id = m.email_id " +
      "ORDER BY b.name, m.uid",
  );
  const out: Record<string, string[]> = {};
  for (const row of rows) (out[row.box as string] ??= []).push(row.subject as string);
  return out;
}

Deno.test("mutt reads a message and saves another to Archive over IMAPS", async () => {
  await installClients();
  const server = await startServer();
  const dir = await Deno.makeTempDir({ prefix: "postern-mutt-" });
  try {
    await cliAll(server, [["account", "add", USER, "--password", PASSWORD]]);
    for (const subject of ["alpha", "bravo", "charlie"]) await deliver(server, subject);
    const rc = `${dir}/muttrc`;
    await Deno.writeTextFile(
      rc,
      [
        `set folder="imaps://localhost:${server.ports.imaps}/"`,
        `set spoolfile="+INBOX"`,
        `set imap_user="${USER}"`,
        `set imap_pass="${PASSWORD}"`,
        `set ssl_ca_certificates_file="${server.dir}/data/tls/self-signed.crt"`,
        `set certificate_file="${dir}/certificates"`,
        "set ssl_force_tls=yes",
        "set ssl_verify_host=yes",
        "set header_cache=''",
        "set message_cachedir=''",
        "set mail_check=0",
        "set timeout=0",
        "set confirmappend=no",
        "set confirmcreate=no",
        "set delete=yes",
        "set move=no",
        "set quit=yes",
        "set mark_old=no",
        "set wait_key=no",
        "set pipe_decode=no",
        "set pager_stop=yes",
        "",
      ].join("\n"),
    );
    const piped = `${dir}/bravo.eml`;
    const keys = [
      // Read "bravo": pipe its raw text out, then display it (which sets \Seen) and leave.
      `<search>~s bravo<enter><pipe-message>cat > ${piped}<enter>`,
      "<display-message><exit>",
      // Save "charlie" to Archive (moves it) and write the changes back.
      "<search>~s charlie<enter><save-message>=Archive<enter>",
      "<sync-mailbox><quit>",
    ].join("");
    const run = await mutt(rc, dir, keys);
    assertEquals(run.code, 0, run.screen);

    // What mutt piped is the stored message (`postern deliver` adds no trace fields), with the
    // LF line ends mutt hands to every pipe; nothing added.
    const stored = messagesOf(server, USER).find((m) => m.includes("Subject: bravo\r\n"))!;
    assertEquals(await Deno.readTextFile(piped), stored.replaceAll("\r\n", "\n"));

    assertEquals(mailboxes(server), { Archive: ["charlie"], INBOX: ["alpha", "bravo"] });
    const seen = query(
      server,
      "SELECT e.subject FROM email_keywords k JOIN emails e ON e.id = k.email_id " +
        "WHERE k.keyword = '$seen' ORDER BY e.subject",
    ).map((row) => row.subject);
    // Only the displayed message is read; the saved one keeps its flags (none) in Archive.
    assertEquals(seen, ["bravo"]);
    assertEquals(query(server, "SELECT count(*) AS n FROM emails")[0].n, 3);
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
