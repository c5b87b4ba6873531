/**
 * Interop: offlineimap (Debian's offlineimap3) syncs a 500-message INBOX from Postern over IMAPS
 * into a local Maildir, pushes local flag changes back, and a third run changes nothing on the
 * server. Installs its client through scripts/install-imap-clients.sh.
 */
import { DatabaseSync } from "node:sqlite";
import { assert, assertEquals } from "../helpers/assert.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { blobPath, cliAll, deliverMany } from "../helpers/mail.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const USER = "alice@example.com";
const COUNT = 500;

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

async function offlineimap(rc: string): Promise<string> {
  const output = await new Deno.Command("offlineimap", { args: ["-c", rc, "-o", "-u", "basic"] })
    .output();
  const text = new TextDecoder().decode(output.stderr) + new TextDecoder().decode(output.stdout);
  assertEquals(output.code, 0, text);
  // offlineimap exits 0 even when a folder failed; it reports the failure in its output.
  assert(!/ERROR|Traceback/.test(text), text);
  return text;
}

function files(dir: string): string[] {
  const out: string[] = [];
  for (const sub of ["cur", "new"]) {
    for (const entry of Deno.readDirSync(`${dir}/${sub}`)) out.push(`${dir}/${sub}/${entry.name}`);
  }
  return out.sort();
}

Deno.test("offlineimap syncs 500 messages, pushes flags back, then a resync changes nothing", async () => {
  await installClients();
  const server = await startServer({ extra: `[smtp]\nmax_messages_per_connection = ${COUNT}` });
  const dir = await Deno.makeTempDir({ prefix: "postern-offlineimap-" });
  try {
    await cliAll(server, [["account", "add", USER, "--password", "pw"]]);
    await deliverMany(server, USER, COUNT);

    const rc = `${dir}/offlineimaprc`;
    await Deno.writeTextFile(
      rc,
      [
        "[general]",
        "accounts = postern",
        `metadata = ${dir}/metadata`,
        "",
        "[Account postern]",
        "localrepository = local",
        "remoterepository = remote",
        "",
        "[Repository local]",
        "type = Maildir",
        `localfolders = ${dir}/mail`,
        "",
        "[Repository remote]",
        "type = IMAP",
        "remotehost = localhost",
        `remoteport = ${server.ports.imaps}`,
        `remoteuser = ${USER}`,
        "remotepass = pw",
        "ssl = yes",
        `sslcacertfile = ${server.dir}/data/tls/self-signed.crt`,
        "folderfilter = lambda folder: folder == 'INBOX'",
        "",
      ].join("\n"),
    );
    await offlineimap(rc);
    const inbox = `${dir}/mail/INBOX`;
    const local = files(inbox);
    assertEquals(local.length, COUNT);

    // What the server stores, for the first message, against offlineimap's copy: offlineimap
    // writes the message with LF line ends (it turns each CRLF of the FETCH BODY[] literal into
    // LF, as Maildir tools expect) and adds no header of its own on a download (its X-OfflineIMAP
    // header is only for messages it uploads). The stored message has CRLF line ends only, so
    // LF → CRLF on the copy must give back the stored bytes exactly.
    const [stored] = query(
      server,
      "SELECT blob_hash FROM emails WHERE message_id = 'm0@example.net'",
    );
    const original = await Deno.readTextFile(blobPath(server.dir, stored.blob_hash as string));
    const copy = local.map((f) => Deno.readTextFileSync(f)).find((t) =>
      t.includes("<m0@example.net>")
    );
    assert(copy !== undefined && !copy.includes("\r"), `copy: ${JSON.stringify(copy)}`);
    assert(!/[^\r]\n/.test(original), "stored message has a bare LF");
    assertEquals(copy.replace(/\n/g, "\r\n"), original);

    // Local changes: 10 read; they go back to the server.
    for (const file of local.slice(0, 10)) {
      Deno.renameSync(file, `${inbox}/cur/${file.split("/").pop()!.replace(/:2,.*$/, "")}:2,S`);
    }
    await offlineimap(rc);
    const count = (keyword: string) =>
      query(server, `SELECT count(*) AS n FROM email_keywords WHERE keyword = '${keyword}'`)[0].n;
    assertEquals(count("$seen"), 10);
    // The very messages marked: offlineimap names each file with its UID (",U=<uid>,").
    const marked = local.slice(0, 10).map((f) => Number(/,U=(\d+),/.exec(f)![1]));
    const seen = query(
      server,
      "SELECT m.uid FROM mailbox_messages m JOIN email_keywords k ON k.email_id = m.email_id " +
        "WHERE k.keyword = '$seen' ORDER BY m.uid",
    ).map((row) => row.uid);
    assertEquals(seen, marked.sort((a, b) => a - b));

    // Nothing changed since: the resync leaves the account's modseq alone.
    const before = query(server, "SELECT modseq FROM principals WHERE name = 'alice@example.com'");
    await offlineimap(rc);
    const after = query(server, "SELECT modseq FROM principals WHERE name = 'alice@example.com'");
    assertEquals(after, before);
    assertEquals(files(inbox).length, COUNT);
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
