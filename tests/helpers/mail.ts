/**
 * Helpers for tests that look at what a server stored and talk SMTP to it: stored messages read
 * back from the database and blob files, CLI set-up, SMTP reply reading over a LineClient, and an
 * IMAP login to see which passwords an account takes.
 */
import { DatabaseSync } from "node:sqlite";
import { assertEquals, assertMatch } from "./assert.ts";
import { cli, type TestServer } from "./server.ts";
import { LineClient } from "./tls.ts";

/** Where a blob lives under a test server's data directory. */
export function blobPath(dir: string, hash: string): string {
  return `${dir}/data/blobs/${hash.slice(0, 2)}/${hash}`;
}

/** Every message of an account, oldest first, exactly as stored. */
export function messagesOf(server: TestServer, address: string): string[] {
  const db = new DatabaseSync(`${server.dir}/data/postern.db`, { readOnly: true });
  try {
    const rows = db.prepare(
      "SELECT e.blob_hash AS hash FROM emails e JOIN principals p ON p.id = e.account_id " +
        "WHERE p.name = ? ORDER BY e.id",
    ).all(address) as { hash: string }[];
    return rows.map(({ hash }) => Deno.readTextFileSync(blobPath(server.dir, hash)));
  } finally {
    db.close();
  }
}

/** Runs CLI commands against the server's config, each of which must succeed. */
export async function cliAll(server: TestServer, commands: string[][]): Promise<void> {
  for (const args of commands) {
    const result = await cli(server.configPath, args);
    assertEquals(result.code, 0, `${args.join(" ")}: ${result.stderr}`);
  }
}

/** The lines of one SMTP reply (multi-line replies end at "NNN "). */
export async function readReply(client: LineClient): Promise<string[]> {
  return await client.readUntil((line) => line.length < 4 || line[3] === " ");
}

/** One SMTP reply, its lines joined with "\n". */
export async function reply(client: LineClient): Promise<string> {
  return (await readReply(client)).join("\n");
}

/** Sends `line` + CRLF and returns the reply, lines joined with "\n". */
export async function send(client: LineClient, line: string): Promise<string> {
  await client.write(`${line}\r\n`);
  return await reply(client);
}

/**
 * Submits one message on the submission port (587: STARTTLS, AUTH PLAIN) and returns the reply
 * to the end of data.
 */
export async function submit(
  server: TestServer,
  login: { user: string; password: string },
  envelope: { from: string; to: string[]; mailParams?: string; rcptParams?: string },
  data: string,
): Promise<string> {
  const client = await LineClient.connect(server.ports.submission);
  try {
    await readReply(client);
    await send(client, "EHLO client.test");
    assertEquals(await send(client, "STARTTLS"), "220 2.0.0 Ready to start TLS");
    await client.startTls(await Deno.readTextFile(`${server.dir}/data/tls/self-signed.crt`));
    await send(client, "EHLO client.test");
    const token = btoa(`\0${login.user}\0${login.password}`);
    assertEquals(await send(client, `AUTH PLAIN ${token}`), "235 2.7.0 Authentication successful");
    const mail = await send(client, `MAIL FROM:<${envelope.from}>${envelope.mailParams ?? ""}`);
    if (!mail.startsWith("250")) return mail;
    for (const to of envelope.to) {
      const rcpt = await send(client, `RCPT TO:<${to}>${envelope.rcptParams ?? ""}`);
      if (!rcpt.startsWith("250")) return rcpt;
    }
    const go = await send(client, "DATA");
    if (!go.startsWith("354")) return go;
    const body = data.replace(/\r?\n/g, "\r\n").replace(/^\./gm, "..");
    return await send(client, `${body.endsWith("\r\n") ? body : body + "\r\n"}.`);
  } finally {
    await client.close();
  }
}

/**
 * Delivers `count` small messages ("Subject: message i", Message-ID <m{i}@example.net>) to
 * `recipient` over one port-25 session (the server needs max_messages_per_connection ≥ count).
 */
export async function deliverMany(
  server: TestServer,
  recipient: string,
  count: number,
): Promise<void> {
  const smtp = await LineClient.connect(server.ports.smtp);
  try {
    await readReply(smtp);
    await send(smtp, "EHLO sender.test");
    for (let i = 0; i < count; i++) {
      await send(smtp, "MAIL FROM:<s@example.net>");
      await send(smtp, `RCPT TO:<${recipient}>`);
      await send(smtp, "DATA");
      const reply = await send(
        smtp,
        `Subject: message ${i}\r\nMessage-ID: <m${i}@example.net>\r\n\r\nBody ${i}\r\n.`,
      );
      assertEquals(reply.slice(0, 3), "250", reply);
    }
  } finally {
    await smtp.close();
  }
}

/** The tagged reply to `LOGIN user "password"` on a fresh IMAPS connection (self-signed CA). */
export async function imapLogin(
  server: TestServer,
  user: string,
  password: string,
): Promise<string> {
  const ca = await Deno.readTextFile(`${server.dir}/data/tls/self-signed.crt`);
  const client = await LineClient.connect(server.ports.imaps, { implicitTls: { ca } });
  try {
    assertMatch((await client.readLine())!, /^\* OK /);
    await client.write(`a1 LOGIN ${user} "${password}"\r\n`);
    return (await client.readUntil((line) => line.startsWith("a1 "))).at(-1)!;
  } finally {
    await client.close();
  }
}
