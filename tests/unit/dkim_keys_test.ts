import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { dkimRecord, generateDkimKeys } from "../../src/smtp/dkim_keys.ts";
import { domainRecords, txtStrings } from "../../src/directory/dns_records.ts";
import { clientDnsRecords } from "../../src/http/client_records.ts";
import { type Config, configSchema } from "../../src/config/schema.ts";

/** The default configuration (default listeners) for a hostname. */
function configWith(hostname: string): Config {
  return configSchema.parse({ server: { hostname } });
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

function pemBody(pem: string): Uint8Array<ArrayBuffer> {
  return fromBase64(pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""));
}

Deno.test("generated DKIM keys: what the private key signs, the published key verifies", async () => {
  const keys = await generateDkimKeys(new Date(Date.UTC(2026, 10, 28)));
  assertEquals(keys.map((k) => [k.selector, k.algorithm]), [
    ["rsa-202611", "rsa-sha256"],
    ["ed-202611", "ed25519-sha256"],
  ]);
  const data = new TextEncoder().encode("dkim-signature canonical header data");
  const [rsa, ed] = keys;

  const rsaAlg = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
  const rsaPrivate = await crypto.subtle.importKey(
    "pkcs8",
    pemBody(rsa.privateKey),
    rsaAlg,
    false,
    [
      "sign",
    ],
  );
  const rsaPublic = await crypto.subtle.importKey(
    "spki",
    fromBase64(rsa.publicKey),
    rsaAlg,
    false,
    [
      "verify",
    ],
  );
  const rsaSignature = await crypto.subtle.sign(rsaAlg, rsaPrivate, data);
  assert(await crypto.subtle.verify(rsaAlg, rsaPublic, rsaSignature, data));
  assertEquals((rsaPublic.algorithm as RsaHashedKeyAlgorithm).modulusLength, 2048);

  const edPrivate = await crypto.subtle.importKey(
    "pkcs8",
    pemBody(ed.privateKey),
    "Ed25519",
    false,
    [
      "sign",
    ],
  );
  assertEquals(fromBase64(ed.publicKey).length, 32); // RFC 8463: the raw key, not an SPKI
  const edPublic = await crypto.subtle.importKey(
    "raw",
    fromBase64(ed.publicKey),
    "Ed25519",
    false,
    [
      "verify",
    ],
  );
  const edSignature = await crypto.subtle.sign("Ed25519", edPrivate, data);
  assert(await crypto.subtle.verify("Ed25519", edPublic, edSignature, data));
  assertMatch(dkimRecord(ed), /^v=DKIM1; k=ed25519; h=sha256; p=[A-Za-z0-9+/]{43}=$/);
  assertMatch(dkimRecord(rsa), /^v=DKIM1; k=rsa; h=sha256; p=MIIBIjAN/);
});

Deno.test("TXT values are split into quoted strings of at most 255 octets", () => {
  assertEquals(txtStrings("v=spf1 mx -all"), '"v=spf1 mx -all"');
  const long = "a".repeat(300);
  assertEquals(txtStrings(long), `"${"a".repeat(255)}" "${"a".repeat(45)}"`);
  assertEquals(txtStrings('say "hi"'), '"say \\"hi\\""');
});

Deno.test("domain records name every record a mail domain needs", async () => {
  const dkim = await generateDkimKeys(new Date(Date.UTC(2026, 0, 5)));
  const clients = clientDnsRecords("example.org", configWith("mail.example.org"));
  const lines = domainRecords({
    domain: "example.org",
    hostname: "mail.example.org",
    dkim,
    clients,
  })
    .filter((l) => l && !l.startsWith(";"));
  const byType = (type: string) => lines.filter((l) => l.split("\t")[3] === type);
  assertEquals(byType("MX"), ["example.org.\t3600\tIN\tMX\t10 mail.example.org."]);
  assertEquals(byType("TXT").map((l) => l.split("\t")[0]), [
    "example.org.",
    "rsa-202601._domainkey.example.org.",
    "ed-202601._domainkey.example.org.",
    "_dmarc.example.org.",
    "_caldavs._tcp.example.org.",
    "_carddavs._tcp.example.org.",
    "_mta-sts.example.org.",
  ]);
  // The client records follow the listeners (the defaults here): one line per record.
  assertEquals(byType("SRV").length, 8);
  assert(
    lines.includes("_submissions._tcp.example.org.\t3600\tIN\tSRV\t0 1 465 mail.example.org."),
  );
  assert(lines.includes("_imaps._tcp.example.org.\t3600\tIN\tSRV\t0 1 993 mail.example.org."));
  assertEquals(byType("CNAME").map((l) => l.split("\t")[0]), [
    "mta-sts.example.org.",
    "autoconfig.example.org.",
    "autodiscover.example.org.",
  ]);
});
