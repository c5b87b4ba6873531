/**
 * The resolver's SRV lookup (RFC 2782) and the admin DNS page's checks (src/admin/dns_check.ts)
 * against a real DNS server of our own on loopback (tests/helpers/dns_server.ts): right, wrong
 * and missing SRV, TXT and MX records. Nothing here asks the internet.
 */
import { DnsError, Resolver } from "../../src/dns/resolver.ts";
import { checkRecord } from "../../src/admin/dns_check.ts";
import type { DnsRecord } from "../../src/api/domains.ts";
import { startDnsServer, type TestDnsServer, type Zone } from "../helpers/dns_server.ts";
import { assertEquals, assertRejects } from "../helpers/assert.ts";

const ZONE: Zone = {
  "example.com": {
    MX: [{ exchange: "mail.example.com", preference: 10 }],
    TXT: ["v=spf1 mx -all", "google-site-verification=abc"],
  },
  "wrong.example": {
    MX: [{ exchange: "other.example.net", preference: 10 }],
    TXT: ["v=spf1 a -all"],
  },
  "bare.example": { TXT: ["unrelated text"] },
  "_imaps._tcp.example.com": {
    SRV: [
      { priority: 10, weight: 1, port: 993, target: "backup.example.com" },
      { priority: 0, weight: 1, port: 993, target: "Mail.Example.com." },
    ],
  },
  "_pop3s._tcp.example.com": { SRV: [{ priority: 0, weight: 0, port: 0, target: "." }] },
  "_submissions._tcp.example.com": {
    SRV: [{ priority: 0, weight: 1, port: 587, target: "mail.example.com" }],
  },
  "_imaps._tcp.wrong.example": {
    SRV: [{ priority: 0, weight: 1, port: 993, target: "elsewhere.example.net" }],
  },
  "_imap._tcp.example.com": { TXT: ["not a service record"] },
  "_caldavs._tcp.broken.example": { SERVFAIL: true },
};

async function withDns(work: (resolver: Resolver, dns: TestDnsServer) => Promise<void>) {
  const dns = await startDnsServer(ZONE);
  try {
    await work(
      new Resolver({ nameServer: { ipAddr: dns.host, port: dns.port }, timeoutMs: 2000 }),
      dns,
    );
  } finally {
    await dns.close();
  }
}

const record = (type: string, name: string, value: string): DnsRecord => ({
  type,
  name,
  value,
  ttl: 3600,
  purpose: "",
});

Deno.test("resolver.srv: records sorted by priority, targets normalized, '.' kept", async () => {
  await withDns(async (resolver, dns) => {
    assertEquals(await resolver.srv("_imaps._tcp.example.com"), [
      { priority: 0, weight: 1, port: 993, target: "mail.example.com" },
      { priority: 10, weight: 1, port: 993, target: "backup.example.com" },
    ]);
    assertEquals(await resolver.srv("_pop3s._tcp.example.com."), [
      { priority: 0, weight: 0, port: 0, target: "." },
    ]);
    // Cached like the other types: the second lookup does not ask again.
    const asked = dns.queries.length;
    await resolver.srv("_imaps._tcp.example.com");
    assertEquals(dns.queries.length, asked);
    assertEquals(dns.queries.filter((q) => q.type === "SRV").length, 2);
  });
});

Deno.test("resolver.srv: NXDOMAIN, NODATA and SERVFAIL are told apart", async () => {
  await withDns(async (resolver) => {
    const code = async (name: string) =>
      (await assertRejects(() => resolver.srv(name), DnsError) as DnsError).code;
    assertEquals(await code("_imaps._tcp.nowhere.example"), "NXDOMAIN");
    assertEquals(await code("_imap._tcp.example.com"), "NODATA");
    assertEquals(await code("_caldavs._tcp.broken.example"), "SERVFAIL");
  });
});

Deno.test("resolver.srv: mailauth's resolver answers SRV in Node's resolveSrv shape", async () => {
  await withDns(async (resolver) => {
    const resolve = resolver.mailauthResolver();
    assertEquals(await resolve("_submissions._tcp.example.com", "SRV"), [
      { priority: 0, weight: 1, port: 587, name: "mail.example.com" },
    ]);
  });
});

Deno.test("checkRecord SRV: present (target and port), wrong, missing, failed", async () => {
  await withDns(async (resolver) => {
    assertEquals(
      await checkRecord(
        resolver,
        record("SRV", "_imaps._tcp.example.com", "0 1 993 mail.example.com."),
      ),
      { status: "present", found: ["0 1 993 mail.example.com", "10 1 993 backup.example.com"] },
    );
    // Priority and weight are the admin's choice: only target and port are compared.
    assertEquals(
      (await checkRecord(
        resolver,
        record("SRV", "_imaps._tcp.example.com", "5 0 993 backup.example.com."),
      )).status,
      "present",
    );
    assertEquals(
      (await checkRecord(
        resolver,
        record("SRV", "_submissions._tcp.example.com", "0 1 465 mail.example.com."),
      )).status,
      "wrong",
    );
    assertEquals(
      await checkRecord(
        resolver,
        record("SRV", "_imaps._tcp.wrong.example", "0 1 993 mail.example.com."),
      ),
      { status: "wrong", found: ["0 1 993 elsewhere.example.net"] },
    );
    assertEquals(
      (await checkRecord(resolver, record("SRV", "_pop3s._tcp.example.com", "0 0 0 ."))).status,
      "present",
    );
    assertEquals(
      await checkRecord(resolver, record("SRV", "_pop3._tcp.example.com", "0 0 0 .")),
      { status: "missing", found: [] },
    );
    assertEquals(
      (await checkRecord(
        resolver,
        record("SRV", "_imap._tcp.example.com", "0 1 143 mail.example.com."),
      )).status,
      "missing",
    );
    assertEquals(
      (await checkRecord(
        resolver,
        record("SRV", "_caldavs._tcp.broken.example", "0 1 443 mail.example.com."),
      )).status,
      "failed",
    );
  });
});

Deno.test("checkRecord TXT and MX: present, wrong, missing", async () => {
  await withDns(async (resolver) => {
    const status = async (r: DnsRecord) => (await checkRecord(resolver, r)).status;
    assertEquals(await status(record("TXT", "example.com", '"v=spf1 mx -all"')), "present");
    assertEquals(await status(record("TXT", "wrong.example", '"v=spf1 mx -all"')), "wrong");
    assertEquals(await status(record("TXT", "bare.example", '"v=spf1 mx -all"')), "missing");
    assertEquals(await status(record("TXT", "absent.example", '"v=spf1 mx -all"')), "missing");
    assertEquals(await status(record("MX", "example.com", "10 mail.example.com.")), "present");
    assertEquals(await status(record("MX", "wrong.example", "10 mail.wrong.example.")), "wrong");
    assertEquals(await status(record("MX", "bare.example", "10 mail.bare.example.")), "missing");
    assertEquals(
      await status(record("MX", "absent.example", "10 mail.absent.example.")),
      "missing",
    );
  });
});
