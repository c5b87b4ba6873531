/**
 * Apple configuration profiles (.mobileconfig) for iOS and macOS: one download sets up Mail
 * (IMAP + SMTP), Calendar (CalDAV) and Contacts (CardDAV) for an account.
 *
 * Implementation notes:
 * - GET /mobileconfig?email=ADDRESS authenticates like DAV and JMAP (Basic through the
 *   directory) and serves only the authenticated account's own profile; plain HTTP answers only
 *   this machine, since the request carries the password.
 * - The profile never contains a password: the device asks for it once on installation.
 * - PayloadUUIDs and identifiers are derived from hostname + address (+ payload kind), so
 *   installing a newer download replaces the old profile instead of adding a second account.
 * - The plist is serialized by toXml, which escapes every string; characters XML cannot carry
 *   are dropped first.
 * - The profile is unsigned; devices show it as "Unverified" (signing needs the certificate
 *   key, which is the ACME issue's business).
 */
import { createHash } from "node:crypto";
import type { Context } from "hono";
import type { App } from "../app.ts";
import type { Account } from "../store/types.ts";
import { authenticate, clientIp, isLoopback } from "../jmap/http.ts";
import { principalHref } from "../dav/resolve.ts";
import { el, toXml, type XmlElement } from "../dav/xml.ts";
import { type ClientEndpoints, clientEndpoints } from "./client_endpoints.ts";
import { xmlSafe } from "./xml_safe.ts";

export const MOBILECONFIG_TYPE = "application/x-apple-aspen-config";
const PLIST_DOCTYPE =
  '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">';

export type PlistValue = string | number | boolean | PlistValue[] | { [key: string]: PlistValue };

function plistElement(value: PlistValue): XmlElement {
  if (typeof value === "string") return el("", "string", [xmlSafe(value)]);
  if (typeof value === "number") return el("", "integer", [String(Math.trunc(value))]);
  if (typeof value === "boolean") return el("", value ? "true" : "false");
  if (Array.isArray(value)) return el("", "array", value.map(plistElement));
  const entries: XmlElement[] = [];
  for (const [key, item] of Object.entries(value)) {
    entries.push(el("", "key", [xmlSafe(key)]), plistElement(item));
  }
  return el("", "dict", entries);
}

/**
 * An XML property list (Apple's PropertyList-1.0 DTD) for `value`.
 *
 * @example
 * plist({ PayloadVersion: 1 });
 * // '<?xml ...?><!DOCTYPE plist ...><plist version="1.0"><dict><key>PayloadVersion</key><integer>1</integer></dict></plist>'
 */
export function plist(value: PlistValue): string {
  const xml = toXml(el("", "plist", [plistElement(value)], { version: "1.0" }));
  const declarationEnd = xml.indexOf("?>") + 2;
  return `${xml.slice(0, declarationEnd)}\n${PLIST_DOCTYPE}\n${xml.slice(declarationEnd)}\n`;
}

/**
 * A stable UUID (RFC 9562 version 8, from SHA-256) for one payload of one account's profile.
 *
 * @example
 * payloadUuid("mail.example.com", "alice@example.com", "caldav");
 * // "3f1e...-....-8...-....-............" (the same every time)
 */
export function payloadUuid(hostname: string, address: string, kind: string): string {
  const digest = createHash("sha256")
    .update(`postern-profile\n${hostname.toLowerCase()}\n${address.toLowerCase()}\n${kind}`)
    .digest();
  const bytes = new Uint8Array(digest.subarray(0, 16));
  bytes[6] = (bytes[6] & 0x0f) | 0x80; // version 8
  bytes[8] = (bytes[8] & 0x3f) | 0x80; // variant 10
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("").toUpperCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${
    hex.slice(20)
  }`;
}

/** What a profile describes: the account's address, name and DAV principal path. */
export interface ProfileAccount {
  address: string;
  displayName: string;
  principalPath: string;
}

/**
 * The configuration profile for `account`: mail, CalDAV and CardDAV payloads (the DAV ones only
 * when HTTPS is on, the mail one only when an IMAP listener is).
 *
 * @example
 * mobileconfig({ address: "alice@example.com", displayName: "Alice",
 *   principalPath: "/dav/principals/alice@example.com/" }, clientEndpoints(config));
 */
export function mobileconfig(account: ProfileAccount, endpoints: ClientEndpoints): string {
  const host = endpoints.hostname;
  const address = account.address;
  const identifier = `${host.split(".").reverse().join(".")}.postern.${
    payloadUuid(host, address, "profile")
  }`;
  const payload = (kind: string, type: string, name: string) => ({
    PayloadType: type,
    PayloadVersion: 1,
    PayloadIdentifier: `${identifier}.${kind}`,
    PayloadUUID: payloadUuid(host, address, kind),
    PayloadDisplayName: name,
    PayloadDescription: `${name} for ${address}`,
  });
  const content: PlistValue[] = [];
  const incoming = endpoints.imaps ?? endpoints.imap;
  const outgoing = endpoints.submissions ?? endpoints.submission;
  if (incoming) {
    content.push({
      ...payload("mail", "com.apple.mail.managed", "Mail"),
      EmailAccountDescription: address,
      EmailAccountName: account.displayName || address,
      EmailAccountType: "EmailTypeIMAP",
      EmailAddress: address,
      IncomingMailServerAuthentication: "EmailAuthPassword",
      IncomingMailServerHostName: host,
      IncomingMailServerPortNumber: incoming.port,
      IncomingMailServerUseSSL: incoming.tls === "implicit",
      IncomingMailServerUsername: address,
      ...(outgoing
        ? {
          OutgoingMailServerAuthentication: "EmailAuthPassword",
          OutgoingMailServerHostName: host,
          OutgoingMailServerPortNumber: outgoing.port,
          OutgoingMailServerUseSSL: outgoing.tls === "implicit",
          OutgoingMailServerUsername: address,
          OutgoingPasswordSameAsIncomingPassword: true,
        }
        : {}),
      PreventMove: false,
      PreventAppSheet: false,
      SMIMEEnabled: false,
      allowMailDrop: true,
    });
  }
  if (endpoints.https) {
    content.push({
      ...payload("caldav", "com.apple.caldav.account", "Calendar"),
      CalDAVAccountDescription: address,
      CalDAVHostName: host,
      CalDAVPort: endpoints.https.port,
      CalDAVPrincipalURL: account.principalPath,
      CalDAVUseSSL: true,
      CalDAVUsername: address,
    });
    content.push({
      ...payload("carddav", "com.apple.carddav.account", "Contacts"),
      CardDAVAccountDescription: address,
      CardDAVHostName: host,
      CardDAVPort: endpoints.https.port,
      CardDAVPrincipalURL: account.principalPath,
      CardDAVUseSSL: true,
      CardDAVUsername: address,
    });
  }
  return plist({
    PayloadContent: content,
    PayloadDescription: `Mail, calendar and contacts for ${address} on ${host}.`,
    PayloadDisplayName: `${address} (${host})`,
    PayloadIdentifier: identifier,
    PayloadOrganization: host,
    PayloadRemovalDisallowed: false,
    PayloadType: "Configuration",
    PayloadUUID: payloadUuid(host, address, "profile"),
    PayloadVersion: 1,
  });
}

function plainText(status: number, text: string, headers: Record<string, string> = {}) {
  return new Response(`${text}\n`, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", ...headers },
  });
}

/** GET /mobileconfig?email=ADDRESS: the authenticated account's own profile. */
export async function serveMobileconfig(app: App, c: Context): Promise<Response> {
  const request = c.req.raw;
  const ip = clientIp(c);
  if (new URL(request.url).protocol === "http:" && !isLoopback(ip)) {
    return plainText(403, "The profile is served over HTTPS only.");
  }
  const result = await authenticate({ app, tokens: null }, request, ip);
  if (result instanceof Response) {
    return plainText(
      result.status,
      result.status === 401 ? "Authentication required." : "Too many failed logins.",
      { "www-authenticate": 'Basic realm="Postern", charset="UTF-8"' },
    );
  }
  const account: Account = result;
  const wanted = new URL(request.url).searchParams.get("email")?.trim() || account.address;
  if (wanted.toLowerCase() !== account.address.toLowerCase()) {
    return plainText(403, "A profile can only be downloaded by its own account.");
  }
  return profileResponse(app, account);
}

/** The account's profile as a download (also the self-service page's link). */
export function profileResponse(app: App, account: Account): Response {
  const body = mobileconfig(
    {
      address: account.address,
      displayName: account.displayName,
      principalPath: principalHref(account),
    },
    clientEndpoints(app.loaded.config),
  );
  const filename = account.address.replace(/[^A-Za-z0-9@._+-]/g, "_");
  return new Response(body, {
    headers: {
      "content-type": MOBILECONFIG_TYPE,
      "content-disposition": `attachment; filename="${filename}.mobileconfig"`,
      "cache-control": "no-store",
    },
  });
}
