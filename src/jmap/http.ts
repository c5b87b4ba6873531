/**
 * JMAP over HTTP (RFC 8620 2, 3, 6): the session resource, the API endpoint, upload and
 * download, mounted on the Hono app. Push (EventSource, WebSocket) mounts from push.ts.
 *
 * Implementation notes:
 * - Every endpoint authenticates: HTTP Basic with the account password (through the directory,
 *   so the shared rate limiter and login cache apply) or a Bearer API token. Failures get 401
 *   with a WWW-Authenticate challenge; a rate-limited client gets 429.
 * - The request body is read with a byte cap (maxSizeRequest, maxSizeUpload) before parsing;
 *   a longer body is refused without buffering it (RFC 8620 3.6.1 `limit`, 413 for uploads).
 * - Concurrency limits are per account and released in `finally`, whatever happens.
 */
import type { Context, Hono } from "hono";
import type { App } from "../app.ts";
import type { Account } from "../store/types.ts";
import { logger } from "../observability/log.ts";
import { JmapCaches } from "./caches.ts";
import { type BaseContext, checkRequest, RequestProblem, runRequest } from "./dispatch.ts";
import { type JmapLimits, jmapLimits } from "./limits.ts";
import { CAPABILITIES, METHODS } from "./registry.ts";
import { sessionResource } from "./session.ts";
import { blobId, fromJmapId, toJmapId } from "./ids.ts";
import { readBlob, storeUpload } from "./blob_access.ts";
import { mountPush } from "./push.ts";
import type { OutboundQueue } from "../smtp/outbound/queue.ts";
import { authentications } from "../observability/metrics.ts";

const log = logger("jmap");

/** The base context of a method call for `account` (dispatch.ts adds the per-call parts). */
export function baseContext(service: JmapService, account: Account, ip: string): BaseContext {
  return {
    app: service.app,
    limits: service.limits,
    caches: service.caches,
    account,
    accountId: toJmapId("account", account.id),
    ip,
    queue: service.queue,
  };
}

/** What a JMAP request runs with; one per server. */
export class JmapService {
  readonly limits: JmapLimits;
  readonly caches: JmapCaches;
  readonly capabilities: Set<string>;
  #requests = new Map<number, number>();
  #closeHooks: (() => void)[] = [];
  #uploads = new Map<number, number>();

  constructor(
    readonly app: App,
    readonly queue: OutboundQueue | null = null,
    readonly tokens: TokenVerifier | null = null,
  ) {
    this.limits = jmapLimits(app.loaded.config);
    this.caches = new JmapCaches(app.store);
    this.capabilities = new Set(CAPABILITIES.map((c) => c.urn));
  }

  /** Registers work for close() (push connections, which never end by themselves). */
  onClose(hook: () => void): void {
    this.#closeHooks.push(hook);
  }

  /** Ends long-lived connections; the server calls it before its HTTP servers shut down. */
  close(): void {
    for (const hook of this.#closeHooks) hook();
  }

  /** Takes one of the account's slots of `kind`; false when all are in use. */
  acquire(kind: "request" | "upload", accountId: number): boolean {
    const map = kind === "request" ? this.#requests : this.#uploads;
    const max = kind === "request"
      ? this.limits.maxConcurrentRequests
      : this.limits.maxConcurrentUpload;
    const used = map.get(accountId) ?? 0;
    if (used >= max) return false;
    map.set(accountId, used + 1);
    return true;
  }

  release(kind: "request" | "upload", accountId: number): void {
    const map = kind === "request" ? this.#requests : this.#uploads;
    const used = (map.get(accountId) ?? 1) - 1;
    if (used <= 0) map.delete(accountId);
    else map.set(accountId, used);
  }
}

/** Checks a Bearer token; the account it belongs to, or null. */
export interface TokenVerifier {
  /** `ip` counts a wrong token against the client in the shared rate limiter. */
  verify(token: string, ip: string): Promise<Account | null>;
}

export type Env = { Variables: { account: Account; ip: string } };

/** The client's address from Deno.serve's handler info (Hono's env), or "". */
export function clientIp(c: Context): string {
  const info = c.env as { remoteAddr?: { hostname?: string } } | undefined;
  return info?.remoteAddr?.hostname ?? "";
}

/** Authenticates the request; the account, or the response to send instead. */
export async function authenticate(
  service: { app: App; tokens: TokenVerifier | null },
  request: Request,
  ip: string,
): Promise<Account | Response> {
  const header = request.headers.get("authorization") ?? "";
  const challenge = {
    "www-authenticate": 'Basic realm="Postern", charset="UTF-8", Bearer realm="Postern"',
  };
  const unauthorized = () => problem(401, "unauthorized", "Authentication required.", challenge);
  const space = header.indexOf(" ");
  const scheme = header.slice(0, space).toLowerCase();
  const value = header.slice(space + 1).trim();
  if (scheme === "basic") {
    let decoded: string;
    try {
      decoded = new TextDecoder("utf-8", { fatal: true }).decode(
        Uint8Array.from(atob(value), (c) => c.charCodeAt(0)),
      );
    } catch {
      return unauthorized();
    }
    const colon = decoded.indexOf(":");
    if (colon <= 0) return unauthorized();
    const result = await service.app.directory.authenticate(
      decoded.slice(0, colon),
      decoded.slice(colon + 1),
      ip,
    );
    authentications.inc({ protocol: "http", result: result.ok ? "ok" : "failed" });
    if (result.ok) return result.account;
    if (result.reason === "rate_limited") {
      return problem(429, "rateLimited", "Too many failed logins; try again later.");
    }
    return unauthorized();
  }
  if (scheme === "bearer" && service.tokens && value) {
    const account = await service.tokens.verify(value, ip);
    const ok = account !== null && !account.disabled;
    authentications.inc({ protocol: "http", result: ok ? "ok" : "failed" });
    if (ok) return account;
  }
  return unauthorized();
}

function problem(
  status: number,
  type: string,
  detail: string,
  headers: Record<string, string> = {},
): Response {
  return new Response(
    JSON.stringify({ type: `urn:ietf:params:jmap:error:${type}`, status, detail }),
    { status, headers: { "content-type": "application/problem+json", ...headers } },
  );
}

/** Reads at most `max` bytes of the body; null when it is longer. */
export async function readCapped(
  request: Request | Response,
  max: number,
): Promise<Uint8Array | null> {
  const declared = Number(request.headers.get("content-length") ?? "NaN");
  if (Number.isFinite(declared) && declared > max) return null;
  if (!request.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = request.body.getReader();
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > max) {
      await reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
  }
  const body = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.length;
  }
  return body;
}

/** Loopback clients: the machine itself, or a TLS-terminating proxy on it. */
export function isLoopback(ip: string): boolean {
  return ip === "::1" || ip.startsWith("127.") || ip.startsWith("::ffff:127.");
}

/**
 * The scheme and host clients reach us at: the request's, or for a proxy on this machine the
 * X-Forwarded-Proto/Host it sends (never trusted from anyone else).
 */
export function baseUrl(request: Request, ip: string): string {
  const url = new URL(request.url);
  let protocol = url.protocol;
  let host = url.host;
  if (isLoopback(ip)) {
    const proto = request.headers.get("x-forwarded-proto")?.split(",")[0].trim().toLowerCase();
    if (proto === "http" || proto === "https") protocol = `${proto}:`;
    const forwardedHost = request.headers.get("x-forwarded-host")?.split(",")[0].trim();
    if (forwardedHost && /^[A-Za-z0-9.:[\]-]+$/.test(forwardedHost)) host = forwardedHost;
  }
  return `${protocol}//${host}`;
}

/** Hono middleware: authenticates, then sets `account` and `ip` on the context. */
export function authMiddleware(service: JmapService) {
  return async (c: Context<Env>, next: () => Promise<void>) => {
    const ip = clientIp(c);
    // Passwords and tokens never cross the network in clear: plain HTTP only from this machine
    // (a TLS-terminating proxy) unless the config allows it (RFC 8620 8.1 requires TLS).
    if (
      new URL(c.req.url).protocol === "http:" && !isLoopback(ip) &&
      !service.app.loaded.config.jmap.allow_plaintext_http
    ) {
      return problem(403, "tlsRequired", "JMAP is served over HTTPS only.");
    }
    const result = await authenticate(service, c.req.raw, ip);
    if (result instanceof Response) return result;
    c.set("account", result);
    c.set("ip", ip);
    await next();
  };
}

/** Mounts the JMAP endpoints on `http`. */
export function mountJmap(http: Hono, service: JmapService): void {
  const app = http as unknown as Hono<Env>;
  const auth = authMiddleware(service);
  const session = (c: Context<Env>) => {
    const body = sessionResource(
      c.get("account"),
      baseUrl(c.req.raw, c.get("ip")),
      service.limits,
      service.app.loaded.config,
    );
    return c.json(body, 200, { "cache-control": "no-cache, no-store, must-revalidate" });
  };
  app.get("/.well-known/jmap", auth, session);
  app.get("/jmap/session", auth, session);
  app.post("/jmap/api", auth, (c) => api(c, service));
  app.post("/jmap/upload/:accountId/", auth, (c) => upload(c, service));
  app.post("/jmap/upload/:accountId", auth, (c) => upload(c, service));
  app.get("/jmap/download/:accountId/:blobId/:name", auth, (c) => download(c, service));
  mountPush(http, service);
}

async function api(c: Context<Env>, service: JmapService): Promise<Response> {
  const account = c.get("account");
  const type = c.req.header("content-type") ?? "";
  if (type && !/^application\/json\b/i.test(type)) {
    return problemOf(
      new RequestProblem("notJSON", 400, "The content type must be application/json."),
    );
  }
  if (!service.acquire("request", account.id)) {
    return problemOf(
      new RequestProblem(
        "limit",
        400,
        `At most ${service.limits.maxConcurrentRequests} requests at once.`,
        "maxConcurrentRequests",
      ),
    );
  }
  try {
    const body = await readCapped(c.req.raw, service.limits.maxSizeRequest);
    if (!body) {
      return problemOf(
        new RequestProblem(
          "limit",
          400,
          `The request is larger than ${service.limits.maxSizeRequest} bytes.`,
          "maxSizeRequest",
        ),
      );
    }
    let value: unknown;
    try {
      value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
    } catch {
      throw new RequestProblem("notJSON", 400, "The request body is not valid UTF-8 JSON.");
    }
    const request = checkRequest(value, service.capabilities, service.limits.maxCallsInRequest);
    const sessionState = sessionResource(
      account,
      baseUrl(c.req.raw, c.get("ip")),
      service.limits,
      service.app.loaded.config,
    ).state as string;
    const response = await runRequest(
      request,
      baseContext(service, account, c.get("ip")),
      METHODS,
      sessionState,
    );
    return c.json(response);
  } catch (error) {
    if (error instanceof RequestProblem) return problemOf(error);
    throw error;
  } finally {
    service.release("request", account.id);
  }
}

function problemOf(error: RequestProblem): Response {
  return new Response(JSON.stringify(error.toJson()), {
    status: error.status,
    headers: { "content-type": "application/problem+json" },
  });
}

async function upload(c: Context<Env>, service: JmapService): Promise<Response> {
  const account = c.get("account");
  if (fromJmapId("account", c.req.param("accountId")) !== account.id) {
    return problem(404, "accountNotFound", "No such account.");
  }
  if (!service.acquire("upload", account.id)) {
    return problemOf(
      new RequestProblem(
        "limit",
        429,
        `At most ${service.limits.maxConcurrentUpload} uploads at once.`,
        "maxConcurrentUpload",
      ),
    );
  }
  try {
    const bytes = await readCapped(c.req.raw, service.limits.maxSizeUpload);
    if (!bytes) {
      return new Response(
        JSON.stringify(
          new RequestProblem(
            "limit",
            413,
            `The upload is larger than ${service.limits.maxSizeUpload} bytes.`,
            "maxSizeUpload",
          ).toJson(),
        ),
        { status: 413, headers: { "content-type": "application/problem+json" } },
      );
    }
    const type = (c.req.header("content-type") ?? "application/octet-stream").split(";")[0]
      .trim().toLowerCase() || "application/octet-stream";
    const hash = await storeUpload(service.app, service.limits.uploadTtl, account.id, bytes, type);
    return c.json({
      accountId: toJmapId("account", account.id),
      blobId: blobId(hash),
      type,
      size: bytes.length,
    }, 201);
  } finally {
    service.release("upload", account.id);
  }
}

async function download(c: Context<Env>, service: JmapService): Promise<Response> {
  const account = c.get("account");
  if (fromJmapId("account", c.req.param("accountId")) !== account.id) {
    return problem(404, "accountNotFound", "No such account.");
  }
  const blob = await readBlob(service.app, account.id, c.req.param("blobId") ?? "");
  if (!blob) return problem(404, "notFound", "No such blob.");
  const accept = c.req.query("accept");
  const type = accept && /^[\w.+-]+\/[\w.+-]+$/.test(accept)
    ? accept
    : blob.type ?? "application/octet-stream";
  const name = c.req.param("name") ?? "blob";
  const headers: Record<string, string> = {
    "content-type": type,
    "content-disposition": `attachment; filename*=UTF-8''${encodeURIComponent(name)}`,
    // A blob id names immutable content (RFC 8620 6.2).
    "cache-control": "private, immutable, max-age=31536000",
    "accept-ranges": "bytes",
    etag: `"${c.req.param("blobId")}"`,
  };
  const range = parseRange(c.req.header("range"), blob.bytes.length);
  if (range === "invalid") {
    return new Response(null, {
      status: 416,
      headers: { ...headers, "content-range": `bytes */${blob.bytes.length}` },
    });
  }
  if (range) {
    return new Response(blob.bytes.slice(range.start, range.end + 1), {
      status: 206,
      headers: {
        ...headers,
        "content-range": `bytes ${range.start}-${range.end}/${blob.bytes.length}`,
      },
    });
  }
  log.debug("download", { account: account.address, size: blob.bytes.length });
  return new Response(blob.bytes as Uint8Array<ArrayBuffer>, { headers });
}

/** One "bytes=a-b" / "a-" / "-n" range (RFC 9110 14.1.2); null = whole; "invalid" = 416. */
export function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | null | "invalid" {
  if (!header) return null;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === "" && match[2] === "")) return null; // unsupported: whole body
  if (match[1] === "") {
    const suffix = Number(match[2]);
    if (suffix === 0) return "invalid";
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(match[1]);
  const end = match[2] === "" ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (start >= size || end < start) return "invalid";
  return { start, end };
}
