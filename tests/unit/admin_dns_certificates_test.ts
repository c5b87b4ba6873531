/**
 * The DNS page's certificate check (src/admin/dns_check.ts checkCertificates): which of the
 * names clients reach over TLS the certificates served cover, and how.
 */
import { assertEquals } from "../helpers/assert.ts";
import { checkCertificates } from "../../src/admin/dns_check.ts";
import { parseConfigText } from "../../src/config/load.ts";
import type { CertificateDescription } from "../../src/tls/certificates.ts";

const NOT_AFTER = new Date("2027-03-01T00:00:00Z");

function certificate(names: string[], selfSigned: boolean): CertificateDescription {
  return { subject: `CN=${names[0]}`, names, notAfter: NOT_AFTER, selfSigned };
}

Deno.test("certificate check: covered, self-signed, not covered; wildcards match one label", () => {
  const config = parseConfigText('[server]\nhostname = "Mail.Example.com"\n', "x.toml");
  const checks = checkCertificates("example.com", config, [
    certificate(["mail.example.com", "mta-sts.example.com"], false),
    certificate(["*.example.com"], true),
  ]);
  assertEquals(
    checks.map((c) => [c.name, c.status, c.notAfter]),
    [
      ["mail.example.com", "covered", NOT_AFTER],
      ["mta-sts.example.com", "covered", NOT_AFTER],
      ["autodiscover.example.com", "self-signed", NOT_AFTER],
      ["autoconfig.example.com", "self-signed", NOT_AFTER],
    ],
  );
  const other = checkCertificates("example.org", config, [certificate(["*.example.com"], false)]);
  assertEquals(other.map((c) => [c.name, c.status, c.notAfter]), [
    ["mail.example.com", "covered", NOT_AFTER],
    ["mta-sts.example.org", "not covered", null],
    ["autodiscover.example.org", "not covered", null],
    ["autoconfig.example.org", "not covered", null],
  ]);
});

Deno.test("certificate check: without MTA-STS there is no mta-sts name to cover", () => {
  const config = parseConfigText('[mta_sts]\nmode = "none"\n', "x.toml");
  const names = checkCertificates("example.com", config, []).map((c) => c.name);
  assertEquals(names.includes("mta-sts.example.com"), false);
  assertEquals(names.length, 3);
});
