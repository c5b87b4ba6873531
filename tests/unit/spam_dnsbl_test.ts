import { assert, assertEquals } from "../helpers/assert.ts";
import { startDnsServer, type TestDnsServer, type Zone } from "../helpers/dns_server.ts";
import { DnsError, Resolver } from "../../src/dns/resolver.ts";
import { DnsListOptions, DnsLists, isPrivateAddress } from "../../src/spam/dnsbl.ts";
import { registeredDomain } from "../../src/spam/domains.ts";
import { analyzeMessage } from "../../src/spam/analyze.ts";
import { parseMime } from "../../src/mail/mime.ts";
import type { LogFields, Logger } from "../../src/observability/log.ts";
import type { DnsListRule, Envelope, MessageFacts } from "../../src/spam/types.ts";

const MIME_LIMITS = { maxHeaderSize: 64 * 1024, maxDepth: 10, maxParts: 100 };

function facts(
  envelope: Partial<Envelope> = {},
  options: { from?: string; body?: string } = {},
): MessageFacts {
  const raw = new TextEncoder().encode(
    `From: ${options.from ?? "Bob <bob@sender.test>"}\r\nTo: alice@example.org\r\n` +
      `Subject: hello\r\nContent-Type: text/html\r\n\r\n${options.body ?? "<p>hi</p>"}\r\n`,
  );
  return analyzeMessage(raw, parseMime(raw, MIME_LIMITS), {
    sender: "bounce@sender.test",
    recipients: ["alice@example.org"],
    remoteAddress: "93.184.216.34",
    helo: "mail.sender.test",
    authenticated: false,
    ...envelope,
  }, "mx.example.org");
}

function rule(overrides: Partial<DnsListRule> & Pick<DnsListRule, "name" | "zone">): DnsListRule {
  return { target: "ip", answers: { "127.0.0.2": 4 }, description: "", ...overrides };
}

/** Warnings logged, for the "logged once" checks. */
function recordingLog(): Logger & { warnings: LogFields[] } {
  const warnings: LogFields[] = [];
  const log: Logger & { warnings: LogFields[] } = {
    warnings,
    debug() {},
    info() {},
    warn(_message, fields) {
      warnings.push(fields ?? {});
    },
    error() {},
    child: () => log,
  };
  return log;
}

async function withLists(
  zone: Zone,
  options: Partial<DnsListOptions>,
  work: (lists: DnsLists, dns: TestDnsServer, resolver: Resolver) => Promise<void>,
) {
  const dns = await startDnsServer(zone);
  // No resolver cache: the DNS server's query log shows what DnsLists itself asked.
  const resolver = new Resolver({
    nameServer: { ipAddr: dns.host, port: dns.port },
    cacheMaxEntries: 0,
    timeoutMs: 1_500,
  });
  const lists = new DnsLists(resolver, {
    timeoutMs: 1_000,
    cacheSize: 100,
    maxUriDomains: 10,
    log: recordingLog(),
    ...options,
  });
  try {
    await work(lists, dns, resolver);
  } finally {
    await dns.close();
  }
}

Deno.test("a listed client address gives the rule's points; the query is its octets reversed", async () => {
  const zone = { "34.216.184.93.zen.test": { A: ["127.0.0.2"] } };
  await withLists(zone, {}, async (lists, dns) => {
    const symbols = await lists.check([rule({ name: "RBL_ZEN", zone: "zen.test" })], facts());
    assertEquals(symbols, [
      { name: "RBL_ZEN", score: 4, detail: "zen.test: 93.184.216.34 127.0.0.2" },
    ]);
    assertEquals(dns.queries.map((q) => `${q.type} ${q.name}`), ["A 34.216.184.93.zen.test"]);
  });
});

Deno.test("several answers for one address are several listings: their points add up", async () => {
  const zone = { "34.216.184.93.zen.test": { A: ["127.0.0.2", "127.0.0.4", "127.0.0.10"] } };
  await withLists(zone, {}, async (lists) => {
    const zen = rule({
      name: "RBL_ZEN",
      zone: "zen.test",
      answers: { "127.0.0.2": 4, "127.0.0.4": 3 },
    });
    assertEquals(await lists.check([zen], facts()), [
      { name: "RBL_ZEN", score: 7, detail: "zen.test: 93.184.216.34 127.0.0.2,127.0.0.4" },
    ]);
  });
});

Deno.test("an unlisted address (NXDOMAIN) gives no symbol", async () => {
  await withLists({}, {}, async (lists, dns) => {
    assertEquals(await lists.check([rule({ name: "RBL", zone: "zen.test" })], facts()), []);
    assertEquals(dns.queries.length, 1);
  });
});

Deno.test("an IPv6 client is looked up by its 32 nibbles reversed", async () => {
  const name = "2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.b.0.f.1.0.7.4.0.1.0.0.2.zen.test";
  await withLists({ [name]: { A: ["127.0.0.3"] } }, {}, async (lists) => {
    const zen = rule({ name: "RBL_ZEN", zone: "zen.test", answers: { "127.0.0.3": 2.5 } });
    const symbols = await lists.check([zen], facts({ remoteAddress: "2001:470:1f0b:1::2" }));
    assertEquals(symbols, [{
      name: "RBL_ZEN",
      score: 2.5,
      detail: `zen.test: 2001:470:1f0b:1::2 127.0.0.3`,
    }]);
  });
});

Deno.test("an IPv4-mapped IPv6 client is looked up as IPv4", async () => {
  const zone = { "34.216.184.93.zen.test": { A: ["127.0.0.2"] } };
  await withLists(zone, {}, async (lists) => {
    const symbols = await lists.check(
      [rule({ name: "RBL", zone: "zen.test" })],
      facts({ remoteAddress: "::ffff:93.184.216.34" }),
    );
    assertEquals(symbols.map((s) => s.score), [4]);
  });
});

Deno.test("private and loopback clients are not looked up unless checkPrivate is set", async () => {
  const zone = { "2.0.0.127.zen.test": { A: ["127.0.0.2"] } };
  const zen = [rule({ name: "RBL", zone: "zen.test" })];
  await withLists(zone, {}, async (lists, dns) => {
    for (const remoteAddress of ["127.0.0.2", "10.1.2.3", "192.168.1.1", "fe80::1", "::1"]) {
      assertEquals(await lists.check(zen, facts({ remoteAddress })), []);
    }
    assertEquals(dns.queries, []);
  });
  await withLists(zone, { checkPrivate: true }, async (lists) => {
    const symbols = await lists.check(zen, facts({ remoteAddress: "127.0.0.2" }));
    assertEquals(symbols.map((s) => s.name), ["RBL"]);
  });
});

Deno.test("isPrivateAddress knows the special-purpose blocks", () => {
  for (const ip of ["10.0.0.1", "172.31.255.255", "100.64.0.1", "169.254.1.1", "::1", "fd00::5"]) {
    assert(isPrivateAddress(ip), ip);
  }
  for (const ip of ["93.184.216.34", "172.32.0.1", "2001:470::1", "::ffff:8.8.8.8"]) {
    assert(!isPrivateAddress(ip), ip);
  }
});

Deno.test("sender rules look up the MAIL FROM domain and the From domain", async () => {
  const zone = { "listed.test.dbl.test": { A: ["127.0.1.2"] }, "sender.test.dbl.test": {} };
  await withLists(zone, {}, async (lists, dns) => {
    const dbl = rule({
      name: "DBL_SENDER",
      zone: "dbl.test",
      target: "sender",
      answers: { "127.0.1.2": 3 },
    });
    const symbols = await lists.check(
      [dbl],
      facts({ sender: "x@sender.test" }, { from: "Eve <eve@LISTED.test>" }),
    );
    assertEquals(symbols, [{
      name: "DBL_SENDER",
      score: 3,
      detail: "dbl.test: listed.test 127.0.1.2",
    }]);
    assertEquals(dns.queries.map((q) => q.name).sort(), [
      "listed.test.dbl.test",
      "sender.test.dbl.test",
    ]);
  });
});

Deno.test("the null sender and a HELO address literal are not looked up; a HELO name is", async () => {
  const zone = { "mail.sender.test.dbl.test": { A: ["127.0.1.2"] } };
  await withLists(zone, {}, async (lists, dns) => {
    const helo = rule({ name: "HELO_DBL", zone: "dbl.test", target: "helo", answers: { "*": 1 } });
    assertEquals((await lists.check([helo], facts())).map((s) => s.name), ["HELO_DBL"]);
    assertEquals(await lists.check([helo], facts({ helo: "[93.184.216.34]" })), []);
    const sender = rule({ name: "S", zone: "dbl.test", target: "sender", answers: { "*": 1 } });
    await lists.check([sender], facts({ sender: "" }, { from: "<>" }));
    assertEquals(dns.queries.map((q) => q.name), ["mail.sender.test.dbl.test"]);
  });
});

Deno.test("uri rules look up the registered domains of the links, distinct, at most maxUriDomains", async () => {
  const body = [
    '<a href="http://www.shop.evil.co.uk/a">one</a>',
    '<a href="https://evil.co.uk/b">same domain</a>',
    '<a href="http://cdn.Tracker.test/p">two</a>',
    '<a href="http://45.33.32.156/x">an address</a>',
    '<a href="http://late.test/">past the cap</a>',
  ].join("\n");
  const zone = {
    "evil.co.uk.uribl.test": { A: ["127.0.0.2"] },
    "156.32.33.45.uribl.test": { A: ["127.0.0.4"] },
  };
  await withLists(zone, { maxUriDomains: 3 }, async (lists, dns) => {
    const uribl = rule({
      name: "URIBL",
      zone: "uribl.test",
      target: "uri",
      answers: { "127.0.0.2": 5, "127.0.0.4": 2 },
    });
    const symbols = await lists.check([uribl], facts({}, { body }));
    assertEquals(symbols, [{
      name: "URIBL",
      score: 5,
      detail: "uribl.test: evil.co.uk 127.0.0.2; 45.33.32.156 127.0.0.4",
    }]);
    assertEquals(dns.queries.map((q) => q.name).sort(), [
      "156.32.33.45.uribl.test",
      "evil.co.uk.uribl.test",
      "tracker.test.uribl.test",
    ]);
  });
});

Deno.test("a link to an address written in hex or as one number is looked up as the dotted quad", async () => {
  const zone = { "156.32.33.45.uribl.test": { A: ["127.0.0.4"] } };
  const uribl = rule({ name: "URIBL", zone: "uribl.test", target: "uri", answers: { "*": 2 } });
  for (const href of ["http://0x2d21209c/y", "http://757145756/z"]) {
    await withLists(zone, {}, async (lists) => {
      const symbols = await lists.check([uribl], facts({}, { body: `<a href="${href}">x</a>` }));
      assertEquals(symbols, [{
        name: "URIBL",
        score: 2,
        detail: "uribl.test: 45.33.32.156 127.0.0.4",
      }]);
    });
  }
});

Deno.test("registeredDomain keeps one label under a public suffix, two under a two-level one", () => {
  assertEquals(registeredDomain("www.shop.example.com"), "example.com");
  assertEquals(registeredDomain("a.b.example.co.uk"), "example.co.uk");
  assertEquals(registeredDomain("example.com.au."), "example.com.au");
  assertEquals(registeredDomain("Mail.Example.ORG"), "example.org");
  assertEquals(registeredDomain("co.uk"), "co.uk");
  assertEquals(registeredDomain("www.bücher.example"), "xn--bcher-kva.example");
});

Deno.test("'*' scores any other 127.x answer; an answer the rule does not list without '*' scores nothing", async () => {
  const zone = { "34.216.184.93.zen.test": { A: ["127.0.0.9"] } };
  await withLists(zone, {}, async (lists) => {
    const wild = rule({ name: "WILD", zone: "zen.test", answers: { "127.0.0.2": 4, "*": 1.5 } });
    const strict = rule({ name: "STRICT", zone: "zen.test", answers: { "127.0.0.2": 4 } });
    assertEquals(await lists.check([wild, strict], facts()), [
      { name: "WILD", score: 1.5, detail: "zen.test: 93.184.216.34 127.0.0.9" },
    ]);
  });
});

Deno.test("refusal codes and answers outside 127/8 are ignored, even by '*', and logged once", async () => {
  const log = recordingLog();
  const zone = {
    "34.216.184.93.zen.test": { A: ["127.255.255.254"] },
    "34.216.184.93.uribl.test": { A: ["127.0.0.1"] },
    "34.216.184.93.hijacked.test": { A: ["198.51.100.1"] },
    "34.216.184.93.quota.test": { A: ["127.255.255.255", "127.0.0.2"] },
  };
  await withLists(zone, { log }, async (lists) => {
    const rules = ["zen.test", "uribl.test", "hijacked.test", "quota.test"].map((zone) =>
      rule({ name: zone, zone, answers: { "*": 3 } })
    );
    for (let i = 0; i < 2; i++) {
      assertEquals(await lists.check(rules, facts()), [
        { name: "quota.test", score: 3, detail: "quota.test: 93.184.216.34 127.0.0.2" },
      ]);
    }
    assertEquals(log.warnings.map((w) => `${w.zone} ${w.answer}`).sort(), [
      "hijacked.test 198.51.100.1",
      "quota.test 127.255.255.255",
      "uribl.test 127.0.0.1",
      "zen.test 127.255.255.254",
    ]);
  });
});

Deno.test("a list that does not answer gives no symbol, the others still count, and check returns before the resolver gives up", async () => {
  const zone = {
    "34.216.184.93.slow.test": { DROP: true as const },
    "34.216.184.93.zen.test": { A: ["127.0.0.2"] },
  };
  await withLists(zone, { timeoutMs: 200 }, async (lists, _dns, resolver) => {
    const rules = [
      rule({ name: "SLOW", zone: "slow.test" }),
      rule({ name: "ZEN", zone: "zen.test" }),
    ];
    const checking = lists.check(rules, facts());
    // Joins the resolver's own query for the dropped name (1.5 s timeout), still in flight.
    const resolverGivesUp = resolver.a("34.216.184.93.slow.test").then(
      () => "answered",
      (error) => error instanceof DnsError ? error.code : String(error),
    );
    const first = await Promise.race([
      checking.then(() => "check"),
      resolverGivesUp.then(() => "resolver"),
    ]);
    assertEquals(first, "check");
    assertEquals((await checking).map((s) => s.name), ["ZEN"]);
    assertEquals(await resolverGivesUp, "TIMEOUT");
  });
});

Deno.test("SERVFAIL gives no symbol and is not cached", async () => {
  const zone = { "34.216.184.93.zen.test": { SERVFAIL: true as const } };
  await withLists(zone, {}, async (lists, dns) => {
    const zen = [rule({ name: "RBL", zone: "zen.test" })];
    assertEquals(await lists.check(zen, facts()), []);
    assertEquals(await lists.check(zen, facts()), []);
    assertEquals(dns.queries.length, 2);
  });
});

Deno.test("answers and 'not listed' are cached: two checks, one query each", async () => {
  const zone = { "34.216.184.93.zen.test": { A: ["127.0.0.2"] } };
  await withLists(zone, {}, async (lists, dns) => {
    const zen = [rule({ name: "RBL", zone: "zen.test" })];
    const clean = facts({ remoteAddress: "93.184.216.35" });
    for (let i = 0; i < 2; i++) {
      assertEquals((await lists.check(zen, facts())).map((s) => s.score), [4]);
      assertEquals(await lists.check(zen, clean), []);
    }
    assertEquals(dns.queries.map((q) => q.name), [
      "34.216.184.93.zen.test",
      "35.216.184.93.zen.test",
    ]);
  });
});

Deno.test("the cache keeps the most recently used names and forgets expired ones", async () => {
  const zone = {
    "34.216.184.93.zen.test": { A: ["127.0.0.2"] },
    "35.216.184.93.zen.test": { A: ["127.0.0.2"] },
    "36.216.184.93.zen.test": { A: ["127.0.0.2"] },
  };
  const zen = [rule({ name: "RBL", zone: "zen.test" })];
  const client = (last: number) => facts({ remoteAddress: `93.184.216.${last}` });
  await withLists(zone, { cacheSize: 2 }, async (lists, dns) => {
    await lists.check(zen, client(34));
    await lists.check(zen, client(35));
    await lists.check(zen, client(34)); // cached; 35 is now the least recently used
    await lists.check(zen, client(36)); // evicts 35
    await lists.check(zen, client(34)); // still cached
    await lists.check(zen, client(35)); // asked again
    assertEquals(dns.queries.map((q) => q.name.split(".")[0]), ["34", "35", "36", "35"]);
  });
  await withLists(zone, { cacheTtlMs: 0 }, async (lists, dns) => {
    await lists.check(zen, client(34));
    await lists.check(zen, client(34));
    assertEquals(dns.queries.length, 2);
  });
});
