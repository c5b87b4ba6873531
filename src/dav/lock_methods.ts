/**
 * LOCK and UNLOCK (RFC 4918 9.10, 9.11) and the lockdiscovery / supportedlock properties.
 *
 * Implementation notes:
 * - LOCK on an unmapped URL in the file space creates an empty file (RFC 4918 7.3) and answers
 *   201; elsewhere the target must exist.
 * - Timeouts: the first value of the Timeout header we can read, capped at
 *   `[dav] max_lock_timeout`; "Infinite" gets the cap.
 * - A refresh is a LOCK without a body whose If header names a lock covering the target.
 */
import { type DavRequest, depthOf, readXml, textResponse, xmlResponse } from "./http.ts";
import { guardWrite, parentKey, targetKey } from "./guard.ts";
import { type Lock, parseIfHeader, submittedTokens } from "./locks.ts";
import { child, DAV_NS, el, parseXml, type XmlElement } from "./xml.ts";
import { serializeProp } from "./methods.ts";
import { sha256Hex } from "../store/blobs.ts";

export function activeLock(lock: Lock): XmlElement {
  const parts: XmlElement[] = [
    el(DAV_NS, "locktype", [el(DAV_NS, "write")]),
    el(DAV_NS, "lockscope", [el(DAV_NS, lock.scope)]),
    el(DAV_NS, "depth", [lock.depth === 0 ? "0" : "infinity"]),
  ];
  if (lock.owner) {
    try {
      parts.push(parseXml(lock.owner, { maxBytes: 1 << 20, maxDepth: 64, maxElements: 10_000 }));
    } catch {
      // Stored from a parsed element; cannot fail to parse back.
    }
  }
  parts.push(
    el(DAV_NS, "timeout", [
      `Second-${Math.max(0, Math.round((lock.expiresAt - Date.now()) / 1000))}`,
    ]),
    el(DAV_NS, "locktoken", [el(DAV_NS, "href", [lock.token])]),
    el(DAV_NS, "lockroot", [el(DAV_NS, "href", [lock.root])]),
  );
  return el(DAV_NS, "activelock", parts);
}

export function lockDiscovery(locks: Lock[]): XmlElement {
  return el(DAV_NS, "lockdiscovery", locks.map(activeLock));
}

export function supportedLock(): XmlElement {
  const entry = (scope: string) =>
    el(DAV_NS, "lockentry", [
      el(DAV_NS, "lockscope", [el(DAV_NS, scope)]),
      el(DAV_NS, "locktype", [el(DAV_NS, "write")]),
    ]);
  return el(DAV_NS, "supportedlock", [entry("exclusive"), entry("shared")]);
}

function timeoutSeconds(header: string | null, max: number): number {
  for (const part of (header ?? "").split(",")) {
    const value = part.trim();
    if (/^infinite$/i.test(value)) return max;
    const match = /^Second-(\d+)$/i.exec(value);
    if (match) return Math.max(1, Math.min(Number(match[1]), max));
  }
  return max;
}

export async function handleLock(dav: DavRequest): Promise<Response> {
  const target = dav.target;
  if (target.type !== "node" && target.type !== "missing") {
    return textResponse(405, "Only resources and collections can be locked.");
  }
  const body = await readXml(dav);
  if (body instanceof Response) return body;
  const key = targetKey(dav);
  const locks = dav.service.locks;
  const timeout = timeoutSeconds(
    dav.request.headers.get("timeout"),
    dav.service.limits.maxLockTimeout,
  );
  if (body === null) {
    // Refresh (RFC 4918 9.10.2).
    const header = dav.request.headers.get("if");
    const tokens = submittedTokens(header ? parseIfHeader(header) : null);
    const lock = locks.covering(key).find((l) => tokens.has(l.token));
    if (!lock) return textResponse(412, "No lock of yours covers this resource.");
    if (lock.accountId !== dav.account.id) return textResponse(403, "Not your lock.");
    locks.refresh(lock, timeout);
    return xmlResponse(200, el(DAV_NS, "prop", [lockDiscovery([lock])]));
  }
  if (body.ns !== DAV_NS || body.name !== "lockinfo") {
    return textResponse(400, "The LOCK body must be a lockinfo element.");
  }
  const scopeElement = child(body, DAV_NS, "lockscope")?.children[0];
  const scope = scopeElement?.ns === DAV_NS &&
      (scopeElement.name === "exclusive" || scopeElement.name === "shared")
    ? scopeElement.name
    : null;
  const type = child(body, DAV_NS, "locktype")?.children[0];
  if (!scope || type?.ns !== DAV_NS || type.name !== "write") {
    return textResponse(400, "Only write locks, exclusive or shared.");
  }
  const depth = depthOf(dav.request, "infinity");
  if (depth === null || depth === 1) return textResponse(400, "Depth must be 0 or infinity.");
  const owner = child(body, DAV_NS, "owner");
  if (locks.conflicts(key, depth, scope).length > 0) {
    return xmlResponse(423, el(DAV_NS, "error", [el(DAV_NS, "no-conflicting-lock")]));
  }
  let created = false;
  if (target.type === "missing") {
    if (target.space !== "files") return textResponse(409, "Nothing to lock here.");
    if (!target.parent || !target.parent.isCollection) {
      return textResponse(409, "The parent collection does not exist.");
    }
    const guard = await guardWrite(dav, null, { paths: [parentKey(key)] });
    if (guard) return guard;
    const empty = new Uint8Array(0);
    const hash = sha256Hex(empty);
    const known = await dav.app.store.blobKnown(hash);
    if (!known) await dav.app.blobs.put(hash, empty);
    const result = await dav.app.store.dav.putResource(target.parent.id, target.name, {
      contentType: "application/octet-stream",
      size: 0,
      etag: `"${hash.slice(0, 32)}"`,
      blobHash: hash,
      blobWritten: !known,
    }, { ifNoneMatch: "*" });
    if (!result.ok) return textResponse(409, "Could not create the resource.");
    created = true;
  } else {
    const guard = await guardWrite(dav, target.node.etag, { paths: [] });
    if (guard) return guard;
  }
  const lock = locks.create({
    root: key,
    depth: depth === "infinity" && (target.type === "node" && target.node.isCollection)
      ? "infinity"
      : depth === 0
      ? 0
      : "infinity",
    scope,
    owner: owner ? serializeProp(owner) : "",
    accountId: dav.account.id,
    timeoutSeconds: timeout,
  });
  return xmlResponse(created ? 201 : 200, el(DAV_NS, "prop", [lockDiscovery([lock])]), {
    "lock-token": `<${lock.token}>`,
  });
}

export function handleUnlock(dav: DavRequest): Response {
  const header = dav.request.headers.get("lock-token")?.trim() ?? "";
  const match = /^<([^>]+)>$/.exec(header);
  if (!match) return textResponse(400, "Lock-Token header missing or malformed.");
  const locks = dav.service.locks;
  const key = targetKey(dav);
  const lock = locks.covering(key).find((l) => l.token === match[1]);
  if (!lock) {
    return xmlResponse(409, el(DAV_NS, "error", [el(DAV_NS, "lock-token-matches-request-uri")]));
  }
  if (lock.accountId !== dav.account.id) return textResponse(403, "Not your lock.");
  locks.remove(lock.token);
  return new Response(null, { status: 204 });
}
