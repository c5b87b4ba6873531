/**
 * Client autoconfiguration against the real server over real sockets: Thunderbird autoconfig,
 * Outlook POX Autodiscover and its JSON front door, the Apple profile download (with its
 * authentication rules) and the MTA-STS policy, which the project's own RFC 8461 client then
 * discovers through DNS and fetches over verified TLS.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../helpers/assert.ts";
import { cli, startServer, type TestServer, withServer } from "../helpers/server.ts";
import { startDnsServer } from "../helpers/dns_server.ts";
import { createTestCa, issueCertificate } from "../helpers/https_server.ts";
import { parseXml, type XmlElement } from "../../src/dav/xml.ts";
import { loadConfig } from "../../src/config/load.ts";
import { clientDnsRecords } from "../../src/http/client_records.ts";
import { MemoryPolicyCache, MtaSts } from "../../src/smtp/mta_sts.ts";
import { Resolver } from "../../src/dns/resolver.ts";
import { configureLogging } from "../../src/observability/log.ts";

const LIMITS = { maxBytes: 1 << 20, maxDepth: 64, maxElements: 10_000 };
const OUTLOOK_REQUEST_NS =
  "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006";
const OUTLOOK_RESPONSE_NS =
  "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a";

/** Ports free right now, for listeners whose configured port the answers must name. */
function freePorts(count: number): number[] {
  const listeners = Array.from(
    { length: count },
    () => Deno.listen({ hostname: "127.0.0.1", port: 0 }),
  );
  const ports = listeners.map((l) => (l.addr as Deno.NetAddr).port);
  for (const listener of listeners) listener.close();
  return ports;
}

function kids(element: XmlElement, name: string): XmlElement[] {
  return element.children.filter((c) => c.name === name);
}

function fields(element: XmlElement): Record<string, string> {
  return Object.fromEntries(element.children.map((c) => [c.name, c.text]));
}

interface RawAnswer {
  status: number;
  headers: Map<string, string>;
  body: string;
}

/** One HTTP/1.1 request written by hand, so the Host header is ours to choose. */
async function rawGet(conn: Deno.Conn, host: string, path: string): Promise<RawAnswer> {
  const request = `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`;
  await conn.write(new TextEncoder().encode(request));
  const chunks: Uint8Array<ArrayBuffer>[] = [];
  const buffer = new Uint8Array(16 * 1024);
  while (true) {
    const n = await conn.read(buffer);
    if (n === null) break;
    chunks.push(buffer.slice(0, n));
  }
  conn.close();
  const text = await new Blob(chunks).text();
  const end = text.indexOf("\r\n\r\n");
  const [statusLine, ...headerLines] = text.slice(0, end).split("\r\n");
  const headers = new Map(
    headerLines.map((line) => {
      const colon = line.indexOf(":");
      return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
    }),
  );
  let body = text.slice(end + 4);
  if (headers.get("transfer-encoding") === "chunked") {
    let decoded = "";
    while (true) {
      const lineEnd = body.indexOf("\r\n");
      const size = parseInt(body.slice(0, lineEnd), 16);
      if (!size) break;
      decoded += body.slice(lineEnd + 2, lineEnd + 2 + size);
      body = body.slice(lineEnd + 2 + size + 2);
    }
    body = decoded;
  }
  return { status: Number(statusLine.split(" ")[1]), headers, body };
}

const plainGet = (server: TestServer, host: string, path: string) =>
  Deno.connect({ hostname: "127.0.0.1", port: server.ports.http }).then((conn) =>
    rawGet(conn, host, path)
  );

Deno.test("thunderbird autoconfig and Outlook autodiscover answer with the configured ports", async () => {
  const [imaps, imap, submissions, submission, https] = freePorts(5);
  await withServer(async (server) => {
    const added = await cli(server.configPath, ["domain", "add", "example.org"]);
    assertEquals(added.code, 0, added.stderr);
    const base = `http://127.0.0.1:${server.ports.http}`;

    // Thunderbird asks both URLs with ?emailaddress=.
    for (const path of ["/mail/config-v1.1.xml", "/.well-known/autoconfig/mail/config-v1.1.xml"]) {
      const response = await fetch(`${base}${path}?emailaddress=carol%40example.org`);
      assertEquals(response.status, 200, path);
      assertEquals(response.headers.get("content-type"), "application/xml; charset=utf-8");
      const root = parseXml(await response.text(), LIMITS);
      assertEquals([root.name, root.attributes.get("version")], ["clientConfig", "1.1"]);
      const provider = kids(root, "emailProvider")[0];
      assertEquals(provider.attributes.get("id"), "example.org");
      assertEquals(kids(provider, "domain").map((d) => d.text), ["example.org", "example.com"]);
      assertEquals(
        kids(provider, "incomingServer").map((s) => [s.attributes.get("type"), fields(s)]),
        [
          ["imap", {
            hostname: "mail.example.com",
            port: String(imaps),
            socketType: "SSL",
            username: "%EMAILADDRESS%",
            authentication: "password-cleartext",
          }],
          ["imap", {
            hostname: "mail.example.com",
            port: String(imap),
            socketType: "STARTTLS",
            username: "%EMAILADDRESS%",
            authentication: "password-cleartext",
          }],
        ],
        "pop3 is off and not offered",
      );
      assertEquals(
        kids(provider, "outgoingServer").map((s) => [fields(s).port, fields(s).socketType]),
        [[String(submissions), "SSL"], [String(submission), "STARTTLS"]],
      );
    }
    // A domain that is not ours, or no domain at all: nothing to say.
    for (
      const query of ["?emailaddress=eve@example.net", "?emailaddress=nobody", "?emailaddress="]
    ) {
      const response = await fetch(`${base}/mail/config-v1.1.xml${query}`);
      await response.body?.cancel();
      assertEquals(response.status, 404, query);
    }
    // autoconfig.<domain> without an address names the domain by its Host.
    const byHost = await plainGet(server, "autoconfig.example.com", "/mail/config-v1.1.xml");
    assertEquals(byHost.status, 200);
    assertStringIncludes(byHost.body, '<emailProvider id="example.com">');

    // Outlook POSTs its request; both spellings of the path.
    for (const path of ["/autodiscover/autodiscover.xml", "/Autodiscover/Autodiscover.xml"]) {
      const response = await fetch(`${base}${path}`, {
        method: "POST",
        headers: { "content-type": "text/xml" },
        body: `<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="${OUTLOOK_REQUEST_NS}">` +
          `<Request><EMailAddress>admin@example.com</EMailAddress><AcceptableResponseSchema>` +
          `${OUTLOOK_RESPONSE_NS}</AcceptableResponseSchema></Request></Autodiscover>`,
      });
      assertEquals(response.status, 200, path);
      assertEquals(response.headers.get("content-type"), "text/xml; charset=utf-8");
      const root = parseXml(await response.text(), LIMITS);
      const account = kids(kids(root, "Response")[0], "Account")[0];
      assertEquals(kids(root, "Response")[0].ns, OUTLOOK_RESPONSE_NS);
      assertEquals(
        kids(account, "Protocol").map((p) => {
          const f = fields(p);
          return [
            f.Type,
            f.Server,
            f.Port,
            f.SSL,
            f.Encryption,
            f.LoginName,
            f.SPA,
            f.AuthRequired,
          ];
        }),
        [
          [
            "IMAP",
            "mail.example.com",
            String(imaps),
            "on",
            undefined,
            "admin@example.com",
            "off",
            "on",
          ],
          ["IMAP", "mail.example.com", String(imap), "on", "TLS", "admin@example.com", "off", "on"],
          [
            "SMTP",
            "mail.example.com",
            String(submissions),
            "on",
            undefined,
            "admin@example.com",
            "off",
            "on",
          ],
          [
            "SMTP",
            "mail.example.com",
            String(submission),
            "on",
            "TLS",
            "admin@example.com",
            "off",
            "on",
          ],
        ],
      );
    }
    const errorCode = async (response: Response) => {
      const root = parseXml(await response.text(), LIMITS);
      return kids(kids(kids(root, "Response")[0], "Error")[0], "ErrorCode")[0].text;
    };
    const post = (body: BodyInit) =>
      fetch(`${base}/autodiscover/autodiscover.xml`, { method: "POST", body });
    // Unknown domain: an Autodiscover error, not an HTTP one.
    let response = await post(
      `<Autodiscover xmlns="${OUTLOOK_REQUEST_NS}"><Request><EMailAddress>eve@example.net` +
        `</EMailAddress></Request></Autodiscover>`,
    );
    assertEquals([response.status, await errorCode(response)], [200, "500"]);
    // Malformed and hostile bodies: 400 with an error document, never a 500.
    for (
      const body of [
        "<Autodiscover><Request>",
        '<!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/passwd">]><Autodiscover/>',
        "\u00ff\u00fe garbage",
      ]
    ) {
      response = await post(body);
      assertEquals([response.status, await errorCode(response)], [400, "600"], body);
    }
    response = await post(new Uint8Array(64 * 1024).fill(0x20));
    assertEquals([response.status, await errorCode(response)], [413, "600"]);
    // GET with an address answers too; without one it is an invalid request.
    response = await fetch(`${base}/autodiscover/autodiscover.xml?EmailAddress=admin@example.com`);
    assertStringIncludes(await response.text(), "<LoginName>admin@example.com</LoginName>");
    response = await fetch(`${base}/autodiscover/autodiscover.xml`);
    assertEquals([response.status, await errorCode(response)], [200, "600"]);
    // An address with no account gets the same answer as one with: nothing to enumerate.
    const settingsFor = async (address: string) => {
      const answer = await fetch(`${base}/autodiscover/autodiscover.xml?EmailAddress=${address}`);
      return (await answer.text()).replaceAll(address, "ADDRESS");
    };
    assertEquals(
      await settingsFor("nobody@example.com"),
      await settingsFor("admin@example.com"),
    );

    // Autodiscover JSON v2.
    const expected = {
      Protocol: "AutodiscoverV1",
      Url: `https://mail.example.com:${https}/autodiscover/autodiscover.xml`,
    };
    response = await fetch(
      `${base}/autodiscover/autodiscover.json?Email=carol@example.org&Protocol=AutodiscoverV1`,
    );
    assertEquals([response.status, await response.json()], [200, expected]);
    response = await fetch(
      `${base}/autodiscover/autodiscover.json/v1.0/carol%40example.org?Protocol=AutodiscoverV1`,
    );
    assertEquals([response.status, await response.json()], [200, expected]);
    response = await fetch(
      `${base}/autodiscover/autodiscover.json/v1.0/carol@example.org?Protocol=ActiveSync`,
    );
    assertEquals(response.status, 404);
    assertEquals((await response.json()).ErrorCode, "ProtocolNotSupported");
    response = await fetch(
      `${base}/autodiscover/autodiscover.json?Email=eve@example.net&Protocol=AutodiscoverV1`,
    );
    assertEquals(response.status, 404);
    assertEquals((await response.json()).ErrorCode, "UserNotFound");
  }, {
    listeners: {
      imaps: `127.0.0.1:${imaps}`,
      imap: `127.0.0.1:${imap}`,
      submissions: `127.0.0.1:${submissions}`,
      submission: `127.0.0.1:${submission}`,
      https: `127.0.0.1:${https}`,
      pop3: "",
      pop3s: "",
    },
  });
});

/** A plist as JSON through Python's plistlib (expat underneath): what a real plist reader sees. */
async function plistlib(text: string): Promise<Record<string, unknown>> {
  const child = new Deno.Command("/usr/bin/python3", {
    args: [
      "-c",
      "import sys, json, plistlib; print(json.dumps(plistlib.loads(sys.stdin.buffer.read())))",
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const output = await child.output();
  assertEquals(output.code, 0, new TextDecoder().decode(output.stderr));
  return JSON.parse(new TextDecoder().decode(output.stdout));
}

Deno.test("mobileconfig: only the account itself downloads its profile", async () => {
  await withServer(async (server) => {
    for (
      const [address, password] of [["alice@example.com", "alice-pw-1"], [
        "bob@example.com",
        "bob-pw-2",
      ]]
    ) {
      const added = await cli(server.configPath, [
        "account",
        "add",
        address,
        "--password",
        password,
      ]);
      assertEquals(added.code, 0, added.stderr);
    }
    const url = `http://127.0.0.1:${server.ports.http}/mobileconfig?email=alice%40example.com`;
    const basic = (login: string, password: string) => ({
      authorization: `Basic ${btoa(`${login}:${password}`)}`,
    });

    let response = await fetch(url);
    await response.body?.cancel();
    assertEquals(response.status, 401);
    assertMatch(response.headers.get("www-authenticate") ?? "", /^Basic realm="Postern"/);
    response = await fetch(url, { headers: basic("alice@example.com", "wrong") });
    await response.body?.cancel();
    assertEquals(response.status, 401);
    response = await fetch(url, { headers: basic("bob@example.com", "bob-pw-2") });
    await response.body?.cancel();
    assertEquals(response.status, 403, "bob may not fetch alice's profile");

    response = await fetch(url, { headers: basic("alice@example.com", "alice-pw-1") });
    assertEquals(response.status, 200);
    assertEquals(response.headers.get("content-type"), "application/x-apple-aspen-config");
    assertEquals(
      response.headers.get("content-disposition"),
      'attachment; filename="alice@example.com.mobileconfig"',
    );
    const text = await response.text();
    const profile = await plistlib(text);
    assertEquals(profile.PayloadType, "Configuration");
    const payloads = profile.PayloadContent as Record<string, unknown>[];
    assertEquals(payloads.map((p) => p.PayloadType), [
      "com.apple.mail.managed",
      "com.apple.caldav.account",
      "com.apple.carddav.account",
    ]);
    assertEquals(payloads[0].EmailAddress, "alice@example.com");
    assertEquals(payloads[0].IncomingMailServerHostName, "mail.example.com");
    assertEquals(payloads[0].IncomingMailServerUseSSL, true);
    assertEquals(payloads[0].IncomingMailServerUsername, "alice@example.com");
    assertEquals(payloads[1].CalDAVPrincipalURL, "/dav/principals/alice@example.com/");
    assertEquals(payloads[2].CardDAVUsername, "alice@example.com");
    assert(!text.includes("alice-pw-1"), "the password is never in the profile");

    // The principal URL in the profile is the one the DAV server answers for alice.
    const principal = await fetch(
      `http://127.0.0.1:${server.ports.http}${payloads[1].CalDAVPrincipalURL}`,
      { method: "PROPFIND", headers: { ...basic("alice@example.com", "alice-pw-1"), depth: "0" } },
    );
    await principal.body?.cancel();
    assertEquals(principal.status, 207);

    // Over HTTPS, without ?email=, the profile is the logged-in account's; the same UUIDs.
    const ca = await Deno.readTextFile(`${server.dir}/data/tls/self-signed.crt`);
    const client = Deno.createHttpClient({ caCerts: [ca] });
    try {
      response = await fetch(`https://localhost:${server.ports.https}/mobileconfig`, {
        client,
        headers: basic("alice@example.com", "alice-pw-1"),
      });
      assertEquals(response.status, 200);
      const again = await plistlib(await response.text());
      assertEquals(again.PayloadUUID, profile.PayloadUUID);
      assertEquals(
        (again.PayloadContent as Record<string, unknown>[]).map((p) => p.PayloadUUID),
        payloads.map((p) => p.PayloadUUID),
      );
    } finally {
      client.close();
    }
  });
});

Deno.test("mta-sts.txt is served for mta-sts.<domain> and found by an RFC 8461 client", async () => {
  configureLogging({ level: "error", format: "json" });
  const dir = await Deno.makeTempDir({ prefix: "postern-test-" });
  const ca = await createTestCa();
  const leaf = await issueCertificate(ca, ["mail.example.com", "mta-sts.example.com", "localhost"]);
  await Deno.writeTextFile(`${dir}/cert.pem`, leaf.certificatePem);
  await Deno.writeTextFile(`${dir}/key.pem`, leaf.keyPem);
  const dns = await startDnsServer({});
  const server = await startServer({
    dir,
    dns: `${dns.host}:${dns.port}`,
    tls: { certificate: `${dir}/cert.pem`, key: `${dir}/key.pem` },
    extra:
      '[mta_sts]\nmode = "enforce"\nmax_age = "1d"\nmx = ["mail.example.com", "*.example.net"]',
  });
  try {
    const policy = "version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.example.net\n" +
      "max_age: 86400\n";
    for (const host of ["mta-sts.example.com", "MTA-STS.Example.COM.", "mail.example.com"]) {
      const answer = await plainGet(server, host, "/.well-known/mta-sts.txt");
      assertEquals(answer.status, 200, host);
      assertEquals(answer.headers.get("content-type"), "text/plain; charset=utf-8");
      assertEquals(answer.body, policy);
    }
    for (const host of ["mta-sts.example.net", "127.0.0.1", "example.com", "mta-sts."]) {
      assertEquals((await plainGet(server, host, "/.well-known/mta-sts.txt")).status, 404, host);
    }
    const tlsConn = await Deno.connectTls({
      hostname: "localhost",
      port: server.ports.https,
      caCerts: [ca.certificatePem],
    });
    const overTls = await rawGet(tlsConn, "mta-sts.example.com", "/.well-known/mta-sts.txt");
    assertEquals([overTls.status, overTls.body], [200, policy]);

    // Publish what clientDnsRecords says; the project's MTA-STS client must then find the policy.
    const { config } = await loadConfig(server.configPath, { env: {} });
    const records = clientDnsRecords("example.com", config);
    const txt = records.find((r) => r.type === "TXT" && r.name === "_mta-sts.example.com");
    assert(txt);
    dns.setZone({
      "_mta-sts.example.com": { TXT: [txt.value] },
      "mta-sts.example.com": { A: ["127.0.0.1"] },
    });
    const sts = new MtaSts({
      resolver: new Resolver({ nameServer: { ipAddr: dns.host, port: dns.port } }),
      cache: new MemoryPolicyCache(),
      ca: [ca.certificatePem],
      httpsPort: server.ports.https,
    });
    const found = await sts.policyFor("example.com");
    assert(found, "the policy is discovered");
    assertEquals(
      [found.id, found.mode, found.mx, found.maxAge],
      [txt.value.split("id=")[1], "enforce", ["mail.example.com", "*.example.net"], 86400],
    );
  } finally {
    await server.stop();
    await dns.close();
    await Deno.remove(dir, { recursive: true });
  }
});
