/**
 * The ClientHello reader (src/tls/client_hello.ts) on hellos real clients send (OpenSSL's
 * s_client and Deno's own TLS client, caught on a loopback socket), split across records and
 * across reads, and fuzzed: a mutated hello is read or refused, never thrown on, and the TLS 1.3
 * responder answers whatever reads with a flight or an alert.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { mulberry32 } from "../helpers/random.ts";
import { MAX_HELLO_BYTES, parseClientHello } from "../../src/tls/client_hello.ts";
import { respondTls13 } from "../../src/tls/tls13_responder.ts";
import { challengeCertificate } from "../../src/acme/tls_alpn01.ts";

/** The first bytes a client sends to a listener that never answers. */
async function capture(connect: (port: number) => Promise<unknown> | void): Promise<Uint8Array> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const client = connect(port);
  const conn = await listener.accept();
  const chunks: Uint8Array[] = [];
  let total = 0;
  const buffer = new Uint8Array(65536);
  // Read until the hello is whole (or the client gives up).
  for (;;) {
    const n = await conn.read(buffer);
    if (n === null) break;
    chunks.push(buffer.slice(0, n));
    total += n;
    const bytes = concat(chunks, total);
    if (parseClientHello(bytes).kind !== "partial") break;
  }
  conn.close();
  listener.close();
  await Promise.resolve(client).catch(() => {});
  return concat(chunks, total);
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

async function openssl(port: number, args: string[]): Promise<void> {
  const child = new Deno.Command("openssl", {
    args: ["s_client", "-connect", `127.0.0.1:${port}`, ...args],
    stdin: "piped",
    stdout: "null",
    stderr: "null",
  }).spawn();
  await child.status;
  await child.stdin.close().catch(() => {});
}

let opensslHello: Uint8Array | null = null;
async function opensslAcmeHello(): Promise<Uint8Array> {
  opensslHello ??= await capture((port) =>
    openssl(port, ["-servername", "Mail.Example.COM", "-alpn", "acme-tls/1,h2"])
  );
  return opensslHello;
}

Deno.test("client hello: OpenSSL's hello gives its SNI (lower-cased) and ALPN list", async () => {
  const hello = parseClientHello(await opensslAcmeHello());
  assert(hello.kind === "hello");
  assertEquals(hello.serverName, "mail.example.com");
  assertEquals(hello.alpn, ["acme-tls/1", "h2"]);
  // What a TLS 1.3 answer needs: the versions, an X25519 share, ECDSA P-256 signatures.
  assert(hello.details.versions.includes(0x0304));
  assertEquals(hello.details.keyShares.get(0x001d)?.length, 32);
  assert(hello.details.signatureAlgorithms.includes(0x0403));
  assert(hello.details.cipherSuites.includes(0x1301));
  assertEquals(hello.details.message[0], 1);
});

Deno.test("client hello: without SNI and ALPN both are empty", async () => {
  const bytes = await capture((port) => openssl(port, ["-noservername"]));
  const hello = parseClientHello(bytes);
  assert(hello.kind === "hello");
  assertEquals([hello.serverName, hello.alpn], ["", []]);
});

Deno.test("client hello: Deno's (rustls) hello is read", async () => {
  const bytes = await capture(async (port) => {
    await Deno.connectTls({ hostname: "localhost", port, alpnProtocols: ["http/1.1"] })
      .then((conn) => conn.handshake().finally(() => conn.close()));
  });
  const hello = parseClientHello(bytes);
  assert(hello.kind === "hello");
  assertEquals([hello.serverName, hello.alpn], ["localhost", ["http/1.1"]]);
});

Deno.test("client hello: every prefix of a hello is partial, the whole is read", async () => {
  const bytes = await opensslAcmeHello();
  for (let length = 0; length < bytes.length; length++) {
    assertEquals(parseClientHello(bytes.subarray(0, length)).kind, "partial", `prefix ${length}`);
  }
  assertEquals(parseClientHello(bytes).kind, "hello");
});

Deno.test("client hello: a hello split over several records is joined", async () => {
  const bytes = await opensslAcmeHello();
  const body = bytes.subarray(5);
  for (const size of [1, 7, 100, body.length - 1]) {
    const records: number[] = [];
    for (let at = 0; at < body.length; at += size) {
      const fragment = body.subarray(at, Math.min(at + size, body.length));
      records.push(0x16, 3, 1, fragment.length >> 8, fragment.length & 255, ...fragment);
    }
    const hello = parseClientHello(new Uint8Array(records));
    assert(hello.kind === "hello", `records of ${size}`);
    assertEquals(hello.alpn, ["acme-tls/1", "h2"]);
    assertEquals(hello.serverName, "mail.example.com");
  }
});

Deno.test("client hello: what is not a TLS hello says so at once", () => {
  const text = new TextEncoder();
  for (
    const start of ["GET / HTTP/1.1\r\n", "\x16\x03\x01\x00\x00", "\x15\x03\x03\x00\x02\x02\x28"]
  ) {
    assertEquals(parseClientHello(text.encode(start)).kind, "not-tls", JSON.stringify(start));
  }
  // A handshake record that is not a ClientHello (a ServerHello, type 2).
  assertEquals(
    parseClientHello(new Uint8Array([0x16, 3, 3, 0, 4, 2, 0, 0, 0])).kind,
    "not-tls",
  );
  // A hello claiming more than MAX_HELLO_BYTES.
  const size = MAX_HELLO_BYTES;
  assertEquals(
    parseClientHello(new Uint8Array([0x16, 3, 1, 0, 4, 1, size >> 16, (size >> 8) & 255, 0]))
      .kind,
    "not-tls",
  );
});

Deno.test("client hello: endless small records stop at MAX_HELLO_BYTES", () => {
  // A ClientHello announcing 16 KiB that arrives one byte per record: reading stops at the cap.
  const records: number[] = [0x16, 3, 1, 0, 4, 1, 0, 0x3f, 0xff];
  while (records.length < MAX_HELLO_BYTES + 100) records.push(0x16, 3, 1, 0, 1, 0);
  assertEquals(parseClientHello(new Uint8Array(records)).kind, "not-tls");
});

Deno.test("client hello fuzz: mutated hellos are read or refused, never thrown on", async () => {
  const original = await opensslAcmeHello();
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    const random = mulberry32(seed);
    for (let round = 0; round < 2000; round++) {
      const bytes = original.slice(0, 5 + Math.floor(random() * (original.length - 4)));
      const flips = 1 + Math.floor(random() * 8);
      for (let i = 0; i < flips; i++) {
        bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
      }
      const hello = parseClientHello(bytes);
      assert(["partial", "not-tls", "hello"].includes(hello.kind));
      if (hello.kind === "hello") {
        assert(hello.serverName.length <= 0xffff);
        for (const protocol of hello.alpn) assert(protocol.length >= 0 && protocol.length < 256);
      }
    }
  }
});

Deno.test("tls 1.3 responder fuzz: every hello that reads gets a flight or an alert, never a throw", async () => {
  const original = await opensslAcmeHello();
  const certificate = await challengeCertificate("mail.example.com", "token.thumbprint");
  const random = mulberry32(11);
  let flights = 0;
  let alerts = 0;
  for (let round = 0; round < 400; round++) {
    const bytes = original.slice();
    // Few flips, so that most hellos still read and the responder sees odd but parsed fields.
    const flips = 1 + Math.floor(random() * 3);
    for (let i = 0; i < flips; i++) {
      bytes[9 + Math.floor(random() * (bytes.length - 9))] = Math.floor(random() * 256);
    }
    const hello = parseClientHello(bytes);
    if (hello.kind !== "hello") continue;
    const flight = await respondTls13(hello.details, "acme-tls/1", certificate);
    assert(flight.bytes.length > 0);
    if (flight.kind === "flight") flights++;
    else alerts++;
  }
  assert(flights > 0 && alerts > 0, `flights ${flights}, alerts ${alerts}`);
});

Deno.test("tls 1.3 responder: a low-order X25519 share gets illegal_parameter, not a flight", async () => {
  const hello = parseClientHello(await opensslAcmeHello());
  assert(hello.kind === "hello");
  const certificate = await challengeCertificate("mail.example.com", "token.thumbprint");
  for (const point of [new Uint8Array(32), new Uint8Array(32).fill(0).map((_, i) => i ? 0 : 1)]) {
    const keyShares = new Map(hello.details.keyShares).set(0x001d, point);
    const flight = await respondTls13({ ...hello.details, keyShares }, "acme-tls/1", certificate);
    assertEquals(flight.kind, "alert");
    assertEquals([...flight.bytes], [21, 3, 3, 0, 2, 2, 47]);
  }
});
