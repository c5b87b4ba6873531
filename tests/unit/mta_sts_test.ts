/**
 * MTA-STS (RFC 8461): the policy parser and MX matching as pure functions, then discovery end to
 * end against a loopback DNS server and a loopback HTTPS policy host whose certificate a test CA
 * signs. Nothing here leaves 127.0.0.0/8.
 */
import net from "node:net";
import {
  FilePolicyCache,
  MAX_AGE_LIMIT,
  MemoryPolicyCache,
  MtaSts,
  type MtaStsOptions,
  type MtaStsPolicy,
  mxMatches,
  parsePolicy,
  parseStsRecord,
  policyAllowsHost,
} from "../../src/smtp/mta_sts.ts";
import { Resolver } from "../../src/dns/resolver.ts";
import { configureLogging } from "../../src/observability/log.ts";
import { startDnsServer, type TestDnsServer, type Zone } from "../helpers/dns_server.ts";
import {
  createTestCa,
  httpResponse,
  issueCertificate,
  type RawHandler,
  startHttpsServer,
  type TestCertificate,
  type TestHttpsServer,
} from "../helpers/https_server.ts";
import { assert, assertEquals } from "../helpers/assert.ts";

configureLogging({ level: "error" });

const POLICY =
  "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\nmx: *.mx.example.com\r\n" +
  "max_age: 86400\r\n";

// ---- parsePolicy ----

Deno.test("parsePolicy: a valid policy, CRLF or LF, trailing space, unknown keys ignored", () => {
  const expected = {
    ok: true,
    policy: {
      version: "STSv1",
      mode: "enforce",
      mx: ["mx1.example.com", "*.mx.example.com"],
      maxAge: 86400,
    },
  };
  assertEquals(parsePolicy(POLICY), expected);
  assertEquals(parsePolicy(POLICY.replaceAll("\r\n", "\n")), expected);
  assertEquals(parsePolicy(POLICY.replaceAll("\r\n", "\n").trimEnd()), expected, "no final LF");
  assertEquals(
    parsePolicy(
      "version: STSv1\nmode:enforce \nmx: MX1.Example.COM.\nmx:\t*.mx.example.com\n" +
        "max_age: 86400\nreport_uri: https://example.com/tlsrpt\nfuture_key: x y z\n",
    ),
    expected,
  );
});

Deno.test("parsePolicy: mode none needs no mx; testing does", () => {
  assertEquals(parsePolicy("version: STSv1\nmode: none\nmax_age: 0\n"), {
    ok: true,
    policy: { version: "STSv1", mode: "none", mx: [], maxAge: 0 },
  });
  assertEquals(parsePolicy("version: STSv1\nmode: testing\nmax_age: 60\n"), {
    ok: false,
    error: "mode testing needs at least one mx",
  });
});

Deno.test("parsePolicy: missing and malformed fields name the problem and the line", () => {
  const cases: [string, string][] = [
    ["mode: enforce\nmx: a.example.com\nmax_age: 1\n", "version is missing"],
    ["version: STSv1\nmx: a.example.com\nmax_age: 1\n", "mode is missing"],
    ["version: STSv1\nmode: enforce\nmx: a.example.com\n", "max_age is missing"],
    ["version: STSv1\nmode: enforce\nmax_age: 1\n", "mode enforce needs at least one mx"],
    ["version: STSv2\nmode: enforce\n", "line 1: version must be STSv1"],
    ["version: STSv1\nmode: Enforce\n", "line 2: mode must be enforce, testing or none"],
    ["version: STSv1\nmode: strict\n", "line 2: mode must be enforce, testing or none"],
    ["version: STSv1\r\nmode: none\r\nmax_age: -1\r\n", "line 3: max_age must be 1 to 10 digits"],
    [
      "version: STSv1\nmode: none\nmax_age: 12345678901\n",
      "line 3: max_age must be 1 to 10 digits",
    ],
    ["version: STSv1\nmode: none\nmax_age\n", 'line 3: expected "key: value"'],
    ["version: STSv1\n mode: none\n", 'line 2: expected "key: value"'],
    ["<html><body>hello</body></html>", 'line 1: expected "key: value"'],
    ["version: STSv1\nmode: enforce\nmx: *.*.example.com\n", "line 3: mx is not a host name"],
    ["version: STSv1\nmode: enforce\nmx: mx_1.example.com\n", "line 3: mx is not a host name"],
    ["version: STSv1\nmode: enforce\nmode: none\n", "line 3: mode given twice"],
  ];
  for (const [text, error] of cases) {
    assertEquals(parsePolicy(text), { ok: false, error }, JSON.stringify(text));
  }
});

Deno.test("parsePolicy: max_age is capped at one year", () => {
  const result = parsePolicy("version: STSv1\nmode: none\nmax_age: 9999999999\n");
  assert(result.ok);
  assertEquals(result.policy.maxAge, MAX_AGE_LIMIT);
  assertEquals(MAX_AGE_LIMIT, 31557600);
  const exact = parsePolicy("version: STSv1\nmode: none\nmax_age: 31557600\n");
  assert(exact.ok);
  assertEquals(exact.policy.maxAge, 31557600);
});

Deno.test("parseStsRecord: v=STSv1 first, an id of 1 to 32 alphanumerics, extensions allowed", () => {
  assertEquals(parseStsRecord("v=STSv1; id=20160831085700Z;"), "20160831085700Z");
  assertEquals(parseStsRecord("v=STSv1;id=abc"), "abc");
  assertEquals(parseStsRecord("v=STSv1; id=abc; ext_1=value"), "abc");
  assertEquals(parseStsRecord("v=STSv1; id=" + "a".repeat(32)), "a".repeat(32));
  assertEquals(parseStsRecord("v=STSv1; id=" + "a".repeat(33)), null);
  assertEquals(parseStsRecord("v=STSv1; id=a-b"), null);
  assertEquals(parseStsRecord("v=STSv1;"), null, "no id");
  assertEquals(parseStsRecord("id=abc; v=STSv1"), null, "version not first");
  assertEquals(parseStsRecord("v=STSv2; id=abc"), null);
  assertEquals(parseStsRecord("v=STSv1; id=abc; id=def"), null);
});

// ---- mxMatches ----

Deno.test("mxMatches: exact names, case and trailing dot ignored", () => {
  assert(mxMatches(["mx1.example.com"], "mx1.example.com"));
  assert(mxMatches(["MX1.Example.com."], "mx1.EXAMPLE.com"));
  assert(mxMatches(["mx1.example.com"], "mx1.example.com."));
  assert(!mxMatches(["mx1.example.com"], "mx2.example.com"));
  assert(!mxMatches(["mx1.example.com"], "a.mx1.example.com"));
  assert(!mxMatches([], "mx1.example.com"));
});

Deno.test("mxMatches: a wildcard stands for exactly one leftmost label", () => {
  const patterns = ["*.example.net"];
  assert(mxMatches(patterns, "mx.example.net"));
  assert(mxMatches(patterns, "MX.Example.NET."));
  assert(!mxMatches(patterns, "example.net"), "the wildcard needs a label");
  assert(!mxMatches(patterns, "a.mx.example.net"), "only one label");
  assert(!mxMatches(patterns, "mxexample.net"));
  assert(!mxMatches(patterns, "mx.example.net.evil.test"));
  assert(mxMatches(["mx1.example.com", "*.example.net"], "b.example.net"));
});

Deno.test("policyAllowsHost: only an enforce policy turns hosts away", () => {
  const base: MtaStsPolicy = {
    domain: "example.com",
    id: "x",
    mode: "enforce",
    mx: ["*.example.com"],
    maxAge: 60,
    fetchedAt: 0,
  };
  assert(policyAllowsHost(base, "mx.example.com"));
  assert(!policyAllowsHost(base, "mx.elsewhere.test"));
  assert(policyAllowsHost({ ...base, mode: "testing" }, "mx.elsewhere.test"));
  assert(policyAllowsHost({ ...base, mode: "none", mx: [] }, "mx.elsewhere.test"));
});

// ---- discovery end to end ----

const DOMAIN = "example.com";
const POLICY_HOST = "mta-sts.example.com";

function zoneWith(txt: string[] | null, extra: Zone = {}): Zone {
  return {
    ...(txt ? { [`_mta-sts.${DOMAIN}`]: { TXT: txt } } : {}),
    [POLICY_HOST]: { A: ["127.0.0.1"] },
    [DOMAIN]: { MX: [{ exchange: "mx1.example.com", preference: 10 }] },
    ...extra,
  };
}

const trustedCa = createTestCa("Postern Test CA");
const untrustedCa = createTestCa("Someone Else's CA");
const policyHostCertificate = trustedCa.then((ca) => issueCertificate(ca, [POLICY_HOST]));

interface Fixture {
  dns: TestDnsServer;
  server: TestHttpsServer;
  cache: MemoryPolicyCache;
  sts(options?: Partial<MtaStsOptions>): MtaSts;
}

async function withPolicyHost(
  setup: { zone?: Zone; certificate?: TestCertificate; handler?: RawHandler },
  fn: (fixture: Fixture) => Promise<void>,
): Promise<void> {
  const dns = await startDnsServer(setup.zone ?? zoneWith(["v=STSv1; id=one;"]));
  const certificate = setup.certificate ?? await policyHostCertificate;
  const server = await startHttpsServer(
    certificate,
    setup.handler ?? (() => httpResponse({ body: POLICY })),
  );
  const ca = (await trustedCa).certificatePem;
  // No resolver cache: every discovery sees the zone as it is now.
  const resolver = new Resolver({
    nameServer: { ipAddr: dns.host, port: dns.port },
    timeoutMs: 1_000,
    cacheMaxEntries: 0,
  });
  const cache = new MemoryPolicyCache();
  try {
    await fn({
      dns,
      server,
      cache,
      sts: (options) =>
        new MtaSts({ resolver, cache, ca: [ca], httpsPort: server.port, ...options }),
    });
  } finally {
    await server.close();
    await dns.close();
  }
}

Deno.test("discovery: the policy is fetched over HTTPS with a Host header and cached", async () => {
  await withPolicyHost({}, async ({ server, cache, sts }) => {
    const before = Date.now();
    const policy = await sts().policyFor("Example.COM.");
    assert(policy);
    assertEquals({ ...policy, fetchedAt: 0 }, {
      domain: "example.com",
      id: "one",
      mode: "enforce",
      mx: ["mx1.example.com", "*.mx.example.com"],
      maxAge: 86400,
      fetchedAt: 0,
    });
    assert(policy.fetchedAt >= before && policy.fetchedAt <= Date.now());
    assertEquals(server.requests.length, 1);
    assertEquals(server.requests[0].requestLine, "GET /.well-known/mta-sts.txt HTTP/1.1");
    assertEquals(server.requests[0].headers["host"], POLICY_HOST);
    assertEquals(server.requests[0].headers["connection"], "close");
    assertEquals(await cache.get("example.com"), policy);
    assert(policyAllowsHost(policy, "a.mx.example.com"));
    assert(!policyAllowsHost(policy, "mx2.example.com"));
  });
});

Deno.test("discovery: the same TXT id uses the cache; a changed id fetches again", async () => {
  await withPolicyHost({}, async ({ dns, server, sts }) => {
    const mtaSts = sts();
    const first = await mtaSts.policyFor(DOMAIN);
    const second = await mtaSts.policyFor(DOMAIN);
    assertEquals(second, first);
    assertEquals(server.requests.length, 1, "same id: no fetch");
    assertEquals(
      dns.queries.filter((q) => q.name === `_mta-sts.${DOMAIN}` && q.type === "TXT").length,
      2,
      "the TXT record is asked each time",
    );

    dns.setZone(zoneWith(["v=STSv1; id=two"]));
    server.setHandler(() =>
      httpResponse({ body: "version: STSv1\nmode: testing\nmx: *.example.com\nmax_age: 600\n" })
    );
    const third = await mtaSts.policyFor(DOMAIN);
    assertEquals(server.requests.length, 2);
    assertEquals(third?.id, "two");
    assertEquals(third?.mode, "testing");
    assertEquals(third?.mx, ["*.example.com"]);
  });
});

Deno.test("discovery: concurrent lookups of one domain share one fetch", async () => {
  await withPolicyHost({}, async ({ server, sts }) => {
    const mtaSts = sts();
    const [a, b, c] = await Promise.all([
      mtaSts.policyFor(DOMAIN),
      mtaSts.policyFor(DOMAIN),
      mtaSts.policyFor("EXAMPLE.com"),
    ]);
    assertEquals(a?.id, "one");
    assertEquals(b, a);
    assertEquals(c, a);
    assertEquals(server.requests.length, 1);
  });
});

Deno.test("discovery: chunked and close-delimited bodies are read", async () => {
  for (const framing of ["chunked", "close"] as const) {
    await withPolicyHost(
      { handler: () => httpResponse({ body: POLICY, framing }) },
      async ({ sts }) => {
        const policy = await sts().policyFor(DOMAIN);
        assertEquals(policy?.mx, ["mx1.example.com", "*.mx.example.com"], framing);
      },
    );
  }
  // A media type parameter is fine (RFC 8461 3.2: other parameters are ignored).
  await withPolicyHost(
    { handler: () => httpResponse({ body: POLICY, contentType: "Text/Plain; charset=utf-8" }) },
    async ({ sts }) => assertEquals((await sts().policyFor(DOMAIN))?.mode, "enforce"),
  );
});

Deno.test("discovery: a failed fetch keeps the cached policy until its max_age ends", async () => {
  await withPolicyHost({}, async ({ dns, server, sts }) => {
    let clock = Date.now();
    const mtaSts = sts({ now: () => clock });
    const cached = await mtaSts.policyFor(DOMAIN);
    assertEquals(cached?.id, "one");

    // A new id, but the policy host is down: the cached policy stays in force.
    await server.close();
    dns.setZone(zoneWith(["v=STSv1; id=two;"]));
    assertEquals(await mtaSts.policyFor(DOMAIN), cached);

    // The TXT record gone, or the DNS server failing: still the cached policy.
    dns.setZone(zoneWith(null));
    assertEquals(await mtaSts.policyFor(DOMAIN), cached);
    dns.setZone(zoneWith(null, { [`_mta-sts.${DOMAIN}`]: { SERVFAIL: true } }));
    assertEquals(await mtaSts.policyFor(DOMAIN), cached);

    // Past max_age there is nothing to fall back on.
    clock += 86400_000 + 1;
    assertEquals(await mtaSts.policyFor(DOMAIN), null);
    dns.setZone(zoneWith(["v=STSv1; id=two;"]));
    assertEquals(await mtaSts.policyFor(DOMAIN), null);
  });
});

Deno.test("discovery: an expired cached policy with the same id is fetched again", async () => {
  await withPolicyHost({}, async ({ server, sts }) => {
    let clock = Date.now();
    const mtaSts = sts({ now: () => clock });
    await mtaSts.policyFor(DOMAIN);
    clock += 86400_000;
    const renewed = await mtaSts.policyFor(DOMAIN);
    assertEquals(server.requests.length, 2);
    assertEquals(renewed?.fetchedAt, clock);
  });
});

Deno.test("discovery: no valid TXT record means no MTA-STS and no fetch", async () => {
  const records: (string[] | null)[] = [
    null,
    ["v=spf1 -all"],
    ["v=STSv1; id=one;", "v=STSv1; id=two;"],
    ["v=STSv1; id=not-alphanumeric;"],
    ["v=STSv1;"],
    ["v=STSv1 id=one"],
  ];
  for (const txt of records) {
    await withPolicyHost({ zone: zoneWith(txt) }, async ({ server, sts }) => {
      assertEquals(await sts().policyFor(DOMAIN), null, JSON.stringify(txt));
      assertEquals(server.requests.length, 0);
    });
  }
  // Records that are not MTA-STS are discarded before counting.
  await withPolicyHost(
    { zone: zoneWith(["v=spf1 -all", "v=STSv1; id=one;"]) },
    async ({ sts }) => assertEquals((await sts().policyFor(DOMAIN))?.id, "one"),
  );
});

Deno.test("discovery: a certificate from an untrusted CA → no policy", async () => {
  const certificate = await issueCertificate(await untrustedCa, [POLICY_HOST]);
  await withPolicyHost({ certificate }, async ({ server, cache, sts }) => {
    assertEquals(await sts().policyFor(DOMAIN), null);
    assertEquals(server.requests.length, 0, "no request over an unverified connection");
    assertEquals(await cache.get(DOMAIN), null);
  });
});

Deno.test("discovery: a certificate for another host name → no policy", async () => {
  const certificate = await issueCertificate(await trustedCa, ["www.example.com", "example.com"]);
  await withPolicyHost({ certificate }, async ({ server, sts }) => {
    assertEquals(await sts().policyFor(DOMAIN), null);
    assertEquals(server.requests.length, 0);
  });
});

Deno.test("discovery: HTTP answers a policy must not come in → no policy", async () => {
  const bigBody = POLICY + `x_padding: ${"a".repeat(64 * 1024)}\n`;
  const cases: [string, RawHandler][] = [
    ["404", () => httpResponse({ status: "404 Not Found", body: "not here" })],
    ["500", () => httpResponse({ status: "500 Internal Server Error", body: POLICY })],
    ["html", () => httpResponse({ contentType: "text/html", body: POLICY })],
    ["no content type", () => httpResponse({ contentType: null, body: POLICY })],
    ["over 64 KiB, Content-Length", () => httpResponse({ body: bigBody })],
    ["over 64 KiB, chunked", () => httpResponse({ body: bigBody, framing: "chunked" })],
    ["over 64 KiB, close-delimited", () => httpResponse({ body: bigBody, framing: "close" })],
    ["truncated", () => httpResponse({ body: POLICY }).slice(0, -10)],
    ["invalid policy", () => httpResponse({ body: "version: STSv1\nmode: enforce\n" })],
    ["not HTTP", () => "SSH-2.0-OpenSSH_9.6\r\n\r\n"],
    ["closed without an answer", () => null],
  ];
  for (const [name, handler] of cases) {
    await withPolicyHost({ handler }, async ({ server, sts }) => {
      assertEquals(await sts().policyFor(DOMAIN), null, name);
      assertEquals(server.requests.length, 1, name);
    });
  }
});

Deno.test("discovery: a redirect is not followed", async () => {
  const handler: RawHandler = (request) =>
    request.requestLine.startsWith("GET /.well-known/mta-sts.txt ")
      ? httpResponse({
        status: "301 Moved Permanently",
        headers: { Location: `https://${POLICY_HOST}/elsewhere.txt` },
        body: "",
      })
      : httpResponse({ body: POLICY });
  await withPolicyHost({ handler }, async ({ server, sts }) => {
    assertEquals(await sts().policyFor(DOMAIN), null);
    assertEquals(server.requests.length, 1);
  });
});

Deno.test("discovery: a policy host that never answers times out → no policy", async () => {
  // Accepts the TCP connection and then says nothing: not even the TLS handshake completes.
  const sockets = new Set<net.Socket>();
  const silent = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  const port = (silent.address() as net.AddressInfo).port;
  try {
    await withPolicyHost({}, async ({ sts }) => {
      const started = performance.now();
      assertEquals(await sts({ httpsPort: port, timeoutMs: 300 }).policyFor(DOMAIN), null);
      const elapsed = performance.now() - started;
      assert(elapsed >= 250 && elapsed < 2_000, `gave up after ${elapsed} ms`);
    });
  } finally {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  }
});

Deno.test("discovery: a policy host without an address → no policy", async () => {
  const zone = zoneWith(["v=STSv1; id=one;"]);
  delete zone[POLICY_HOST];
  await withPolicyHost({ zone }, async ({ server, sts }) => {
    assertEquals(await sts().policyFor(DOMAIN), null);
    assertEquals(server.requests.length, 0);
  });
});

// ---- FilePolicyCache ----

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "postern-mta-sts-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("FilePolicyCache: a fetched policy survives a restart; file is 0600", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/data/mta-sts.json`;
    await withPolicyHost({}, async ({ server, sts }) => {
      const policy = await sts({ cache: new FilePolicyCache(path) }).policyFor(DOMAIN);
      assertEquals(policy?.id, "one");
      assertEquals((await Deno.stat(path)).mode! & 0o777, 0o600);

      // A new process: the file is read back, and the same id needs no fetch.
      const reloaded = new FilePolicyCache(path);
      assertEquals(await reloaded.get(DOMAIN), policy);
      assertEquals(await sts({ cache: reloaded }).policyFor(DOMAIN), policy);
      assertEquals(server.requests.length, 1);

      // The policy host down after a restart: the policy from the file is used.
      await server.close();
      assertEquals(await sts({ cache: new FilePolicyCache(path) }).policyFor(DOMAIN), policy);
    });
    const leftovers = [...Deno.readDirSync(`${dir}/data`)].map((entry) => entry.name);
    assertEquals(leftovers, ["mta-sts.json"], "no temporary files left behind");
  });
});

Deno.test("FilePolicyCache: entries past max_age are dropped on load", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/mta-sts.json`;
    const now = Date.now();
    const cache = new FilePolicyCache(path, { now: () => now });
    const policy = (domain: string, maxAge: number, fetchedAt = now): MtaStsPolicy => ({
      domain,
      id: "abc",
      mode: "enforce",
      mx: ["mx." + domain],
      maxAge,
      fetchedAt,
    });
    await cache.set(policy("short.example", 60));
    await cache.set(policy("long.example", 3600));

    const later = new FilePolicyCache(path, { now: () => now + 120_000 });
    assertEquals(await later.get("short.example"), null);
    assertEquals(await later.get("long.example"), policy("long.example", 3600));
    // The next write leaves the expired entry out of the file.
    await later.set(policy("other.example", 60, now + 120_000));
    const onDisk = JSON.parse(await Deno.readTextFile(path)) as { policies: MtaStsPolicy[] };
    assertEquals(onDisk.policies.map((p) => p.domain).sort(), ["long.example", "other.example"]);
  });
});

Deno.test("FilePolicyCache: a damaged file is treated as empty and then replaced", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/mta-sts.json`;
    await Deno.writeTextFile(path, "{ not json");
    const cache = new FilePolicyCache(path);
    assertEquals(await cache.get(DOMAIN), null);
    const policy: MtaStsPolicy = {
      domain: DOMAIN,
      id: "one",
      mode: "testing",
      mx: ["mx1.example.com"],
      maxAge: 600,
      fetchedAt: Date.now(),
    };
    await cache.set(policy);
    assertEquals(await new FilePolicyCache(path).get(DOMAIN), policy);
  });
});
