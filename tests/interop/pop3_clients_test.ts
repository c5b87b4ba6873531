/**
 * Interop: fetchmail and getmail6, the tools that pull POP3 mail into other systems, against the
 * real server process, each verifying the server's certificate:
 * - fetchmail over STLS on port 110 in keep mode with UIDL tracking (an idfile): each run fetches
 *   only what is new; then over implicit TLS on 995 without keep, which empties the maildrop.
 * - getmail6 over port 995 (SimplePOP3SSLRetriever) into a local maildir, "new only" (its oldmail
 *   file) over several runs, then with delete.
 * What arrives must be the delivered message, byte for byte, apart from what each client adds on
 * purpose (see `assertRetrieved`).
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { cliAll, messagesOf } from "../helpers/mail.ts";
import { deliver } from "../integration/pop3_helpers.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const ALICE = "alice@example.com";

async function installPeers(): Promise<void> {
  const result = await new Deno.Command("bash", { args: [`${ROOT}scripts/install-pop3-peers.sh`] })
    .output();
  assertEquals(result.code, 0, new TextDecoder().decode(result.stderr));
}

function message(i: number): string {
  return `From: sender${i}@example.net\r\nTo: ${ALICE}\r\nSubject: interop ${i}\r\n` +
    `Message-ID: <interop-${i}@example.net>\r\n\r\nBody of message ${i}.\r\n.a line with a dot\r\n` +
    `..two\r\n.\r\nlast line\r\n`;
}

/** Files of a maildir's new/ (or a plain folder), oldest name first. */
async function filesIn(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) if (entry.isFile) names.push(entry.name);
  names.sort();
  return await Promise.all(names.map((n) => Deno.readTextFile(`${dir}/${n}`)));
}

/**
 * Each retrieved file is `added + stored message`, where `added` is only header fields the client
 * puts on top on purpose (fetchmail: its own Received; getmail: a Return-Path once delivered_to
 * and received are off), and line ends as the client writes them (both hand LF-only text to local
 * delivery, as Unix mail tools do): the stored CRLF message with CRLF → LF must be the file's
 * exact tail. Leading dots and the lone "." line come through unstuffed.
 */
function assertRetrieved(files: string[], stored: string[], allowedPrefix: RegExp): void {
  assertEquals(files.length, stored.length, `retrieved ${files.length}, expected ${stored.length}`);
  const expected = new Set(stored.map((m) => m.replaceAll("\r\n", "\n")));
  for (const file of files) {
    const match = [...expected].find((m) => file.endsWith(m));
    assert(match !== undefined, `retrieved file is not a delivered message:\n${file}`);
    const added = file.slice(0, file.length - match.length);
    assert(allowedPrefix.test(added), `unexpected additions:\n${added}`);
    expected.delete(match);
  }
}

async function run(cmd: string, args: string[], env: Record<string, string>) {
  const output = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
  return { code: output.code, text };
}

async function setup(): Promise<{ server: TestServer; work: string; ca: string }> {
  await installPeers();
  const server = await startServer();
  await cliAll(server, [["account", "add", ALICE, "--password", "pw-alice"]]);
  const work = await Deno.makeTempDir({ prefix: "postern-pop3-interop-" });
  return { server, work, ca: `${server.dir}/data/tls/self-signed.crt` };
}

Deno.test("fetchmail: keep + UIDL fetches only new mail over STLS; then no-keep over 995", async () => {
  const { server, work, ca } = await setup();
  try {
    const out = `${work}/out`;
    await Deno.mkdir(out);
    const rc = (port: number, keep: boolean, ssl: boolean) =>
      `set no syslog\n` +
      `poll localhost with proto POP3 port ${port} and options uidl\n` +
      `  user "${ALICE}" there with password "pw-alice" is root here\n` +
      `  ${ssl ? "ssl " : ""}sslproto TLS1.2+ sslcertck sslcertfile "${ca}"\n` +
      `  ${keep ? "keep" : "nokeep"}\n` +
      `  mda "/bin/sh -c 'cat > ${out}/$(date +%s%N).eml'"\n`;
    const fetch = async (port: number, keep: boolean, ssl: boolean) => {
      await Deno.writeTextFile(`${work}/fetchmailrc`, rc(port, keep, ssl), { mode: 0o600 });
      await Deno.chmod(`${work}/fetchmailrc`, 0o600);
      return await run("fetchmail", [
        "-f",
        `${work}/fetchmailrc`,
        "--idfile",
        `${work}/fetchids`,
        "-v",
      ], { HOME: work, FETCHMAILHOME: work });
    };

    await deliver(server, ALICE, message(1));
    await deliver(server, ALICE, message(2));
    let result = await fetch(server.ports.pop3, true, false);
    assertEquals(result.code, 0, result.text);
    assert(/STLS/.test(result.text), result.text);
    assertRetrieved(
      await filesIn(out),
      messagesOf(server, ALICE),
      /^(Received: [^\n]*\n(\t[^\n]*\n)*)?$/,
    );

    result = await fetch(server.ports.pop3, true, false);
    assertEquals(result.code, 1, `second run should find nothing new:\n${result.text}`);
    assertEquals((await filesIn(out)).length, 2);

    await deliver(server, ALICE, message(3));
    result = await fetch(server.ports.pop3, true, false);
    assertEquals(result.code, 0, result.text);
    assertRetrieved(
      await filesIn(out),
      messagesOf(server, ALICE),
      /^(Received: [^\n]*\n(\t[^\n]*\n)*)?$/,
    );
    assertEquals(messagesOf(server, ALICE).length, 3); // keep: nothing deleted

    // No keep, implicit TLS: fetches what it has not seen (nothing) and deletes everything it
    // has, so the maildrop ends empty.
    for (const entry of Deno.readDirSync(out)) Deno.removeSync(`${out}/${entry.name}`);
    await Deno.remove(`${work}/fetchids`).catch(() => {});
    const stored = messagesOf(server, ALICE);
    result = await fetch(server.ports.pop3s, false, true);
    assertEquals(result.code, 0, result.text);
    assertRetrieved(await filesIn(out), stored, /^(Received: [^\n]*\n(\t[^\n]*\n)*)?$/);
    assertEquals(messagesOf(server, ALICE), []);
  } finally {
    await server.stop();
    await Deno.remove(work, { recursive: true }).catch(() => {});
    await Deno.remove(server.dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("getmail6: new-only retrieval into a maildir over 995, then delete", async () => {
  const { server, work, ca } = await setup();
  try {
    const maildir = `${work}/Maildir`;
    for (const sub of ["cur", "new", "tmp"]) {
      await Deno.mkdir(`${maildir}/${sub}`, { recursive: true });
    }
    // getmail refuses to deliver as root; it delivers as `user` instead, who must own the maildir.
    const asRoot = Deno.uid() === 0;
    if (asRoot) {
      await Deno.chmod(work, 0o755);
      const chown = await run("chown", ["-R", "nobody", maildir], {});
      assertEquals(chown.code, 0, chown.text);
    }
    const rc = (remove: boolean) =>
      `[retriever]\ntype = SimplePOP3SSLRetriever\nserver = localhost\nport = ${server.ports.pop3s}\n` +
      `username = ${ALICE}\npassword = pw-alice\nca_certs = ${ca}\n\n` +
      `[destination]\ntype = Maildir\npath = ${maildir}/\n${asRoot ? "user = nobody\n" : ""}\n` +
      `[options]\nread_all = false\ndelete = ${remove}\ndelivered_to = false\nreceived = false\n` +
      `verbose = 2\n`;
    const fetch = async (remove: boolean) => {
      await Deno.writeTextFile(`${work}/getmailrc`, rc(remove));
      return await run("getmail", ["--getmaildir", work, "--rcfile", `${work}/getmailrc`], {
        HOME: work,
      });
    };

    await deliver(server, ALICE, message(1));
    await deliver(server, ALICE, message(2));
    let result = await fetch(false);
    assertEquals(result.code, 0, result.text);
    assert(/2 messages? \([0-9]+ bytes\) retrieved/.test(result.text), result.text);
    // The stored messages under one Return-Path line: with delivered_to and received off, getmail
    // adds only that (POP3 carries no envelope sender, so it says "<unknown>").
    assertRetrieved(
      await filesIn(`${maildir}/new`),
      messagesOf(server, ALICE),
      /^Return-Path: <unknown>\n$/,
    );

    result = await fetch(false);
    assertEquals(result.code, 0, result.text);
    assert(/0 messages? \(0 bytes\) retrieved/.test(result.text), result.text);

    await deliver(server, ALICE, message(3));
    result = await fetch(true);
    assertEquals(result.code, 0, result.text);
    assert(/1 messages? \([0-9]+ bytes\) retrieved/.test(result.text), result.text);
    const files = await filesIn(`${maildir}/new`);
    assertEquals(files.length, 3);
    // delete = true removes what it retrieved in that run and what it had seen before.
    assertEquals(messagesOf(server, ALICE).length, 0);
  } finally {
    await server.stop();
    await Deno.remove(work, { recursive: true }).catch(() => {});
    await Deno.remove(server.dir, { recursive: true }).catch(() => {});
  }
});
