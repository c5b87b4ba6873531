/**
 * Interop: sieve-connect, a ManageSieve client, drives the real server's managesieve port
 * non-interactively over STARTTLS (trusting the server's self-signed CA): upload, check, list,
 * activate, download, deactivate, delete; a script with an error is refused with its line; and
 * a script uploaded and activated with it files SMTP-delivered mail where IMAP then sees it.
 * Needs `sieve-connect` (scripts/install-interop.sh installs it).
 */
import { assert, assertEquals, assertStringIncludes } from "../helpers/assert.ts";
import { cli, startServer, type TestServer } from "../helpers/server.ts";
import { readReply, send } from "../helpers/mail.ts";
import { LineClient } from "../helpers/tls.ts";

const ALICE = "alice@example.com";
const PASSWORD = "pw-alice";
const SCRIPT = 'require ["fileinto", "envelope"];\r\n' +
  'if envelope :domain :is "from" "lists.example.net" {\r\n  fileinto "Lists";\r\n  stop;\r\n}\r\n' +
  "keep;\r\n";

async function sieveConnect(
  server: TestServer,
  args: string[],
): Promise<{ code: number; output: string }> {
  const child = new Deno.Command("sieve-connect", {
    args: [
      "--server",
      "127.0.0.1",
      "--port",
      String(server.ports.managesieve),
      "--nosrv",
      "--tlscafile",
      `${server.dir}/data/tls/self-signed.crt`,
      "--tlshostname",
      "localhost",
      "--noclearauth",
      "--user",
      ALICE,
      "--authmech",
      "PLAIN",
      "--passwordfd",
      "0",
      ...args,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(`${PASSWORD}\n`));
  await writer.close();
  const result = await child.output();
  const decoder = new TextDecoder();
  return {
    code: result.code,
    output: decoder.decode(result.stdout) + decoder.decode(result.stderr),
  };
}

Deno.test("sieve-connect uploads, lists, activates and downloads a script", async () => {
  const server = await startServer();
  const work = await Deno.makeTempDir({ prefix: "postern-sieve-connect-" });
  try {
    const added = await cli(server.configPath, ["account", "add", ALICE, "--password", PASSWORD]);
    assertEquals(added.code, 0, added.stderr);
    await Deno.writeTextFile(`${work}/lists.siv`, SCRIPT);

    const check = await sieveConnect(server, [
      "--localsieve",
      `${work}/lists.siv`,
      "--checkscript",
    ]);
    assertEquals(check.code, 0, check.output);

    const upload = await sieveConnect(server, [
      "--localsieve",
      `${work}/lists.siv`,
      "--remotesieve",
      "lists",
      "--upload",
    ]);
    assertEquals(upload.code, 0, upload.output);

    let list = await sieveConnect(server, ["--list"]);
    assertEquals(list.code, 0, list.output);
    // sieve-connect prints the LISTSCRIPTS lines as the server sent them.
    assertEquals(list.output.trim().split("\n"), ['"lists"']);

    const activate = await sieveConnect(server, ["--remotesieve", "lists", "--activate"]);
    assertEquals(activate.code, 0, activate.output);
    list = await sieveConnect(server, ["--list"]);
    assertEquals(list.output.trim().split("\n"), ['"lists" ACTIVE']);

    const download = await sieveConnect(server, [
      "--localsieve",
      `${work}/downloaded.siv`,
      "--remotesieve",
      "lists",
      "--download",
    ]);
    assertEquals(download.code, 0, download.output);
    assertEquals(await Deno.readTextFile(`${work}/downloaded.siv`), SCRIPT);

    // The active script cannot go; once deactivated it can.
    const refused = await sieveConnect(server, ["--remotesieve", "lists", "--delete"]);
    assert(refused.code !== 0, refused.output);
    assertStringIncludes(refused.output, "active");
    const deactivate = await sieveConnect(server, ["--deactivate"]);
    assertEquals(deactivate.code, 0, deactivate.output);
    const deleted = await sieveConnect(server, ["--remotesieve", "lists", "--delete"]);
    assertEquals(deleted.code, 0, deleted.output);
    list = await sieveConnect(server, ["--list"]);
    assertEquals(list.output.trim(), "");

    // A script with an error is refused, and the client shows the server's line and column.
    await Deno.writeTextFile(
      `${work}/bad.siv`,
      'require "fileinto";\r\nfileinto "a";\r\nfrobnicate;\r\n',
    );
    const bad = await sieveConnect(server, [
      "--localsieve",
      `${work}/bad.siv`,
      "--remotesieve",
      "bad",
      "--upload",
    ]);
    assert(bad.code !== 0, bad.output);
    assertStringIncludes(bad.output, "line 3, column 1");
  } finally {
    await server.stop();
    await Deno.remove(work, { recursive: true }).catch(() => {});
    await Deno.remove(server.dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("a script uploaded with sieve-connect files SMTP mail and sets flags IMAP sees", async () => {
  const server = await startServer();
  const work = await Deno.makeTempDir({ prefix: "postern-sieve-connect-" });
  try {
    const added = await cli(server.configPath, ["account", "add", ALICE, "--password", PASSWORD]);
    assertEquals(added.code, 0, added.stderr);
    await Deno.writeTextFile(
      `${work}/filter.siv`,
      'require ["fileinto", "envelope", "imap4flags", "mailbox"];\r\n' +
        'if envelope :domain :is "from" "lists.example.net" {\r\n' +
        '  fileinto :create :flags "\\\\Seen" "Lists";\r\n  stop;\r\n}\r\n',
    );
    const upload = await sieveConnect(server, [
      "--localsieve",
      `${work}/filter.siv`,
      "--remotesieve",
      "filter",
      "--upload",
    ]);
    assertEquals(upload.code, 0, upload.output);
    const activate = await sieveConnect(server, ["--remotesieve", "filter", "--activate"]);
    assertEquals(activate.code, 0, activate.output);

    const smtp = await LineClient.connect(server.ports.smtp);
    try {
      await readReply(smtp);
      await send(smtp, "EHLO lists.example.net");
      for (const from of ["news@lists.example.net", "friend@example.org"]) {
        await send(smtp, `MAIL FROM:<${from}>`);
        await send(smtp, `RCPT TO:<${ALICE}>`);
        await send(smtp, "DATA");
        const reply = await send(smtp, `From: ${from}\r\nSubject: hi\r\n\r\nHello.\r\n.`);
        assert(reply.startsWith("250"), reply);
      }
    } finally {
      await smtp.close();
    }
    const ca = await Deno.readTextFile(`${server.dir}/data/tls/self-signed.crt`);
    const imap = await LineClient.connect(server.ports.imaps, { implicitTls: { ca } });
    try {
      await imap.readLine();
      const command = async (tag: string, text: string) => {
        await imap.write(`${tag} ${text}\r\n`);
        return (await imap.readUntil((line) => line.startsWith(`${tag} `))).join("\n");
      };
      await command("a", `LOGIN ${ALICE} ${PASSWORD}`);
      assertStringIncludes(
        await command("b", "STATUS Lists (MESSAGES UNSEEN)"),
        "MESSAGES 1 UNSEEN 0",
      );
      assertStringIncludes(await command("c", "STATUS INBOX (MESSAGES)"), "MESSAGES 1");
    } finally {
      await imap.close();
    }
  } finally {
    await server.stop();
    await Deno.remove(work, { recursive: true });
  }
});
