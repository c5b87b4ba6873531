/**
 * CalDAV, CardDAV and WebDAV over HTTP: the routes under /dav/ and the discovery redirects
 * (RFC 6764), mounted on the Hono app.
 *
 * Implementation notes:
 * - Every request under /dav/ authenticates first (Basic through the directory, or a Bearer API
 *   token, as JMAP), and plain HTTP is answered only from this machine unless
 *   `[dav] allow_plaintext_http` (the password would cross the network in clear).
 * - The path is decoded and confined by parsePath (src/dav/paths.ts) before anything else, then
 *   resolved to a Target (resolve.ts); handlers never see the raw URL.
 * - XML bodies are read with a byte cap and parsed with the strict parser (no DTD, depth and
 *   element caps); a body the parser refuses is a 400 with the reason, never a throw.
 * - Errors a client can cause are responses (403 with a precondition element, 409, 412, 423...);
 *   anything else is logged and answered 500 by the app.
 */
import type { Context, Hono } from "hono";
import type { App } from "../app.ts";
import type { Account } from "../store/types.ts";
import { logger } from "../observability/log.ts";
import {
  authenticate,
  clientIp,
  isLoopback,
  readCapped,
  type TokenVerifier,
} from "../jmap/http.ts";
import { parseDavPath } from "./paths.ts";
import { DAV_NS, el, parseXml, toXml, type XmlElement, XmlError } from "./xml.ts";
import { DAV_PREFIX, resolve, type Target } from "./resolve.ts";
import { LockManager } from "./locks.ts";
import { handleMethod } from "./methods.ts";
import type { ICalLimits } from "./ical/mod.ts";
import type { VCardLimits } from "./vcard.ts";

const log = logger("dav");

export interface DavLimits {
  maxXmlSize: number;
  maxXmlDepth: number;
  maxXmlElements: number;
  maxObjectSize: number;
  maxFileSize: number;
  allowDepthInfinity: boolean;
  maxLockTimeout: number;
  ical: ICalLimits;
  vcard: VCardLimits;
}

/** What DAV requests run with; one per server. */
export class DavService {
  readonly limits: DavLimits;
  readonly locks = new LockManager();

  constructor(readonly app: App, readonly tokens: TokenVerifier | null = null) {
    const dav = app.loaded.config.dav;
    this.limits = {
      maxXmlSize: dav.max_xml_size,
      maxXmlDepth: dav.max_xml_depth,
      maxXmlElements: dav.max_xml_elements,
      maxObjectSize: dav.max_object_size,
      maxFileSize: dav.max_file_size,
      allowDepthInfinity: dav.allow_depth_infinity,
      maxLockTimeout: dav.max_lock_timeout,
      ical: {
        maxBytes: dav.max_object_size,
        maxLineBytes: 64 * 1024,
        maxProperties: 10_000,
        maxComponents: 1_000,
        maxDepth: 8,
        maxInstances: dav.max_instances,
        expansionBudgetMs: dav.expansion_budget_ms,
      },
      vcard: { maxBytes: dav.max_object_size, maxLineBytes: 64 * 1024, maxProperties: 10_000 },
    };
  }
}

/** One authenticated request, resolved. */
export interface DavRequest {
  service: DavService;
  app: App;
  account: Account;
  request: Request;
  method: string;
  /** The request path as the client sent it (for responses about the request URI). */
  path: string;
  segments: string[];
  trailingSlash: boolean;
  target: Target;
}

/** An XML response. */
export function xmlResponse(
  status: number,
  root: XmlElement,
  headers: Record<string, string> = {},
): Response {
  return new Response(toXml(root), {
    status,
    headers: { "content-type": "application/xml; charset=utf-8", ...headers },
  });
}

/** A DAV:error body naming the failed precondition (RFC 4918 16). */
export function preconditionFailed(
  status: number,
  ns: string,
  name: string,
  detail = "",
): Response {
  const body = el(DAV_NS, "error", [el(ns, name)]);
  if (detail) {
    body.children.push(el("http://postern.dev/ns/", "description", [detail]));
  }
  return xmlResponse(status, body);
}

export function textResponse(status: number, text: string, headers: Record<string, string> = {}) {
  return new Response(`${text}\n`, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", ...headers },
  });
}

/** Reads and parses an XML body; null for an empty body; a Response for a bad one. */
export async function readXml(dav: DavRequest): Promise<XmlElement | null | Response> {
  const limits = dav.service.limits;
  const bytes = await readCapped(dav.request, limits.maxXmlSize);
  if (bytes === null) {
    return textResponse(413, `The XML body is larger than ${limits.maxXmlSize} bytes.`);
  }
  if (bytes.length === 0) return null;
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    return textResponse(400, "The XML body is not UTF-8.");
  }
  if (text.trim() === "") return null;
  try {
    return parseXml(text, {
      maxBytes: limits.maxXmlSize,
      maxDepth: limits.maxXmlDepth,
      maxElements: limits.maxXmlElements,
    });
  } catch (error) {
    if (error instanceof XmlError) return textResponse(400, `Bad XML body: ${error.message}`);
    throw error;
  }
}

/** The Depth header: 0, 1 or infinity (the default given), or null when malformed. */
export function depthOf(
  request: Request,
  fallback: 0 | 1 | "infinity",
): 0 | 1 | "infinity" | null {
  const value = request.headers.get("depth");
  if (value === null) return fallback;
  const trimmed = value.trim().toLowerCase();
  if (trimmed === "0") return 0;
  if (trimmed === "1") return 1;
  if (trimmed === "infinity") return "infinity";
  return null;
}

const DAV_METHODS = [
  "OPTIONS",
  "GET",
  "HEAD",
  "PUT",
  "DELETE",
  "MKCOL",
  "MKCALENDAR",
  "COPY",
  "MOVE",
  "PROPFIND",
  "PROPPATCH",
  "REPORT",
  "LOCK",
  "UNLOCK",
  "POST",
  "ACL",
];

type Env = { Variables: Record<string, never> };

/** Mounts the DAV routes and the discovery redirects on `http`. */
export function mountDav(http: Hono, service: DavService): void {
  const app = http as unknown as Hono<Env>;
  // RFC 6764 5: the well-known URIs redirect to the context path, for any method.
  for (const name of ["caldav", "carddav"]) {
    app.all(
      `/.well-known/${name}`,
      () => new Response(null, { status: 301, headers: { location: DAV_PREFIX } }),
    );
  }
  const handler = (c: Context<Env>) => handle(service, c);
  // Clients given only the server's address (python-caldav, some desktop clients) PROPFIND the
  // root for current-user-principal; it answers as /dav/ does (redirects are not followed there).
  app.on(["PROPFIND", "OPTIONS"], "/", handler);
  app.all("/dav", handler);
  app.all("/dav/*", handler);
}

async function handle(service: DavService, c: Context<Env>): Promise<Response> {
  const request = c.req.raw;
  const method = request.method.toUpperCase();
  const ip = clientIp(c);
  const url = new URL(request.url);
  if (
    url.protocol === "http:" && !isLoopback(ip) &&
    !service.app.loaded.config.dav.allow_plaintext_http
  ) {
    return textResponse(403, "DAV is served over HTTPS only.");
  }
  if (!DAV_METHODS.includes(method)) {
    return textResponse(405, `${method} is not supported here.`, { allow: DAV_METHODS.join(", ") });
  }
  const result = await authenticate(service, request, ip);
  if (result instanceof Response) {
    // The JMAP problem body is JSON; DAV clients only need the status and the challenge.
    await request.body?.cancel().catch(() => {});
    return new Response(
      result.status === 401 ? "Authentication required.\n" : "Too many failed logins.\n",
      {
        status: result.status,
        headers: {
          "content-type": "text/plain; charset=utf-8",
          "www-authenticate": 'Basic realm="Postern", charset="UTF-8"',
        },
      },
    );
  }
  // Read afresh: the login cache may hold an older copy (quota-used-bytes must be current).
  const account = (await service.app.store.getAccountById(result.id)) ?? result;
  const parsed = url.pathname === "/"
    ? { segments: [], trailingSlash: true }
    : parseDavPath(url.pathname, DAV_PREFIX);
  if (!parsed) {
    await request.body?.cancel().catch(() => {});
    return textResponse(400, "The request path is not allowed.");
  }
  await service.app.store.dav.ensureHome(account.id, defaultCollections());
  const target = await resolve(service.app, account, parsed.segments);
  const dav: DavRequest = {
    service,
    app: service.app,
    account,
    request,
    method,
    path: url.pathname,
    segments: parsed.segments,
    trailingSlash: parsed.trailingSlash,
    target,
  };
  const started = performance.now();
  const response = await handleMethod(dav);
  if (!request.bodyUsed) await request.body?.cancel().catch(() => {});
  log.debug("request", {
    method,
    path: url.pathname,
    status: response.status,
    account: account.address,
    ms: Math.round(performance.now() - started),
  });
  response.headers.set("dav", DAV_COMPLIANCE);
  return response;
}

/** The DAV header (RFC 4918 10.1, RFC 4791 5.1, RFC 6352 6.1, RFC 3744, RFC 5689, RFC 6638). */
export const DAV_COMPLIANCE =
  "1, 2, 3, access-control, calendar-access, addressbook, extended-mkcol, calendar-auto-schedule";

/** The properties of the calendar and address book every account starts with. */
export function defaultCollections() {
  const displayname = (name: string) =>
    toXml(el(DAV_NS, "displayname", [name])).replace(/^<\?xml[^>]*\?>/, "");
  return {
    calendarProps: { "{DAV:}displayname": displayname("Calendar") },
    addressbookProps: { "{DAV:}displayname": displayname("Contacts") },
  };
}
