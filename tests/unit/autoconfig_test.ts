/**
 * Client autoconfiguration documents as clients read them: the Thunderbird clientConfig, the
 * Outlook POX Autodiscover request and response, the Autodiscover JSON answer, the Apple
 * configuration profile (a plist), the MTA-STS policy and the DNS records a domain publishes.
 * Every XML answer is parsed back with the strict parser and checked field by field.
 */
import { assert, assertEquals, assertMatch, assertNotEquals } from "../helpers/assert.ts";
import { type Config, configSchema } from "../../src/config/schema.ts";
import { parseXml, type XmlElement } from "../../src/dav/xml.ts";
import { clientEndpoints } from "../../src/http/client_endpoints.ts";
import {
  AUTODISCOVER_RESPONSE_NS,
  autodiscoverError,
  autodiscoverJson,
  autodiscoverSettings,
  OUTLOOK_RESPONSE_NS,
  parsePoxRequest,
  thunderbirdConfig,
} from "../../src/http/autoconfig.ts";
import { mobileconfig, payloadUuid, plist } from "../../src/http/mobileconfig.ts";
import { mtaStsPolicy, mtaStsPolicyId } from "../../src/http/mta_sts.ts";
import { clientDnsRecords, type ClientRecord } from "../../src/http/client_records.ts";
import { parsePolicy, parseStsRecord } from "../../src/smtp/mta_sts.ts";

const LIMITS = { maxBytes: 1 << 20, maxDepth: 64, maxElements: 10_000 };

function config(input: Record<string, unknown> = {}): Config {
  return configSchema.parse({ server: { hostname: "mail.example.com" }, ...input });
}

function kids(element: XmlElement, name: string): XmlElement[] {
  return element.children.filter((c) => c.name === name);
}

function only(element: XmlElement, name: string): XmlElement {
  const found = kids(element, name);
  assertEquals(found.length, 1, `one <${name}> in <${element.name}>`);
  return found[0];
}

/** An element's children as name → text (for flat records like <incomingServer>). */
function fields(element: XmlElement): Record<string, string> {
  return Object.fromEntries(element.children.map((c) => [c.name, c.text]));
}

// ---- Thunderbird ----

Deno.test("thunderbird: clientConfig 1.1 lists every configured service with its port", () => {
  const xml = thunderbirdConfig(
    "example.com",
    ["example.com", "example.org"],
    clientEndpoints(config()),
  );
  assert(xml.startsWith('<?xml version="1.0" encoding="utf-8"?>'));
  const root = parseXml(xml, LIMITS);
  assertEquals(root.ns, "");
  assertEquals(root.name, "clientConfig");
  assertEquals(root.attributes.get("version"), "1.1");
  const provider = only(root, "emailProvider");
  assertEquals(provider.attributes.get("id"), "example.com");
  assertEquals(kids(provider, "domain").map((d) => d.text), ["example.com", "example.org"]);
  assertEquals(only(provider, "displayName").text, "example.com mail (mail.example.com)");
  assertEquals(only(provider, "displayShortName").text, "example.com");
  const login = { username: "%EMAILADDRESS%", authentication: "password-cleartext" };
  const host = { hostname: "mail.example.com" };
  assertEquals(
    kids(provider, "incomingServer").map((s) => ({ type: s.attributes.get("type"), ...fields(s) })),
    [
      { type: "imap", ...host, port: "993", socketType: "SSL", ...login },
      { type: "imap", ...host, port: "143", socketType: "STARTTLS", ...login },
      { type: "pop3", ...host, port: "995", socketType: "SSL", ...login },
      { type: "pop3", ...host, port: "110", socketType: "STARTTLS", ...login },
    ],
  );
  assertEquals(
    kids(provider, "outgoingServer").map((s) => ({ type: s.attributes.get("type"), ...fields(s) })),
    [
      { type: "smtp", ...host, port: "465", socketType: "SSL", ...login },
      { type: "smtp", ...host, port: "587", socketType: "STARTTLS", ...login },
    ],
  );
  const davLogin = { username: "%EMAILADDRESS%", authentication: "http-basic" };
  assertEquals(
    {
      type: only(root, "addressBook").attributes.get("type"),
      ...fields(only(root, "addressBook")),
    },
    {
      type: "carddav",
      ...davLogin,
      serverURL: "https://mail.example.com/.well-known/carddav",
    },
  );
  assertEquals(fields(only(root, "calendar")), {
    ...davLogin,
    serverURL: "https://mail.example.com/.well-known/caldav",
  });
});

Deno.test("thunderbird: listeners that are off are not advertised; other ports are", () => {
  const xml = thunderbirdConfig(
    "example.org",
    ["example.com", "example.org"],
    clientEndpoints(config({
      listeners: {
        imap: "",
        pop3: "",
        pop3s: "",
        submission: "",
        imaps: "[::]:10993",
        submissions: "0.0.0.0:10465",
        https: "0.0.0.0:8443",
      },
    })),
  );
  const provider = only(parseXml(xml, LIMITS), "emailProvider");
  // The asked-for domain comes first.
  assertEquals(kids(provider, "domain").map((d) => d.text), ["example.org", "example.com"]);
  assertEquals(kids(provider, "incomingServer").map((s) => fields(s).port), ["10993"]);
  assertEquals(kids(provider, "outgoingServer").map((s) => fields(s).port), ["10465"]);
  assertEquals(
    fields(only(parseXml(xml, LIMITS), "calendar")).serverURL,
    "https://mail.example.com:8443/.well-known/caldav",
  );
  const noHttps = thunderbirdConfig(
    "example.org",
    [],
    clientEndpoints(config({ listeners: { https: "" } })),
  );
  assertEquals(kids(parseXml(noHttps, LIMITS), "calendar"), []);
});

// ---- Outlook POX ----

const request = (address: string, schema = OUTLOOK_RESPONSE_NS) =>
  new TextEncoder().encode(
    `<?xml version="1.0" encoding="utf-8"?>\r\n<Autodiscover xmlns=` +
      `"http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">` +
      `<Request><EMailAddress>${address}</EMailAddress>` +
      `<AcceptableResponseSchema>${schema}</AcceptableResponseSchema></Request></Autodiscover>`,
  );

Deno.test("autodiscover: the Outlook request is read for its address and schema", () => {
  assertEquals(parsePoxRequest(request("alice@example.com")), {
    ok: true,
    address: "alice@example.com",
    schema: OUTLOOK_RESPONSE_NS,
  });
  // Namespace-less and prefixed requests (other clients) are read the same way.
  assertEquals(
    parsePoxRequest(
      new TextEncoder().encode(
        "<a:Autodiscover xmlns:a='urn:x'><a:Request><a:EMailAddress> bob@example.com " +
          "</a:EMailAddress></a:Request></a:Autodiscover>",
      ),
    ),
    { ok: true, address: "bob@example.com", schema: null },
  );
  assertEquals(
    parsePoxRequest(new TextEncoder().encode("<Autodiscover><Request/></Autodiscover>")),
    { ok: true, address: "", schema: null },
  );
});

Deno.test("autodiscover: malformed, hostile and oversize bodies are refused as values", () => {
  const bad = { ok: false, status: 400, error: "invalidRequest" };
  const encode = (text: string) => new TextEncoder().encode(text);
  assertEquals(parsePoxRequest(encode("")), bad);
  assertEquals(parsePoxRequest(encode("<Autodiscover><Request>")), bad);
  assertEquals(parsePoxRequest(encode("not xml at all")), bad);
  assertEquals(parsePoxRequest(encode("<Other><Request/></Other>")), bad);
  assertEquals(parsePoxRequest(encode("<Autodiscover/>")), bad);
  assertEquals(parsePoxRequest(new Uint8Array([0x3c, 0x61, 0xff, 0x3e])), bad); // not UTF-8
  // A DTD (entity expansion, external entities) is never read.
  assertEquals(
    parsePoxRequest(encode(
      '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "xxxxxxxx"><!ENTITY y "&x;&x;&x;&x;">]>' +
        "<Autodiscover><Request><EMailAddress>&y;</EMailAddress></Request></Autodiscover>",
    )),
    bad,
  );
  assertEquals(
    parsePoxRequest(encode(
      '<!DOCTYPE a SYSTEM "file:///etc/passwd"><Autodiscover><Request/></Autodiscover>',
    )),
    bad,
  );
  // Deep nesting and many elements stop at the caps.
  assertEquals(parsePoxRequest(encode(`${"<a>".repeat(100)}${"</a>".repeat(100)}`)), bad);
  assertEquals(
    parsePoxRequest(encode(`<Autodiscover>${"<x/>".repeat(500)}</Autodiscover>`)),
    bad,
  );
  assertEquals(parsePoxRequest(new Uint8Array(16 * 1024 + 1).fill(0x20)), {
    ok: false,
    status: 413,
    error: "invalidRequest",
  });
});

Deno.test("autodiscover: mutated requests always give an answer, never a throw", () => {
  // A small deterministic generator (xorshift32): the same mutations on every run.
  let state = 0x9e3779b9;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
  const seed = request("alice@example.com");
  const alphabet = new TextEncoder().encode("<>/&;#x\"'=!?[]-: \r\naZ\u00e9");
  for (let round = 0; round < 3000; round++) {
    const bytes = Array.from(seed);
    for (let edits = 1 + Math.floor(next() * 8); edits > 0; edits--) {
      const at = Math.floor(next() * (bytes.length + 1));
      const choice = next();
      const byte = next() < 0.7
        ? alphabet[Math.floor(next() * alphabet.length)]
        : Math.floor(next() * 256);
      if (choice < 0.4) bytes.splice(at, 1);
      else if (choice < 0.8) bytes.splice(at, 0, byte);
      else bytes.splice(at, 0, ...bytes.slice(at, at + Math.floor(next() * 64)));
    }
    const result = parsePoxRequest(new Uint8Array(bytes));
    assert(
      result.ok ? typeof result.address === "string" : [400, 413].includes(result.status),
      JSON.stringify(result),
    );
  }
});

Deno.test("autodiscover: the outlook response schema carries IMAP and SMTP settings", () => {
  const xml = autodiscoverSettings(
    "Alice@example.com",
    'Alice <& "Co"',
    clientEndpoints(config()),
  );
  const root = parseXml(xml, LIMITS);
  assertEquals([root.ns, root.name], [AUTODISCOVER_RESPONSE_NS, "Autodiscover"]);
  const response = only(root, "Response");
  assertEquals(response.ns, OUTLOOK_RESPONSE_NS);
  assertEquals(only(only(response, "User"), "DisplayName").text, 'Alice <& "Co"');
  const account = only(response, "Account");
  assert(account.children.every((c) => c.ns === OUTLOOK_RESPONSE_NS));
  assertEquals(only(account, "AccountType").text, "email");
  assertEquals(only(account, "Action").text, "settings");
  const common = {
    Server: "mail.example.com",
    DomainRequired: "off",
    LoginName: "Alice@example.com",
    SPA: "off",
    SSL: "on",
    AuthRequired: "on",
  };
  const smtp = { UsePOPAuth: "on", SMTPLast: "off" };
  assertEquals(kids(account, "Protocol").map(fields), [
    { Type: "IMAP", Port: "993", ...common },
    { Type: "IMAP", Port: "143", ...common, Encryption: "TLS" },
    { Type: "SMTP", Port: "465", ...common, ...smtp },
    { Type: "SMTP", Port: "587", ...common, Encryption: "TLS", ...smtp },
  ]);
  // Element order inside <Protocol> follows the schema: Type first.
  assertEquals(kids(account, "Protocol")[0].children[0].name, "Type");
});

Deno.test("autodiscover: errors are Autodiscover Error documents with the right code", () => {
  for (
    const [error, code] of [
      ["notFound", "500"],
      ["badAddress", "501"],
      ["invalidRequest", "600"],
      ["noProvider", "601"],
    ] as const
  ) {
    const root = parseXml(autodiscoverError(error), LIMITS);
    assertEquals([root.ns, root.name], [AUTODISCOVER_RESPONSE_NS, "Autodiscover"]);
    const failure = only(only(root, "Response"), "Error");
    assertEquals(only(failure, "ErrorCode").text, code);
    assert(only(failure, "Message").text.length > 0);
    assertMatch(failure.attributes.get("Time") ?? "", /^\d\d:\d\d:\d\d\.\d{3}$/);
    assertMatch(failure.attributes.get("Id") ?? "", /^\d+$/);
  }
});

Deno.test("autodiscover json: AutodiscoverV1 points at the POX endpoint over HTTPS", () => {
  assertEquals(autodiscoverJson(clientEndpoints(config())), {
    Protocol: "AutodiscoverV1",
    Url: "https://mail.example.com/autodiscover/autodiscover.xml",
  });
  assertEquals(
    autodiscoverJson(clientEndpoints(config({ listeners: { https: "0.0.0.0:8443" } }))).Url,
    "https://mail.example.com:8443/autodiscover/autodiscover.xml",
  );
});

// ---- Apple profile ----

const PROLOG = '<?xml version="1.0" encoding="utf-8"?>\n' +
  '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" ' +
  '"http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n';

type Plist = string | number | boolean | Plist[] | { [key: string]: Plist };

/** Reads a plist back into values, checking the structure (key/value pairs in every dict). */
function readPlist(text: string): Plist {
  assert(text.startsWith(PROLOG), "XML declaration and the Apple plist DOCTYPE");
  const root = parseXml(text.slice(PROLOG.length), LIMITS);
  assertEquals(root.name, "plist");
  assertEquals(root.attributes.get("version"), "1.0");
  assertEquals(root.children.length, 1);
  const value = (element: XmlElement): Plist => {
    switch (element.name) {
      case "string":
        assertEquals(element.children, []);
        return element.text;
      case "integer":
        assertMatch(element.text, /^-?\d+$/);
        return Number(element.text);
      case "true":
      case "false":
        assertEquals([element.children, element.text], [[], ""]);
        return element.name === "true";
      case "array":
        return element.children.map(value);
      case "dict": {
        const out: Record<string, Plist> = {};
        assertEquals(element.children.length % 2, 0, "dict holds key/value pairs");
        for (let i = 0; i < element.children.length; i += 2) {
          assertEquals(element.children[i].name, "key");
          const key = element.children[i].text;
          assert(!(key in out), `key ${key} once`);
          out[key] = value(element.children[i + 1]);
        }
        return out;
      }
    }
    throw new Error(`unexpected plist element <${element.name}>`);
  };
  return value(root.children[0]);
}

const UUID = /^[0-9A-F]{8}-[0-9A-F]{4}-8[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$/;

Deno.test("mobileconfig: a well-formed plist with mail, CalDAV and CardDAV payloads", () => {
  const text = mobileconfig(
    {
      address: "alice@example.com",
      displayName: "Alice <Ops> & Co\u0007",
      principalPath: "/dav/principals/alice@example.com/",
    },
    clientEndpoints(config()),
  );
  const profile = readPlist(text) as Record<string, Plist>;
  assertEquals(profile.PayloadType, "Configuration");
  assertEquals(profile.PayloadVersion, 1);
  assertEquals(profile.PayloadRemovalDisallowed, false);
  assertMatch(profile.PayloadUUID as string, UUID);
  assertMatch(profile.PayloadIdentifier as string, /^com\.example\.mail\.postern\./);
  const payloads = profile.PayloadContent as Record<string, Plist>[];
  assertEquals(payloads.map((p) => p.PayloadType), [
    "com.apple.mail.managed",
    "com.apple.caldav.account",
    "com.apple.carddav.account",
  ]);
  for (const payload of payloads) {
    assertEquals(payload.PayloadVersion, 1);
    assertMatch(payload.PayloadUUID as string, UUID);
    assert((payload.PayloadIdentifier as string).startsWith(`${profile.PayloadIdentifier}.`));
  }
  const uuids = [profile, ...payloads].map((p) => p.PayloadUUID);
  assertEquals(new Set(uuids).size, 4, "every payload has its own UUID");
  const [mail, caldav, carddav] = payloads;
  const { PayloadUUID: _m, PayloadIdentifier: _mi, ...mailFields } = mail;
  assertEquals(mailFields, {
    PayloadType: "com.apple.mail.managed",
    PayloadVersion: 1,
    PayloadDisplayName: "Mail",
    PayloadDescription: "Mail for alice@example.com",
    EmailAccountDescription: "alice@example.com",
    EmailAccountName: "Alice <Ops> & Co",
    EmailAccountType: "EmailTypeIMAP",
    EmailAddress: "alice@example.com",
    IncomingMailServerAuthentication: "EmailAuthPassword",
    IncomingMailServerHostName: "mail.example.com",
    IncomingMailServerPortNumber: 993,
    IncomingMailServerUseSSL: true,
    IncomingMailServerUsername: "alice@example.com",
    OutgoingMailServerAuthentication: "EmailAuthPassword",
    OutgoingMailServerHostName: "mail.example.com",
    OutgoingMailServerPortNumber: 465,
    OutgoingMailServerUseSSL: true,
    OutgoingMailServerUsername: "alice@example.com",
    OutgoingPasswordSameAsIncomingPassword: true,
    PreventMove: false,
    PreventAppSheet: false,
    SMIMEEnabled: false,
    allowMailDrop: true,
  });
  assertEquals(caldav.CalDAVHostName, "mail.example.com");
  assertEquals(caldav.CalDAVPort, 443);
  assertEquals(caldav.CalDAVUseSSL, true);
  assertEquals(caldav.CalDAVUsername, "alice@example.com");
  assertEquals(caldav.CalDAVPrincipalURL, "/dav/principals/alice@example.com/");
  assertEquals(carddav.CardDAVHostName, "mail.example.com");
  assertEquals(carddav.CardDAVPort, 443);
  assertEquals(carddav.CardDAVUseSSL, true);
  assertEquals(carddav.CardDAVUsername, "alice@example.com");
  assertEquals(carddav.CardDAVPrincipalURL, "/dav/principals/alice@example.com/");
  // No password of any kind is stored in the profile.
  assert(!/password<\/key>/i.test(text.replace(/OutgoingPasswordSameAsIncomingPassword/g, "")));
});

Deno.test("mobileconfig: UUIDs are stable per account and differ between accounts", () => {
  const endpoints = clientEndpoints(config());
  const make = (address: string) =>
    readPlist(
      mobileconfig({ address, displayName: "", principalPath: "/p/" }, endpoints),
    ) as Record<
      string,
      Plist
    >;
  const first = make("alice@example.com");
  assertEquals(make("alice@example.com"), first, "a re-download is the same profile");
  assertEquals(make("ALICE@example.com").PayloadUUID, first.PayloadUUID);
  assertNotEquals(make("bob@example.com").PayloadUUID, first.PayloadUUID);
  assertEquals(
    payloadUuid("mail.example.com", "alice@example.com", "caldav"),
    payloadUuid("MAIL.example.com", "alice@example.com", "caldav"),
  );
  assertNotEquals(
    payloadUuid("mail.example.com", "alice@example.com", "caldav"),
    payloadUuid("mail.example.com", "alice@example.com", "carddav"),
  );
  assertNotEquals(
    payloadUuid("mail.example.com", "alice@example.com", "mail"),
    payloadUuid("mx.example.com", "alice@example.com", "mail"),
  );
});

Deno.test("mobileconfig: falls back to STARTTLS ports, drops DAV without https", () => {
  const endpoints = clientEndpoints(
    config({ listeners: { imaps: "", submissions: "", https: "" } }),
  );
  const profile = readPlist(
    mobileconfig({ address: "a@example.com", displayName: "", principalPath: "/p/" }, endpoints),
  ) as Record<string, Plist>;
  const payloads = profile.PayloadContent as Record<string, Plist>[];
  assertEquals(payloads.length, 1);
  assertEquals(payloads[0].IncomingMailServerPortNumber, 143);
  assertEquals(payloads[0].IncomingMailServerUseSSL, false);
  assertEquals(payloads[0].OutgoingMailServerPortNumber, 587);
  assertEquals(payloads[0].OutgoingMailServerUseSSL, false);
});

Deno.test("plist: strings are escaped and keep their text", () => {
  const hostile = "</string><key>x</key><true/>&amp;]]>";
  const back = readPlist(plist({ [hostile]: hostile, list: [1, "two", false] }));
  assertEquals(back, { [hostile]: hostile, list: [1, "two", false] });
});

// ---- MTA-STS ----

Deno.test("mta-sts: the policy parses as RFC 8461 and follows the config", () => {
  const policy = mtaStsPolicy(config());
  assertEquals(policy, "version: STSv1\nmode: testing\nmx: mail.example.com\nmax_age: 604800\n");
  assertEquals(parsePolicy(policy), {
    ok: true,
    policy: { version: "STSv1", mode: "testing", mx: ["mail.example.com"], maxAge: 604800 },
  });
  const enforced = mtaStsPolicy(config({
    mta_sts: { mode: "enforce", max_age: "1d", mx: ["mail.example.com", "*.backup.example.net"] },
  }));
  assertEquals(parsePolicy(enforced), {
    ok: true,
    policy: {
      version: "STSv1",
      mode: "enforce",
      mx: ["mail.example.com", "*.backup.example.net"],
      maxAge: 86400,
    },
  });
  assertEquals(parsePolicy(mtaStsPolicy(config({ mta_sts: { mode: "none" } }))).ok, true);
});

Deno.test("mta-sts: config refuses a max_age over a year and bad MX names", () => {
  for (const mta_sts of [{ max_age: "400d" }, { mx: ["not a host"] }, { mode: "strict" }]) {
    assertEquals(configSchema.safeParse({ mta_sts }).success, false, JSON.stringify(mta_sts));
  }
});

// ---- DNS records ----

function find(records: ClientRecord[], type: string, name: string): ClientRecord {
  const found = records.filter((r) => r.type === type && r.name === name);
  assertEquals(found.length, 1, `${type} ${name}`);
  return found[0];
}

Deno.test("dns records: SRV for mail and DAV, _mta-sts TXT, CNAMEs", () => {
  const cfg = config();
  const records = clientDnsRecords("Example.COM.", cfg);
  const srv = (name: string) => {
    const record = find(records, "SRV", name);
    assert(record.type === "SRV");
    return [record.priority, record.weight, record.port, record.target, record.value];
  };
  const host = "mail.example.com.";
  assertEquals(srv("_imaps._tcp.example.com"), [0, 1, 993, host, `0 1 993 ${host}`]);
  assertEquals(srv("_imap._tcp.example.com"), [5, 1, 143, host, `5 1 143 ${host}`]);
  assertEquals(srv("_pop3s._tcp.example.com"), [10, 1, 995, host, `10 1 995 ${host}`]);
  assertEquals(srv("_pop3._tcp.example.com"), [15, 1, 110, host, `15 1 110 ${host}`]);
  assertEquals(srv("_submissions._tcp.example.com"), [0, 1, 465, host, `0 1 465 ${host}`]);
  assertEquals(srv("_submission._tcp.example.com"), [5, 1, 587, host, `5 1 587 ${host}`]);
  assertEquals(srv("_caldavs._tcp.example.com"), [0, 1, 443, host, `0 1 443 ${host}`]);
  assertEquals(srv("_carddavs._tcp.example.com"), [0, 1, 443, host, `0 1 443 ${host}`]);
  assertEquals(find(records, "TXT", "_caldavs._tcp.example.com").value, "path=/dav/");
  assertEquals(find(records, "TXT", "_carddavs._tcp.example.com").value, "path=/dav/");
  const sts = find(records, "TXT", "_mta-sts.example.com").value;
  assertEquals(parseStsRecord(sts), mtaStsPolicyId(mtaStsPolicy(cfg)));
  assertMatch(sts, /^v=STSv1; id=[0-9a-f]{32}$/);
  for (const label of ["mta-sts", "autoconfig", "autodiscover"]) {
    assertEquals(find(records, "CNAME", `${label}.example.com`).value, host);
  }
  assert(records.every((r) => r.purpose.length > 0));
});

Deno.test("dns records: services that are off say so; the policy id follows the policy", () => {
  const off = clientDnsRecords("example.com", config({ listeners: { pop3: "", pop3s: "" } }));
  const pop3 = find(off, "SRV", "_pop3._tcp.example.com");
  assertEquals([pop3.value, pop3.type === "SRV" && pop3.target], ["0 0 0 .", "."]);
  const id = (input: Record<string, unknown>) =>
    parseStsRecord(
      find(clientDnsRecords("example.com", config(input)), "TXT", "_mta-sts.example.com").value,
    );
  const testing = id({});
  assertEquals(id({}), testing, "the same policy keeps its id");
  assertNotEquals(id({ mta_sts: { mode: "enforce" } }), testing);
  assertNotEquals(id({ mta_sts: { max_age: 86400 } }), testing);
  assertNotEquals(id({ mta_sts: { mx: ["mx2.example.com"] } }), testing);
  assertNotEquals(id({ server: { hostname: "mx.example.com" } }), testing);
});
