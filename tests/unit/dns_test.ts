import {
  classifyRcode,
  DnsError,
  NODE_ERROR_CODES,
  normalizeName,
  parseResolvConf,
  reverseName,
  sortByPreference,
  toNodeDnsError,
} from "../../src/dns/resolver.ts";
import { isNullMx, orderMailHosts } from "../../src/dns/mx.ts";
import { normalizeName as zoneName, txtChunks } from "../helpers/dns_server.ts";
import { mulberry32 } from "../helpers/random.ts";
import { assert, assertEquals, assertThrows } from "../helpers/assert.ts";

Deno.test("classifyRcode maps response codes to outcomes", () => {
  assertEquals(classifyRcode("NOERROR", 2), "OK");
  assertEquals(classifyRcode("NOERROR", 0), "NODATA");
  assertEquals(classifyRcode("NXDOMAIN", 0), "NXDOMAIN");
  assertEquals(classifyRcode("SERVFAIL", 0), "SERVFAIL");
  assertEquals(classifyRcode("REFUSED", 0), "REFUSED");
  assertEquals(classifyRcode("FORMERR", 0), "SERVFAIL");
  assertEquals(classifyRcode("NOTIMP", 0), "SERVFAIL");
});

Deno.test("DnsError codes map to the Node dns codes mailauth expects", () => {
  assertEquals(NODE_ERROR_CODES, {
    NXDOMAIN: "ENOTFOUND",
    NODATA: "ENODATA",
    SERVFAIL: "ESERVFAIL",
    TIMEOUT: "ETIMEOUT",
    REFUSED: "EREFUSED",
  });
  const error = toNodeDnsError(new DnsError("NODATA", "x"), "example.com", "TXT") as Error & {
    code: string;
    hostname: string;
    syscall: string;
  };
  assertEquals(error.code, "ENODATA");
  assertEquals(error.hostname, "example.com");
  assertEquals(error.syscall, "queryTXT");
});

Deno.test("reverseName builds in-addr.arpa and ip6.arpa names", () => {
  assertEquals(reverseName("192.0.2.1"), "1.2.0.192.in-addr.arpa");
  assertEquals(
    reverseName("2001:db8::1"),
    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
  );
  assertEquals(
    reverseName("::ffff:192.0.2.1"),
    "1.0.2.0.0.0.0.c.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa",
  );
  assertEquals(reverseName("2001:DB8:0:0:0:0:0:2").slice(0, 8), "2.0.0.0.");
  assertThrows(() => reverseName("not-an-ip"), DnsError);
});

Deno.test("normalizeName lower-cases and drops the trailing dot", () => {
  assertEquals(normalizeName("MX.Example.COM."), "mx.example.com");
  assertEquals(zoneName("Example.com.."), "example.com");
});

Deno.test("parseResolvConf takes the first valid nameserver", () => {
  assertEquals(
    parseResolvConf("# comment\nsearch example\nnameserver bogus\nnameserver 10.0.0.53\n"),
    { ipAddr: "10.0.0.53", port: 53 },
  );
  assertEquals(parseResolvConf("nameserver ::1\n"), { ipAddr: "::1", port: 53 });
  assertEquals(parseResolvConf("search example.com\n"), null);
});

Deno.test("sortByPreference sorts ascending", () => {
  const sorted = sortByPreference([
    { exchange: "c", preference: 30 },
    { exchange: "a", preference: 5 },
    { exchange: "b", preference: 10 },
  ]);
  assertEquals(sorted.map((r) => r.exchange), ["a", "b", "c"]);
});

Deno.test("isNullMx recognises only a single '.' of preference 0 (RFC 7505)", () => {
  assert(isNullMx([{ exchange: ".", preference: 0 }]));
  assert(isNullMx([{ exchange: "", preference: 0 }]));
  assert(!isNullMx([{ exchange: ".", preference: 10 }]));
  assert(!isNullMx([{ exchange: ".", preference: 0 }, { exchange: "mx.a", preference: 10 }]));
  assert(!isNullMx([{ exchange: "mx.example.com", preference: 0 }]));
  assert(!isNullMx([]));
});

Deno.test("orderMailHosts sorts by preference and shuffles equal preferences", () => {
  const records = [
    { exchange: "backup.example.com.", preference: 20 },
    { exchange: "a.example.com", preference: 10 },
    { exchange: "B.example.com", preference: 10 },
    { exchange: "c.example.com", preference: 10 },
    { exchange: ".", preference: 30 },
  ];
  const random = mulberry32(7);
  const orders = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const hosts = orderMailHosts(records, random);
    assertEquals(hosts.length, 4);
    assertEquals(hosts.map((h) => h.preference), [10, 10, 10, 20]);
    assertEquals(hosts[3].name, "backup.example.com");
    assertEquals(hosts.slice(0, 3).map((h) => h.name).sort(), [
      "a.example.com",
      "b.example.com",
      "c.example.com",
    ]);
    orders.add(hosts.slice(0, 3).map((h) => h.name).join(","));
  }
  // All 6 permutations of the three equal-preference hosts show up.
  assertEquals(orders.size, 6);
});

Deno.test("orderMailHosts drops duplicate exchanges within a preference", () => {
  const hosts = orderMailHosts([
    { exchange: "mx.example.com", preference: 10 },
    { exchange: "MX.example.com.", preference: 10 },
  ]);
  assertEquals(hosts, [{ name: "mx.example.com", preference: 10 }]);
});

Deno.test("txtChunks splits on 255-byte boundaries", () => {
  const chunks = txtChunks("x".repeat(600));
  assertEquals(chunks.map((c) => c.length), [255, 255, 90]);
  assertEquals(txtChunks("").map((c) => c.length), [0]);
  assertEquals(txtChunks("é".repeat(200)).map((c) => c.length), [255, 145]);
});
