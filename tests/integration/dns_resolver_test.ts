/**
 * The resolver against a real DNS server of our own on loopback (tests/helpers/dns_server.ts);
 * nothing here asks the internet.
 */
import { DnsError, Resolver, type ResolverOptions } from "../../src/dns/resolver.ts";
import { resolveMailHosts } from "../../src/dns/mx.ts";
import { startDnsServer, type TestDnsServer, type Zone } from "../helpers/dns_server.ts";
import { assert, assertEquals, assertRejects } from "../helpers/assert.ts";
import dgram from "node:dgram";
import { Buffer } from "node:buffer";
import dnsPacket from "dns-packet";

const DKIM_KEY = "v=DKIM1; k=rsa; p=" + "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA".repeat(12);

const ZONE: Zone = {
  "example.com": {
    A: ["192.0.2.10"],
    AAAA: ["2001:db8::10"],
    MX: [
      { exchange: "mx2.example.com", preference: 20 },
      { exchange: "mx1.example.com", preference: 10 },
    ],
    TXT: ["v=spf1 ip4:192.0.2.0/24 -all", "google-site-verification=abc"],
  },
  "Mixed.Case.example.com.": { A: ["192.0.2.11"] },
  "www.example.com": { CNAME: "example.com" },
  "sel._domainkey.example.com": { TXT: [DKIM_KEY] },
  "_dmarc.example.com": { TXT: ["v=DMARC1; p=reject"] },
  "10.2.0.192.in-addr.arpa": { PTR: ["mail.example.com."] },
  "0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa": {
    PTR: ["mail6.example.com"],
  },
  "nullmx.example.net": { MX: [{ exchange: ".", preference: 0 }], A: ["192.0.2.20"] },
  "implicit.example.net": { A: ["192.0.2.30"] },
  "implicit6.example.net": { AAAA: ["2001:db8::30"] },
  "nothing.example.net": { TXT: ["no mail here"] },
  "broken.example.net": { SERVFAIL: true },
  "slow.example.net": { DROP: true },
  "mx-broken.example.net": { MX: [{ exchange: "mx.broken.example.net", preference: 10 }] },
  "a-broken.example.net": { CNAME: "broken.example.net" },
};

async function withDns(
  zone: Zone,
  fn: (dns: TestDnsServer, makeResolver: (o?: ResolverOptions) => Resolver) => Promise<void>,
) {
  const dns = await startDnsServer(zone);
  try {
    await fn(dns, (options) =>
      new Resolver({
        nameServer: { ipAddr: dns.host, port: dns.port },
        timeoutMs: 2_000,
        ...options,
      }));
  } finally {
    await dns.close();
  }
}

function codeOf(error: unknown): string | undefined {
  return (error as { code?: string }).code;
}

Deno.test("resolver: A, AAAA, MX, TXT, PTR, CNAME from the loopback server", async () => {
  await withDns(ZONE, async (dns, makeResolver) => {
    const resolver = makeResolver();
    assertEquals(await resolver.a("example.com"), ["192.0.2.10"]);
    assertEquals(await resolver.aaaa("example.com"), ["2001:db8::10"]);
    assertEquals(await resolver.mx("example.com"), [
      { exchange: "mx1.example.com", preference: 10 },
      { exchange: "mx2.example.com", preference: 20 },
    ]);
    assertEquals((await resolver.txt("example.com")).sort(), [
      "google-site-verification=abc",
      "v=spf1 ip4:192.0.2.0/24 -all",
    ]);
    assertEquals(await resolver.ptr("192.0.2.10"), ["mail.example.com"]);
    assertEquals(await resolver.ptr("2001:db8::10"), ["mail6.example.com"]);
    assertEquals(await resolver.cname("www.example.com"), ["example.com"]);
    // Following the CNAME: only the A records come back, not the alias.
    assertEquals(await resolver.a("www.example.com"), ["192.0.2.10"]);
    // Case and trailing dot do not matter on either side.
    assertEquals(await resolver.a("MIXED.case.Example.com."), ["192.0.2.11"]);
    assert(dns.queries.every((q) => q.transport === "udp"));
  });
});

Deno.test("resolver: NXDOMAIN and NODATA are told apart", async () => {
  await withDns(ZONE, async (_dns, makeResolver) => {
    const resolver = makeResolver();
    const nx = await assertRejects(() => resolver.a("missing.example.com"), DnsError);
    assertEquals(nx.code, "NXDOMAIN");
    const nodata = await assertRejects(() => resolver.mx("implicit.example.net"), DnsError);
    assertEquals(nodata.code, "NODATA");
    const nodataTxt = await assertRejects(() => resolver.txt("implicit.example.net"), DnsError);
    assertEquals(nodataTxt.code, "NODATA");
    const noPtr = await assertRejects(() => resolver.ptr("198.51.100.1"), DnsError);
    assertEquals(noPtr.code, "NXDOMAIN");
  });
});

Deno.test("resolver: SERVFAIL is its own error and is not cached", async () => {
  await withDns(ZONE, async (dns, makeResolver) => {
    const resolver = makeResolver();
    const first = await assertRejects(() => resolver.a("broken.example.net"), DnsError);
    assertEquals(first.code, "SERVFAIL");
    const second = await assertRejects(() => resolver.a("broken.example.net"), DnsError);
    assertEquals(second.code, "SERVFAIL");
    assertEquals(dns.queries.filter((q) => q.name === "broken.example.net").length, 2);
  });
});

Deno.test("resolver: a server that never answers times out within timeoutMs", async () => {
  await withDns(ZONE, async (dns, makeResolver) => {
    const resolver = makeResolver({ timeoutMs: 300 });
    const started = performance.now();
    const error = await assertRejects(() => resolver.a("slow.example.net"), DnsError);
    const elapsed = performance.now() - started;
    assertEquals(error.code, "TIMEOUT");
    assert(elapsed >= 250 && elapsed < 1_500, `timed out after ${elapsed} ms`);
    // UDP is retransmitted within the timeout rather than sent once.
    assert(dns.queries.filter((q) => q.name === "slow.example.net").length >= 2);
  });
});

Deno.test("resolver: a long DKIM TXT record is truncated over UDP and fetched over TCP", async () => {
  await withDns(ZONE, async (dns, makeResolver) => {
    const resolver = makeResolver();
    assert(DKIM_KEY.length > 512);
    assertEquals(await resolver.txt("sel._domainkey.example.com"), [DKIM_KEY]);
    assertEquals(dns.queries, [
      { name: "sel._domainkey.example.com", type: "TXT", transport: "udp" },
      { name: "sel._domainkey.example.com", type: "TXT", transport: "tcp" },
    ]);
    // The character-strings stay visible through txtChunks: 255-byte pieces.
    const [chunks] = await resolver.txtChunks("sel._domainkey.example.com");
    assert(chunks.length >= 3);
    assert(chunks.slice(0, -1).every((c) => c.length === 255));
    assertEquals(chunks.join(""), DKIM_KEY);
  });
});

Deno.test("resolver: answers and negative answers are cached; lifetime and size bounded", async () => {
  await withDns(ZONE, async (dns, makeResolver) => {
    const resolver = makeResolver();
    const count = (name: string, type: string) =>
      dns.queries.filter((q) => q.name === name && q.type === type).length;

    await resolver.mx("example.com");
    await resolver.mx("EXAMPLE.com.");
    assertEquals(count("example.com", "MX"), 1);

    await assertRejects(() => resolver.a("missing.example.com"));
    await assertRejects(() => resolver.a("missing.example.com"));
    assertEquals(count("missing.example.com", "A"), 1);

    // Concurrent lookups share one query.
    const [x, y] = await Promise.all([resolver.a("example.com"), resolver.a("example.com")]);
    assertEquals(x, y);
    assertEquals(count("example.com", "A"), 1);

    // A changed zone is seen once the cached answer expires.
    const short = makeResolver({ positiveCacheMs: 50 });
    assertEquals(await short.a("implicit.example.net"), ["192.0.2.30"]);
    dns.setZone({ ...ZONE, "implicit.example.net": { A: ["192.0.2.31"] } });
    assertEquals(await short.a("implicit.example.net"), ["192.0.2.30"]);
    await new Promise((resolve) => setTimeout(resolve, 80));
    assertEquals(await short.a("implicit.example.net"), ["192.0.2.31"]);

    // With room for one entry, a second name evicts the first.
    const tiny = makeResolver({ cacheMaxEntries: 1 });
    const before = count("_dmarc.example.com", "TXT");
    await tiny.txt("_dmarc.example.com");
    await tiny.txt("_dmarc.example.com");
    assertEquals(count("_dmarc.example.com", "TXT"), before + 1);
    await tiny.txt("example.com");
    await tiny.txt("_dmarc.example.com");
    assertEquals(count("_dmarc.example.com", "TXT"), before + 2);
  });
});

Deno.test("resolveMailHosts: MX hosts, null MX, implicit MX, none, temporary", async () => {
  await withDns(ZONE, async (_dns, makeResolver) => {
    const resolver = makeResolver({ timeoutMs: 300 });
    assertEquals(await resolveMailHosts(resolver, "example.com"), {
      kind: "hosts",
      hosts: [
        { name: "mx1.example.com", preference: 10 },
        { name: "mx2.example.com", preference: 20 },
      ],
    });
    // A null MX wins even though the domain has an A record: no fallback (RFC 7505 4).
    assertEquals(await resolveMailHosts(resolver, "nullmx.example.net"), { kind: "null_mx" });
    assertEquals(await resolveMailHosts(resolver, "Implicit.Example.NET."), {
      kind: "hosts",
      hosts: [{ name: "implicit.example.net", preference: 0 }],
    });
    assertEquals(await resolveMailHosts(resolver, "implicit6.example.net"), {
      kind: "hosts",
      hosts: [{ name: "implicit6.example.net", preference: 0 }],
    });
    assertEquals(await resolveMailHosts(resolver, "no-such-domain.example.net"), {
      kind: "none",
    });
    assertEquals(await resolveMailHosts(resolver, "nothing.example.net"), { kind: "none" });
    const servfail = await resolveMailHosts(resolver, "broken.example.net");
    assertEquals(servfail.kind, "temporary");
    const timeout = await resolveMailHosts(resolver, "slow.example.net");
    assertEquals(timeout.kind, "temporary");
  });
});

Deno.test("resolveMailHosts: no MX and an address lookup failing is temporary, not none", async () => {
  await withDns({ "half.example.net": { TXT: ["x"] } }, async (dns, makeResolver) => {
    const resolver = makeResolver();
    assertEquals(await resolveMailHosts(resolver, "half.example.net"), { kind: "none" });
    // The MX NODATA stays cached; the A/AAAA lookups now meet a failing server.
    resolver.clearCache();
    await assertRejects(() => resolver.mx("half.example.net"));
    dns.setZone({ "half.example.net": { SERVFAIL: true } });
    const route = await resolveMailHosts(resolver, "half.example.net");
    assertEquals(route.kind, "temporary");
    assertEquals(dns.queries.filter((q) => q.type === "MX").length, 2);
  });
});

Deno.test("mailauthResolver: Node dns.promises.resolve shapes and error codes", async () => {
  await withDns(ZONE, async (_dns, makeResolver) => {
    const resolve = makeResolver({ timeoutMs: 300 }).mailauthResolver();
    assertEquals(await resolve("example.com", "A"), ["192.0.2.10"]);
    assertEquals(await resolve("example.com", "AAAA"), ["2001:db8::10"]);
    assertEquals(await resolve("example.com", "MX"), [
      { exchange: "mx1.example.com", priority: 10 },
      { exchange: "mx2.example.com", priority: 20 },
    ]);
    assertEquals(await resolve("_dmarc.example.com", "TXT"), [["v=DMARC1; p=reject"]]);
    const dkim = await resolve("sel._domainkey.example.com", "TXT") as string[][];
    assertEquals(dkim.length, 1);
    assert(dkim[0].length > 1, "TXT comes back as its character-strings, like Node");
    assertEquals(dkim[0].join(""), DKIM_KEY);
    assertEquals(await resolve("10.2.0.192.in-addr.arpa", "PTR"), ["mail.example.com"]);
    assertEquals(await resolve("www.example.com", "CNAME"), ["example.com"]);

    const cases: [string, string, string][] = [
      ["missing.example.com", "TXT", "ENOTFOUND"],
      ["implicit.example.net", "TXT", "ENODATA"],
      ["implicit.example.net", "MX", "ENODATA"],
      ["broken.example.net", "A", "ESERVFAIL"],
      ["slow.example.net", "TXT", "ETIMEOUT"],
    ];
    for (const [name, type, code] of cases) {
      const error = await assertRejects(() => resolve(name, type));
      assertEquals(codeOf(error), code, `${type} ${name}`);
      assert(!(error instanceof DnsError), "mailauth sees Node-style errors, not DnsError");
    }
  });
});

Deno.test("resolver: a reply with the wrong id or question is ignored", async () => {
  const packet = dnsPacket as unknown as {
    decode(b: Uint8Array): { id: number; questions: { name: string; type: string }[] };
    encode(p: unknown): Uint8Array;
  };
  const socket = dgram.createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  socket.on("message", (message, remote) => {
    const query = packet.decode(message);
    const reply = (id: number, name: string, address: string) =>
      Buffer.from(packet.encode({
        id,
        type: "response",
        questions: [{ name, type: "A" }],
        answers: [{ name, type: "A", ttl: 60, data: address }],
      }));
    // Forged replies first (wrong id, then wrong name), the genuine one last.
    socket.send(
      reply((query.id + 1) & 0xffff, query.questions[0].name, "203.0.113.66"),
      remote.port,
      remote.address,
    );
    socket.send(reply(query.id, "evil.example", "203.0.113.67"), remote.port, remote.address);
    setTimeout(
      () =>
        socket.send(
          reply(query.id, query.questions[0].name, "192.0.2.1"),
          remote.port,
          remote.address,
        ),
      20,
    );
  });
  try {
    const resolver = new Resolver({
      nameServer: { ipAddr: "127.0.0.1", port: socket.address().port },
      timeoutMs: 1_000,
    });
    assertEquals(await resolver.a("example.com"), ["192.0.2.1"]);
  } finally {
    await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
});
