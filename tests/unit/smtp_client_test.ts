/**
 * The outbound SMTP client on its own: dot-stuffing, and a fuzz run against a host that answers
 * every line with random replies, garbage, endless multi-line replies, over-long lines, silence
 * or a hang-up. Whatever the host does, `sendTransaction` resolves (never throws, never hangs
 * past its timeouts) with a result of the right shape, and closes its connection.
 */
import net from "node:net";
import { assert, assertEquals } from "../helpers/assert.ts";
import { mulberry32 } from "../helpers/random.ts";
import { dotStuff, type Envelope, sendTransaction } from "../../src/smtp/outbound/client.ts";
import { logger } from "../../src/observability/log.ts";

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const bytes = (value: string) => new TextEncoder().encode(value);

Deno.test("dotStuff doubles leading dots, adds the final CRLF and the terminator", () => {
  assertEquals(text(dotStuff(bytes(""))), ".\r\n");
  assertEquals(text(dotStuff(bytes("a\r\n"))), "a\r\n.\r\n");
  assertEquals(text(dotStuff(bytes("a"))), "a\r\n.\r\n");
  assertEquals(text(dotStuff(bytes(".a\r\n"))), "..a\r\n.\r\n");
  assertEquals(text(dotStuff(bytes("x\r\n.\r\n..y\r\nz."))), "x\r\n..\r\n...y\r\nz.\r\n.\r\n");
  assertEquals(text(dotStuff(bytes("a.b\r\n"))), "a.b\r\n.\r\n");
});

const REPLIES = [
  "220 ok",
  "250 ok",
  "250-first",
  "354 go",
  "221 bye",
  "235 2.7.0 ok",
  "421 4.3.2 going away",
  "451 4.7.1 later",
  "550 5.1.1 no",
  "554",
  "250 2.0.0",
  "25",
  "2500 x",
  "abc",
  "",
  "220-",
  "999 what",
  "250 " + "x".repeat(5000),
  "250-PIPELINING",
  "250-STARTTLS",
  "250-SIZE 10",
  "250-SMTPUTF8",
  "\u0000\u00ff",
];

function randomReply(random: () => number): string | null {
  const roll = random();
  if (roll < 0.03) return null; // hang up
  if (roll < 0.05) return ""; // say nothing for this line
  let out = "";
  const count = 1 + Math.floor(random() * 3);
  for (let i = 0; i < count; i++) {
    out += REPLIES[Math.floor(random() * REPLIES.length)] + (random() < 0.05 ? "\n" : "\r\n");
  }
  return out;
}

Deno.test("fuzz: a host answering nonsense never makes the client throw or hang", async () => {
  const random = mulberry32(7);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    const answer = () => {
      const reply = randomReply(random);
      if (reply === null) socket.destroy();
      else if (reply !== "") socket.write(reply);
    };
    answer();
    socket.on("data", () => answer());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const port = (server.address() as net.AddressInfo).port;
  const envelope: Envelope = {
    from: "a@example.com",
    recipients: [
      { address: "b@example.net", notify: [], orcpt: null },
      { address: "c@example.net", notify: ["FAILURE"], orcpt: "rfc822;c@example.net" },
    ],
    envelopeId: null,
    ret: null,
    body: "7BIT",
    smtputf8: false,
    requireTls: false,
  };
  const message = bytes("Subject: fuzz\r\n\r\n.body\r\n");
  const kinds = { session: 0, host: 0 };
  try {
    for (let i = 0; i < 150; i++) {
      const result = await sendTransaction(
        {
          host: "fuzz.test",
          address: "127.0.0.1",
          port,
          helo: "client.test",
          tls: "none",
          connectTimeoutMs: 1000,
          replyTimeoutMs: 150,
          log: logger("fuzz"),
        },
        envelope,
        message,
      );
      kinds[result.kind]++;
      if (result.kind === "session") {
        assertEquals(result.replies.length, envelope.recipients.length);
        for (const reply of result.replies) assert(reply.code >= 200 && reply.code <= 599);
      } else {
        assert(result.reply.code >= 400 && result.reply.code <= 599, JSON.stringify(result));
      }
    }
    assert(kinds.host > 0, "some hosts fail");
    // Give closing sockets a moment, then nothing may be left open.
    await new Promise((r) => setTimeout(r, 100));
    assertEquals(sockets.size, 0, "the client closed every connection");
  } finally {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
