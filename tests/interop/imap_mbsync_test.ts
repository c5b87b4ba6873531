/**
 * Interop: mbsync (isync) syncs a 2,000-message INBOX from Postern over IMAPS into a local
 * Maildir, pushes local changes back (flags, deletions), and a third run changes nothing.
 * Needs `isync` (scripts/install-interop.sh installs it).
 */
import { DatabaseSync } from "node:sqlite";
import { assertEquals } from "../helpers/assert.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { blobPath, cliAll, deliverMany } from "../helpers/mail.ts";

const USER = "alice@example.com";
const COUNT = 2000;

function query(server: TestServer, sql: string): Record<string, unknown>[] {
  const db = new DatabaseSync(`${server.dir}/data/postern.db`, { readOnly: true });
  try {
    return db.prepare(sql).all() as Record<string, unknown>[];
  } finally {
    db.close();
  }
}

async function mbsync(rc: string): Promise<void> {
  const output = await new Deno.Command("mbsync", { args: ["-c", rc, "-a"] }).output();
  const text = new TextDecoder().decode(output.stderr) + new TextDecoder().decode(output.stdout);
  assertEquals(output.code, 0, text);
}

function files(dir: string): string[] {
  const out: string[] = [];
  for (const sub of ["cur", "new"]) {
    for (const entry of Deno.readDirSync(`${dir}/${sub}`)) out.push(`${dir}/${sub}/${entry.name}`);
  }
  return out;
}

Deno.test("mbsync syncs 2,000 messages both ways, then a resync changes nothing", async () => {
  const server = await startServer({ extra: `[smtp]\nmax_messages_per_connection = ${COUNT}` });
  const dir = await Deno.makeTempDir({ prefix: "postern-mbsync-" });
  try {
    await cliAll(server, [["account", "add", USER, "--password", "pw"]]);
    await deliverMany(server, USER, COUNT);

    await Deno.mkdir(`${dir}/mail`);
    const rc = `${dir}/mbsyncrc`;
    await Deno.writeTextFile(
      rc,
      [
        "IMAPAccount postern",
        "Host 127.0.0.1",
        `Port ${server.ports.imaps}`,
        `User ${USER}`,
        "Pass pw",
        "SSLType IMAPS",
        `CertificateFile ${server.dir}/data/tls/self-signed.crt`,
        "",
        "IMAPStore remote",
        "Account postern",
        "",
        "MaildirStore local",
        `Path ${dir}/mail/`,
        `Inbox ${dir}/mail/INBOX`,
        "",
        "Channel sync",
        "Far :remote:",
        "Near :local:",
        "Patterns INBOX",
        "Create Near",
        "Sync All",
        "SyncState *",
        "",
      ].join("\n"),
    );
    await mbsync(rc);
    const local = files(`${dir}/mail/INBOX`);
    assertEquals(local.length, COUNT);
    // What the server stores, for the first message: mbsync writes LF line ends and adds its
    // own X-TUID header; otherwise byte for byte.
    const [stored] = query(
      server,
      "SELECT blob_hash FROM emails WHERE message_id = 'm0@example.net'",
    );
    const original = await Deno.readTextFile(blobPath(server.dir, stored.blob_hash as string));
    const copy = local.map((f) => Deno.readTextFileSync(f)).find((t) =>
      t.includes("<m0@example.net>")
    );
    assertEquals(copy?.replace(/^X-TUID: .*\n/m, "").replace(/\n/g, "\r\n"), original);

    // Local changes: 10 read, 5 deleted; they go back to the server.
    local.sort();
    for (const file of local.slice(0, 10)) {
      Deno.renameSync(
        file,
        `${dir}/mail/INBOX/cur/${file.split("/").pop()!.replace(/:2,.*$/, "")}:2,S`,
      );
    }
    for (const file of local.slice(10, 15)) Deno.removeSync(file);
    await mbsync(rc);
    const count = (keyword: string) =>
      query(server, `SELECT count(*) AS n FROM email_keywords WHERE keyword = '${keyword}'`)[0].n;
    assertEquals([count("$seen"), count("$deleted")], [10, 5]);

    // Nothing changed since: the resync leaves the account's modseq alone.
    const before = query(server, "SELECT modseq FROM principals WHERE name = 'alice@example.com'");
    await mbsync(rc);
    const after = query(server, "SELECT modseq FROM principals WHERE name = 'alice@example.com'");
    assertEquals(after, before);
    assertEquals(files(`${dir}/mail/INBOX`).length, COUNT - 5);
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
