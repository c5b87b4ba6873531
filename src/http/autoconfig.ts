/**
 * Client autoconfiguration on the HTTP app: Thunderbird autoconfig, Outlook POX Autodiscover
 * and its JSON v2 front door, the Apple profile (src/http/mobileconfig.ts) and the MTA-STS
 * policy (src/http/mta_sts.ts).
 *
 * Implementation notes:
 * - Answers are built from `[server] hostname` and `[listeners]` (client_endpoints.ts); a
 *   service whose listener is off is never advertised.
 * - Only local domains get settings; anything else is a 404 (Thunderbird, JSON) or an
 *   Autodiscover Error response, so the server never describes mail it does not host. Within a
 *   local domain every address gets the same answer (no account lookup): these endpoints are
 *   unauthenticated and must not tell which accounts exist.
 * - The POX request body is read with a byte cap and parsed by the strict DAV XML parser (no
 *   DTD, depth and element caps); nothing a client sends can produce a 500.
 * - Every string that reaches XML goes through the serializer (toXml), which escapes it.
 */
import type { Context, Hono } from "hono";
import type { App } from "../app.ts";
import { normalizeDomain } from "../directory/directory.ts";
import { readCapped } from "../jmap/http.ts";
import { el, parseXml, toXml, type XmlElement, XmlError } from "../dav/xml.ts";
import { type ClientEndpoints, clientEndpoints, httpsOrigin } from "./client_endpoints.ts";
import { MTA_STS_PATH, requestHost, serveMtaSts } from "./mta_sts.ts";
import { serveMobileconfig } from "./mobileconfig.ts";
import { xmlSafe } from "./xml_safe.ts";

/** https://wiki.mozilla.org/Thunderbird:Autoconfiguration:ConfigFileFormat */
export const THUNDERBIRD_PATHS = [
  "/mail/config-v1.1.xml",
  "/.well-known/autoconfig/mail/config-v1.1.xml",
];
export const AUTODISCOVER_PATHS = [
  "/autodiscover/autodiscover.xml",
  "/Autodiscover/Autodiscover.xml",
  "/AutoDiscover/AutoDiscover.xml",
];
export const AUTODISCOVER_JSON_PATHS = [
  "/autodiscover/autodiscover.json",
  "/Autodiscover/Autodiscover.json",
];

/** [MS-OXDSCLI] 2.2.4: the request and response schemas. */
export const AUTODISCOVER_RESPONSE_NS =
  "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006";
export const OUTLOOK_RESPONSE_NS =
  "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a";

/**
 * A POX request holds an address and a schema name: a few hundred bytes. These caps leave
 * room for clients that pad it, and nothing more.
 */
const POX_LIMITS = { maxBytes: 16 * 1024, maxDepth: 16, maxElements: 64 };

/** The local domain of `address`, or null when it has none or it is not ours. */
async function localDomainOf(app: App, address: string): Promise<string | null> {
  const at = address.lastIndexOf("@");
  if (at <= 0 || at === address.length - 1) return null;
  return await localDomain(app, address.slice(at + 1));
}

async function localDomain(app: App, name: string): Promise<string | null> {
  let domain: string;
  try {
    domain = normalizeDomain(name);
  } catch {
    return null;
  }
  if (domain === "" || domain.length > 253) return null;
  return (await app.store.getDomain(domain)) ? domain : null;
}

/** A query parameter by case-insensitive name (clients differ: Email, email, EmailAddress). */
function queryParam(url: URL, ...names: string[]): string | null {
  const wanted = names.map((n) => n.toLowerCase());
  for (const [key, value] of url.searchParams) {
    if (wanted.includes(key.toLowerCase())) return value.trim();
  }
  return null;
}

// ---- Thunderbird ----

/**
 * The Thunderbird autoconfig document (clientConfig 1.1) for `domain`.
 *
 * @example
 * thunderbirdConfig("example.com", ["example.com"], clientEndpoints(config));
 * // '<?xml version="1.0" encoding="utf-8"?><clientConfig version="1.1">...'
 */
export function thunderbirdConfig(
  domain: string,
  localDomains: string[],
  endpoints: ClientEndpoints,
): string {
  const server = (
    kind: "incomingServer" | "outgoingServer",
    type: string,
    endpoint: ClientEndpoints["imaps"],
  ) =>
    endpoint
      ? [el("", kind, [
        el("", "hostname", [endpoints.hostname]),
        el("", "port", [String(endpoint.port)]),
        el("", "socketType", [endpoint.tls === "implicit" ? "SSL" : "STARTTLS"]),
        el("", "username", ["%EMAILADDRESS%"]),
        el("", "authentication", ["password-cleartext"]),
      ], { type })]
      : [];
  const domains = [domain, ...localDomains.filter((d) => d !== domain)];
  const provider = el("", "emailProvider", [
    ...domains.map((d) => el("", "domain", [d])),
    el("", "displayName", [`${domain} mail (${endpoints.hostname})`]),
    el("", "displayShortName", [domain]),
    ...server("incomingServer", "imap", endpoints.imaps),
    ...server("incomingServer", "imap", endpoints.imap),
    ...server("incomingServer", "pop3", endpoints.pop3s),
    ...server("incomingServer", "pop3", endpoints.pop3),
    ...server("outgoingServer", "smtp", endpoints.submissions),
    ...server("outgoingServer", "smtp", endpoints.submission),
  ], { id: domain });
  const root = el("", "clientConfig", [provider], { version: "1.1" });
  if (endpoints.https) {
    // Thunderbird 115+ also sets up the address book and calendar from these.
    const origin = httpsOrigin(endpoints);
    const dav = (kind: string, type: string, path: string) =>
      el("", kind, [
        el("", "username", ["%EMAILADDRESS%"]),
        el("", "authentication", ["http-basic"]),
        el("", "serverURL", [`${origin}${path}`]),
      ], { type });
    root.children.push(
      dav("addressBook", "carddav", "/.well-known/carddav"),
      dav("calendar", "caldav", "/.well-known/caldav"),
    );
  }
  return toXml(root);
}

async function serveThunderbird(app: App, request: Request): Promise<Response> {
  const url = new URL(request.url);
  const address = queryParam(url, "emailaddress");
  const host = requestHost(request);
  // Without an address, autoconfig.<domain> names the domain.
  const domain = address !== null
    ? await localDomainOf(app, address)
    : host.startsWith("autoconfig.")
    ? await localDomain(app, host.slice("autoconfig.".length))
    : null;
  if (!domain) return new Response("Not Found\n", { status: 404 });
  const locals = (await app.store.listDomains()).map((d) => d.name);
  const body = thunderbirdConfig(domain, locals, clientEndpoints(app.loaded.config));
  return new Response(body, { headers: { "content-type": "application/xml; charset=utf-8" } });
}

// ---- Outlook POX Autodiscover ----

/** [MS-OXDSCLI] 2.2.4.2.1.1: the error codes this server sends. */
export const AUTODISCOVER_ERRORS = {
  /** The address is not one of ours. */
  notFound: { code: "500", message: "The e-mail address cannot be found." },
  /** No or a malformed address. */
  badAddress: { code: "501", message: "Bad Address" },
  invalidRequest: { code: "600", message: "Invalid Request" },
  /** An AcceptableResponseSchema other than the Outlook one (e.g. mobilesync). */
  noProvider: { code: "601", message: "Provider is not available for the requested schema." },
} as const;
export type AutodiscoverError = keyof typeof AUTODISCOVER_ERRORS;

/** An Autodiscover Error response document. */
export function autodiscoverError(error: AutodiscoverError, now = new Date()): string {
  const { code, message } = AUTODISCOVER_ERRORS[error];
  const time = now.toISOString().slice(11, 23);
  return toXml(
    el("", "Autodiscover", [
      el("", "Response", [
        el("", "Error", [
          el("", "ErrorCode", [code]),
          el("", "Message", [message]),
          el("", "DebugData"),
        ], { Time: time, Id: String(now.getTime() % 4_294_967_296) }),
      ]),
    ], { xmlns: AUTODISCOVER_RESPONSE_NS }),
  );
}

/**
 * The Outlook settings for `address`: IMAP and SMTP, implicit TLS first.
 *
 * @example
 * autodiscoverSettings("alice@example.com", "Alice", clientEndpoints(config));
 */
export function autodiscoverSettings(
  address: string,
  displayName: string,
  endpoints: ClientEndpoints,
): string {
  const protocol = (type: string, endpoint: ClientEndpoints["imaps"]) =>
    endpoint
      ? [el("", "Protocol", [
        el("", "Type", [type]),
        el("", "Server", [endpoints.hostname]),
        el("", "Port", [String(endpoint.port)]),
        el("", "DomainRequired", ["off"]),
        el("", "LoginName", [address]),
        el("", "SPA", ["off"]),
        ...(endpoint.tls === "implicit"
          ? [el("", "SSL", ["on"])]
          : [el("", "SSL", ["on"]), el("", "Encryption", ["TLS"])]),
        el("", "AuthRequired", ["on"]),
        ...(type === "SMTP" ? [el("", "UsePOPAuth", ["on"]), el("", "SMTPLast", ["off"])] : []),
      ])]
      : [];
  const response = el("", "Response", [
    el("", "User", [el("", "DisplayName", [xmlSafe(displayName || address)])]),
    el("", "Account", [
      el("", "AccountType", ["email"]),
      el("", "Action", ["settings"]),
      ...protocol("IMAP", endpoints.imaps),
      ...protocol("IMAP", endpoints.imap),
      ...protocol("SMTP", endpoints.submissions),
      ...protocol("SMTP", endpoints.submission),
    ]),
  ], { xmlns: OUTLOOK_RESPONSE_NS });
  return toXml(el("", "Autodiscover", [response], { xmlns: AUTODISCOVER_RESPONSE_NS }));
}

/** What a POX request asks for. */
export type PoxRequest =
  | { ok: true; address: string; schema: string | null }
  | { ok: false; status: 400 | 413; error: AutodiscoverError };

/**
 * Reads a POX Autodiscover request body: the EMailAddress and AcceptableResponseSchema.
 * Element names are matched without regard to namespace (clients disagree on it).
 *
 * @example
 * parsePoxRequest(new TextEncoder().encode("<Autodiscover><Request><EMailAddress>a@example.com..."));
 */
export function parsePoxRequest(bytes: Uint8Array): PoxRequest {
  if (bytes.length > POX_LIMITS.maxBytes) {
    return { ok: false, status: 413, error: "invalidRequest" };
  }
  let root: XmlElement;
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    root = parseXml(text, POX_LIMITS);
  } catch (error) {
    if (error instanceof XmlError || error instanceof TypeError) {
      return { ok: false, status: 400, error: "invalidRequest" };
    }
    throw error;
  }
  const request = root.name === "Autodiscover"
    ? root.children.find((c) => c.name === "Request")
    : undefined;
  const address = request?.children.find((c) => c.name === "EMailAddress")?.text.trim() ?? "";
  const schema = request?.children.find((c) => c.name === "AcceptableResponseSchema")?.text
    .trim() ?? null;
  if (!request) return { ok: false, status: 400, error: "invalidRequest" };
  return { ok: true, address, schema };
}

async function serveAutodiscover(app: App, request: Request): Promise<Response> {
  const xml = (body: string, status = 200) =>
    new Response(body, { status, headers: { "content-type": "text/xml; charset=utf-8" } });
  let address: string;
  let schema: string | null = null;
  if (request.method === "POST") {
    const bytes = await readCapped(request, POX_LIMITS.maxBytes);
    if (bytes === null) return xml(autodiscoverError("invalidRequest"), 413);
    const parsed = parsePoxRequest(bytes);
    if (!parsed.ok) return xml(autodiscoverError(parsed.error), parsed.status);
    address = parsed.address;
    schema = parsed.schema;
  } else {
    address = queryParam(new URL(request.url), "emailaddress", "email") ?? "";
  }
  if (schema !== null && schema !== OUTLOOK_RESPONSE_NS) {
    return xml(autodiscoverError("noProvider"));
  }
  if (address === "") return xml(autodiscoverError("invalidRequest"));
  if (!/^[^\s@<>"]+@[^\s@<>"]+$/.test(address)) return xml(autodiscoverError("badAddress"));
  if (!(await localDomainOf(app, address))) return xml(autodiscoverError("notFound"));
  // The same answer for every address of a local domain: nothing tells which accounts exist.
  return xml(autodiscoverSettings(address, address, clientEndpoints(app.loaded.config)));
}

// ---- Autodiscover JSON v2 ----

/**
 * The JSON v2 answer: where the POX endpoint is, for Protocol=AutodiscoverV1.
 *
 * @example
 * autodiscoverJson(clientEndpoints(config));
 * // { Protocol: "AutodiscoverV1", Url: "https://mail.example.com/autodiscover/autodiscover.xml" }
 */
export function autodiscoverJson(endpoints: ClientEndpoints): { Protocol: string; Url: string } {
  return {
    Protocol: "AutodiscoverV1",
    Url: `${httpsOrigin(endpoints)}${AUTODISCOVER_PATHS[0]}`,
  };
}

async function serveAutodiscoverJson(
  app: App,
  request: Request,
  pathEmail: string | undefined,
): Promise<Response> {
  const url = new URL(request.url);
  const email = pathEmail ?? queryParam(url, "email") ?? "";
  const protocol = queryParam(url, "protocol") ?? "";
  const error = (status: number, ErrorCode: string, ErrorMessage: string) =>
    Response.json({ ErrorCode, ErrorMessage }, { status });
  if (protocol.toLowerCase() !== "autodiscoverv1") {
    return error(
      404,
      "ProtocolNotSupported",
      `The protocol ${JSON.stringify(protocol)} is not supported; only AutodiscoverV1 is.`,
    );
  }
  if (!(await localDomainOf(app, email))) {
    return error(404, "UserNotFound", "The e-mail address is not served here.");
  }
  return Response.json(autodiscoverJson(clientEndpoints(app.loaded.config)));
}

// ---- mounting ----

/**
 * Mounts autoconfig, Autodiscover, the Apple profile and the MTA-STS policy on `http`.
 *
 * @example
 * createHttpApp(health, [(http) => mountAutoconfig(http, app)]);
 */
export function mountAutoconfig(http: Hono, app: App): void {
  for (const path of THUNDERBIRD_PATHS) {
    http.get(path, (c) => serveThunderbird(app, c.req.raw));
  }
  for (const path of AUTODISCOVER_PATHS) {
    http.on(["GET", "POST"], path, (c) => serveAutodiscover(app, c.req.raw));
  }
  for (const path of AUTODISCOVER_JSON_PATHS) {
    http.get(path, (c) => serveAutodiscoverJson(app, c.req.raw, undefined));
    http.get(
      `${path}/v1.0/:email`,
      (c: Context) => serveAutodiscoverJson(app, c.req.raw, c.req.param("email")),
    );
  }
  http.get("/mobileconfig", (c) => serveMobileconfig(app, c));
  http.get(MTA_STS_PATH, (c) => serveMtaSts(app, c.req.raw));
}
