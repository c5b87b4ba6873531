/**
 * Fuzz: mutated and random IMAP commands against the real server in each state (not
 * authenticated, authenticated, selected). Whatever arrives, the server answers and stays in
 * step: a NOOP with a fresh tag after each burst gets its tagged OK, and the process lives.
 */
import { assert, assertMatch } from "../helpers/assert.ts";
import { cli, startServer } from "../helpers/server.ts";
import { LineClient } from "../helpers/tls.ts";
import { cliAll } from "../helpers/mail.ts";
import { mulberry32 } from "../helpers/random.ts";

const VALID = [
  "CAPABILITY",
  "NOOP",
  "LOGIN alice@example.com pw",
  'LOGIN "alice@example.com" "wrong"',
  "SELECT INBOX",
  'EXAMINE "Sent"',
  'LIST "" "*"',
  'LIST (SUBSCRIBED) "" ("*" "%") RETURN (CHILDREN SPECIAL-USE)',
  "STATUS INBOX (MESSAGES UIDNEXT UNSEEN SIZE DELETED)",
  "FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)])",
  "FETCH 1 (BODY[TEXT]<0.10> BODY.PEEK[1.MIME] RFC822.HEADER)",
  "UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1)",
  "STORE 1 +FLAGS.SILENT (\\Seen $Junk)",
  "UID STORE 1:* -FLAGS (\\Flagged)",
  "SEARCH OR (FROM bob SINCE 1-Jan-2020) NOT SEEN",
  "UID SEARCH RETURN (MIN MAX COUNT SAVE) TEXT zebra",
  "SEARCH UID $",
  "COPY 1 Archive",
  "UID MOVE 99 Trash",
  "CREATE Fuzz/Box",
  "RENAME Fuzz/Box Fuzz/Other",
  "DELETE Fuzz/Other",
  "APPEND INBOX (\\Seen) {12+}\r\nSubject: x\r\n",
  "ENABLE CONDSTORE UTF8=ACCEPT",
  "ID NIL",
  "NAMESPACE",
  "UNSELECT",
  "CHECK",
  "EXPUNGE",
];
const PIECES = [
  "(",
  ")",
  "[",
  "]",
  "{",
  "}",
  "*",
  "%",
  "\\",
  '"',
  " ",
  "1:*",
  "NIL",
  "{3}",
  "~{2}",
  "\u00e9",
  "\x00",
  "<0.5>",
];

function mutate(random: () => number, text: string): string {
  let out = text;
  const edits = 1 + Math.floor(random() * 4);
  for (let i = 0; i < edits; i++) {
    const at = Math.floor(random() * (out.length + 1));
    const roll = random();
    if (roll < 0.4) {
      out = out.slice(0, at) + PIECES[Math.floor(random() * PIECES.length)] + out.slice(at);
    } else if (roll < 0.7) out = out.slice(0, at) + out.slice(at + 1 + Math.floor(random() * 5));
    else {out = out.slice(0, at) + String.fromCharCode(32 + Math.floor(random() * 95)) +
        out.slice(at);}
  }
  return out.replace(/\r?\n/g, " ");
}

Deno.test("fuzz: the IMAP server answers and stays in step in every state", async () => {
  const server = await startServer();
  try {
    await cliAll(server, [["account", "add", "alice@example.com", "--password", "pw"]]);
    await cli(server.configPath, ["deliver", "alice@example.com"], "Subject: z\r\n\r\nzebra\r\n");
    const ca = await Deno.readTextFile(`${server.dir}/data/tls/self-signed.crt`);
    const random = mulberry32(42);
    for (const state of ["none", "auth", "selected"] as const) {
      const client = await LineClient.connect(server.ports.imaps, { implicitTls: { ca } });
      await client.readLine();
      if (state !== "none") {
        await client.write("l LOGIN alice@example.com pw\r\n");
        await client.readUntil((l) => l.startsWith("l "));
      }
      if (state === "selected") {
        await client.write("s SELECT INBOX\r\n");
        await client.readUntil((l) => l.startsWith("s "));
      }
      for (let burst = 0; burst < 15; burst++) {
        let text = "";
        for (let i = 0; i < 10; i++) {
          const base = VALID[Math.floor(random() * VALID.length)];
          // Never log out or start TLS mid-fuzz: those end the conversation on purpose.
          const line = random() < 0.8 ? mutate(random, base) : base;
          if (/LOGOUT|STARTTLS|IDLE|AUTHENTICATE|\{\d+\}|~\{/i.test(line)) continue;
          text += `f${burst}x${i} ${line}\r\n`;
        }
        await client.write(text);
        const check = `ok${state}${burst}`;
        await client.write(`${check} NOOP\r\n`);
        const lines = await client.readUntil((l) => l.startsWith(`${check} `));
        assertMatch(lines.at(-1)!, new RegExp(`^${check} OK`), lines.join("\n"));
      }
      await client.close();
    }
    // Still serving after all of it.
    const client = await LineClient.connect(server.ports.imaps, { implicitTls: { ca } });
    assertMatch((await client.readLine())!, /^\* OK /);
    await client.close();
    const internal = server.logs.filter((l) => l.includes('"msg":"command failed"'));
    assert(internal.length === 0, `internal errors:\n${internal.slice(0, 5).join("\n")}`);
  } finally {
    await server.stop();
  }
});
