/**
 * Python's poplib (a widely used POP3 client) against the real server: STLS on port 110 and
 * implicit TLS on 995, CAPA, USER/PASS and AUTH-free login, STAT/LIST/UIDL/RETR/TOP/DELE/QUIT.
 * Retrieved messages must be the stored bytes exactly, UTF-8 and leading dots included.
 */
import { assertEquals } from "../helpers/assert.ts";
import { startServer } from "../helpers/server.ts";
import { cliAll, messagesOf } from "../helpers/mail.ts";
import { deliver } from "./pop3_helpers.ts";

const SCRIPT = `
import json, poplib, ssl, sys
port, port_ssl, cafile, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(cafile=cafile)
if mode == "stls":
    p = poplib.POP3("localhost", port, timeout=10)
    before = p.capa()
    p.stls(context=ctx)
else:
    p = poplib.POP3_SSL("localhost", port_ssl, context=ctx, timeout=10)
    before = None
capa = p.capa()
p.utf8()
p.user("alice@example.com")
p.pass_("pw-alice")
count, size = p.stat()
listing = [line.decode() for line in p.list()[1]]
uidls = [line.decode() for line in p.uidl()[1]]
messages = [(b"\\r\\n".join(p.retr(i + 1)[1]) + b"\\r\\n").hex() for i in range(count)]
top = [line.decode() for line in p.top(1, 1)[1]]
deleted = p.dele(count).decode() if mode == "ssl" else None
quit = p.quit().decode()
print(json.dumps({"before": {k: v for k, v in (before or {}).items()}, "capa": capa,
  "stat": [count, size], "list": listing, "uidl": uidls, "messages": messages, "top": top,
  "deleted": deleted, "quit": quit}))
`;

Deno.test("POP3 with Python's poplib (STLS and implicit TLS)", async () => {
  const server = await startServer();
  try {
    await cliAll(server, [["account", "add", "alice@example.com", "--password", "pw-alice"]]);
    await deliver(
      server,
      "alice@example.com",
      "From: a@example.net\r\nSubject: Grüße\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
        "Schöne Grüße aus Köln.\r\n.dot first\r\n.\r\n",
    );
    await deliver(server, "alice@example.com", "Subject: two\r\n\r\nsecond\r\n");
    const stored = messagesOf(server, "alice@example.com").map((m) => new TextEncoder().encode(m));
    const hex = (bytes: Uint8Array) =>
      Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    const total = stored.reduce((n, m) => n + m.length, 0);

    for (const mode of ["stls", "ssl"]) {
      const output = await new Deno.Command("/usr/bin/python3", {
        args: [
          "-c",
          SCRIPT,
          String(server.ports.pop3),
          String(server.ports.pop3s),
          `${server.dir}/data/tls/self-signed.crt`,
          mode,
        ],
      }).output();
      assertEquals(output.code, 0, new TextDecoder().decode(output.stderr));
      const result = JSON.parse(new TextDecoder().decode(output.stdout));
      if (mode === "stls") {
        assertEquals(result.before.STLS, []);
        assertEquals(result.before.SASL, undefined);
      }
      assertEquals(result.capa.STLS, undefined);
      assertEquals(result.capa.SASL, ["PLAIN", "LOGIN"]);
      assertEquals(result.capa.IMPLEMENTATION, ["Postern"]);
      assertEquals(result.capa.UIDL, []);
      assertEquals(result.stat, [2, total]);
      assertEquals(result.list, stored.map((m, i) => `${i + 1} ${m.length}`));
      assertEquals(result.uidl.length, 2);
      assertEquals(result.messages, stored.map(hex));
      assertEquals(result.top, [
        "From: a@example.net",
        ...result.top.slice(1, -2),
        "",
        "Schöne Grüße aus Köln.",
      ]);
    }
    assertEquals(messagesOf(server, "alice@example.com").length, 1);
  } finally {
    await server.stop();
    await Deno.remove(server.dir, { recursive: true }).catch(() => {});
  }
});
