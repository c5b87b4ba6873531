/**
 * The WebDAV methods (RFC 4918 9) on the resolved target, plus MKCALENDAR (RFC 4791 5.3.1) and
 * extended MKCOL (RFC 5689). PROPFIND/PROPPATCH live in props.ts, REPORT in report.ts, LOCK and
 * UNLOCK in lock_methods.ts.
 *
 * Implementation notes:
 * - Where collections of each kind may be made: calendars only directly in the calendar home,
 *   address books only in the address book home, plain collections only in the file space.
 *   Calendar objects only in calendars, vCards only in address books (RFC 4791 5.3.2.1,
 *   RFC 6352 5.1).
 * - The account's roots and homes cannot be deleted, moved or overwritten.
 * - COPY and MOVE stay within the account's own space of the same kind (a calendar object into
 *   another calendar, a file anywhere in the file space).
 */
import { sha256Hex } from "../store/blobs.ts";
import { StoreError } from "../store/types.ts";
import { readCapped } from "../jmap/http.ts";
import { parseRange } from "../jmap/http.ts";
import { type DavRequest, depthOf, preconditionFailed, readXml, textResponse } from "./http.ts";
import { checkHttpConditions, etagOf, guardWrite, parentKey, targetKey } from "./guard.ts";
import { DAV_PREFIX, resolve } from "./resolve.ts";
import { parseDavPath } from "./paths.ts";
import { CALDAV_NS, CARDDAV_NS, DAV_NS, toXml, type XmlElement } from "./xml.ts";
import type { DavCollectionKind, DavNode, DavResourceInput } from "../store/dav_types.ts";
import { handlePropfind, handleProppatch } from "./props.ts";
import { handleReport } from "./report.ts";
import { handleLock, handleUnlock } from "./lock_methods.ts";
import { validateObject } from "./objects.ts";
import { checkAccess, handleAcl } from "./sharing.ts";
import {
  deliverScheduling,
  handleOutboxPost,
  planScheduling,
  type SchedulePlan,
} from "./schedule.ts";

export const ALLOW = "OPTIONS, GET, HEAD, PUT, DELETE, MKCOL, MKCALENDAR, COPY, MOVE, " +
  "PROPFIND, PROPPATCH, REPORT, LOCK, UNLOCK, ACL, POST";

export async function handleMethod(dav: DavRequest): Promise<Response> {
  const target = dav.target;
  if (target.type === "forbidden") {
    return textResponse(403, "That belongs to another account.");
  }
  const refused = await checkAccess(dav);
  if (refused) return refused;
  switch (dav.method) {
    case "ACL":
      return await handleAcl(dav);
    case "OPTIONS":
      return new Response(null, {
        status: 200,
        headers: { allow: ALLOW, "content-length": "0" },
      });
    case "PROPFIND":
      return await handlePropfind(dav);
    case "PROPPATCH":
      return await handleProppatch(dav);
    case "REPORT":
      return await handleReport(dav);
    case "LOCK":
      return await handleLock(dav);
    case "UNLOCK":
      return handleUnlock(dav);
  }
  if (target.type === "not_found") return textResponse(404, "Not found.");
  if (target.type !== "node" && target.type !== "missing") {
    if (dav.method === "GET" || dav.method === "HEAD") {
      return textResponse(200, "Postern DAV. Use a CalDAV, CardDAV or WebDAV client.");
    }
    return textResponse(405, `${dav.method} is not allowed here.`, { allow: "OPTIONS, PROPFIND" });
  }
  switch (dav.method) {
    case "GET":
    case "HEAD":
      return await handleGet(dav);
    case "PUT":
      return await handlePut(dav);
    case "DELETE":
      return await handleDelete(dav);
    case "MKCOL":
    case "MKCALENDAR":
      return await handleMkcol(dav);
    case "COPY":
    case "MOVE":
      return await handleCopyMove(dav);
    case "POST":
      if (target.type === "node" && target.node.kind === "schedule-outbox") {
        return await handleOutboxPost(dav, target.owner);
      }
      return textResponse(405, "POST goes to the schedule outbox only.", { allow: ALLOW });
    default:
      return textResponse(405, `${dav.method} is not allowed here.`, { allow: ALLOW });
  }
}

function contentTypeOf(node: DavNode): string {
  return node.contentType ?? "application/octet-stream";
}

async function handleGet(dav: DavRequest): Promise<Response> {
  const target = dav.target;
  if (target.type !== "node") return textResponse(404, "Not found.");
  const node = target.node;
  const etag = etagOf(node);
  const conditional = checkHttpConditions(dav.request, etag, dav.method);
  if (conditional) return conditional;
  const headers: Record<string, string> = {
    etag,
    "last-modified": node.updatedAt.toUTCString(),
  };
  if (node.component) headers["schedule-tag"] = etag;
  if (node.isCollection) {
    const members = await dav.app.store.dav.children(node.id);
    const text = members.map((m) => (m.isCollection ? `${m.name}/` : m.name)).join("\n");
    return textResponse(200, text, headers);
  }
  headers["content-type"] = contentTypeOf(node);
  headers["accept-ranges"] = "bytes";
  const content = node.blobHash
    ? null
    : new TextEncoder().encode((await dav.app.store.dav.contents([node.id])).get(node.id) ?? "");
  const size = content ? content.length : node.size;
  const range = parseRange(dav.request.headers.get("range") ?? undefined, size);
  if (range === "invalid") {
    return new Response(null, {
      status: 416,
      headers: { ...headers, "content-range": `bytes */${size}` },
    });
  }
  const ifRange = dav.request.headers.get("if-range");
  const useRange = range !== null && (ifRange === null || ifRange === etag);
  const start = useRange ? range!.start : 0;
  const end = useRange ? range!.end : size - 1;
  if (useRange) headers["content-range"] = `bytes ${start}-${end}/${size}`;
  headers["content-length"] = String(end - start + 1);
  const status = useRange ? 206 : 200;
  if (dav.method === "HEAD" || end < start) return new Response(null, { status, headers });
  // File bytes are streamed from the blob store, never held whole in memory.
  const body = content
    ? content.subarray(start, end + 1) as Uint8Array<ArrayBuffer>
    : await dav.app.blobs.stream(node.blobHash!, start, end);
  return new Response(body, { status, headers });
}

/**
 * If-Match / If-None-Match again inside the store's transaction, so two clients racing to
 * create (If-None-Match: *) or to replace one version cannot both win.
 */
function storeConditions(request: Request): { ifMatch?: string; ifNoneMatch?: string } {
  const ifMatch = request.headers.get("if-match")?.trim();
  const ifNoneMatch = request.headers.get("if-none-match")?.trim();
  return {
    ...(ifMatch && !ifMatch.includes(",") ? { ifMatch } : {}),
    ...(ifNoneMatch === "*" ? { ifNoneMatch } : {}),
  };
}

/** The collection a new member named by the target would go in, or a Response. */
function parentOf(dav: DavRequest): DavNode | Response {
  const target = dav.target;
  if (target.type === "node") {
    if (target.chain.length < 2) return textResponse(403, "The home collection is fixed.");
    return target.chain[target.chain.length - 2];
  }
  if (target.type !== "missing") return textResponse(405, "Not allowed here.");
  if (!target.parent) return textResponse(409, "The parent collection does not exist.");
  if (!target.parent.isCollection) return textResponse(409, "The parent is not a collection.");
  return target.parent;
}

async function handlePut(dav: DavRequest): Promise<Response> {
  const target = dav.target;
  if (target.type !== "node" && target.type !== "missing") return textResponse(405, "No.");
  const existing = target.type === "node" ? target.node : null;
  if (existing?.isCollection) {
    return textResponse(405, "PUT cannot replace a collection.", { allow: ALLOW });
  }
  const parent = parentOf(dav);
  if (parent instanceof Response) return parent;
  if (dav.request.headers.has("content-range")) {
    return textResponse(400, "Partial PUT (Content-Range) is not supported.");
  }
  const conditional = checkHttpConditions(dav.request, existing?.etag ?? null, "PUT");
  if (conditional) return conditional;
  const key = targetKey(dav);
  const guard = await guardWrite(dav, existing?.etag ?? null, {
    paths: existing ? [key] : [key, parentKey(key)],
  });
  if (guard) return guard;
  const space = target.space;
  let input: DavResourceInput;
  let uniqueUid = false;
  let plan: SchedulePlan | null = null;
  let etag: string;
  if (space === "files") {
    if (parent.kind !== "root" && parent.kind !== "collection") {
      return textResponse(403, "Files go in the file space's collections.");
    }
    const limit = dav.service.limits.maxFileSize;
    const declared = Number(dav.request.headers.get("content-length") ?? "NaN");
    if (Number.isFinite(declared) && declared > limit) {
      return textResponse(413, `Files are limited to ${limit} bytes.`);
    }
    // Streamed to the blob store while hashing: a large file never sits in memory.
    const written = await dav.app.blobs.putStream(dav.request.body, limit);
    if (!written) return textResponse(413, `Files are limited to ${limit} bytes.`);
    const known = await dav.app.store.blobKnown(written.hash);
    etag = `"${written.hash.slice(0, 32)}"`;
    input = {
      contentType: dav.request.headers.get("content-type") ?? "application/octet-stream",
      size: written.size,
      etag,
      blobHash: written.hash,
      blobWritten: !known,
    };
  } else {
    const limit = dav.service.limits.maxObjectSize;
    const bytes = await readCapped(dav.request, limit);
    if (bytes === null) {
      return preconditionFailed(
        403,
        space === "calendars" ? CALDAV_NS : CARDDAV_NS,
        "max-resource-size",
        `Objects are limited to ${limit} bytes.`,
      );
    }
    etag = `"${sha256Hex(bytes).slice(0, 32)}"`;
    const validated = validateObject(dav, parent, bytes);
    if (validated instanceof Response) return validated;
    input = { ...validated, size: bytes.length, etag };
    uniqueUid = true;
    if (parent.kind === "calendar" && target.access === "owner") {
      const before = existing
        ? (await dav.app.store.dav.contents([existing.id])).get(existing.id) ?? null
        : null;
      plan = await planScheduling(dav, target.owner, before, validated.content);
      if (plan && plan.stored !== validated.content) {
        const stored = new TextEncoder().encode(plan.stored);
        input = {
          ...input,
          content: plan.stored,
          size: stored.length,
          etag: `"${sha256Hex(stored).slice(0, 32)}"`,
        };
      }
    }
  }
  const name = existing ? existing.name : (target as { name: string }).name;
  let result;
  try {
    result = await dav.app.store.dav.putResource(parent.id, name, input, {
      uniqueUid,
      ...storeConditions(dav.request),
    });
  } catch (error) {
    // The same bytes were being collected as this upload arrived (rare): ask for a retry.
    if (error instanceof StoreError && error.code === "blob_missing") {
      return textResponse(503, "Busy; send the file again.", { "retry-after": "1" });
    }
    throw error;
  }
  if (!result.ok) {
    switch (result.reason) {
      case "uid_conflict":
        return preconditionFailed(
          409,
          space === "calendars" ? CALDAV_NS : CARDDAV_NS,
          "no-uid-conflict",
          `Another resource (${result.conflictName}) has this UID.`,
        );
      case "quota":
        return preconditionFailed(507, DAV_NS, "quota-not-exceeded", "The account is full.");
      case "precondition":
        return textResponse(412, "The resource changed meanwhile.");
      default:
        return textResponse(409, "The parent collection is gone.");
    }
  }
  if (plan) await deliverScheduling(dav, target.owner, plan);
  // A stored object that differs from the request (scheduling added SCHEDULE-STATUS) gets no
  // ETag in the answer, so the client fetches it again (RFC 4791 5.3.4).
  const headers: Record<string, string> = result.node.etag === etag
    ? { etag, "schedule-tag": etag }
    : {};
  return new Response(null, { status: result.created ? 201 : 204, headers });
}

async function handleDelete(dav: DavRequest): Promise<Response> {
  const target = dav.target;
  if (target.type !== "node") return textResponse(404, "Not found.");
  if (target.chain.length < 2) return textResponse(403, "The home collection cannot be deleted.");
  const node = target.node;
  const depth = depthOf(dav.request, "infinity");
  if (node.isCollection && depth !== "infinity") {
    return textResponse(400, "DELETE of a collection takes Depth: infinity.");
  }
  const conditional = checkHttpConditions(dav.request, etagOf(node), "DELETE");
  if (conditional) return conditional;
  const key = targetKey(dav);
  const guard = await guardWrite(dav, etagOf(node), { paths: [key, parentKey(key)], trees: [key] });
  if (guard) return guard;
  const parent = target.chain[target.chain.length - 2];
  let plan: SchedulePlan | null = null;
  if (!node.isCollection && parent.kind === "calendar" && target.access === "owner") {
    const before = (await dav.app.store.dav.contents([node.id])).get(node.id) ?? null;
    plan = await planScheduling(dav, target.owner, before, null);
  }
  await dav.app.store.dav.remove(node.id);
  dav.service.locks.removeWithin(key);
  if (plan) await deliverScheduling(dav, target.owner, plan);
  return new Response(null, { status: 204 });
}

/** The kind of collection a MKCOL/MKCALENDAR body asks for, and its properties. */
function mkcolRequest(
  dav: DavRequest,
  body: XmlElement | null,
): { kind: DavCollectionKind; props: Map<string, XmlElement> } | Response {
  const props = new Map<string, XmlElement>();
  let kind: DavCollectionKind = dav.method === "MKCALENDAR" ? "calendar" : "collection";
  if (body) {
    const rootName = dav.method === "MKCALENDAR" ? "mkcalendar" : "mkcol";
    const rootNs = dav.method === "MKCALENDAR" ? CALDAV_NS : DAV_NS;
    if (body.ns !== rootNs || body.name !== rootName) {
      return textResponse(415, `The body must be a ${rootName} element.`);
    }
    for (const set of body.children) {
      if (set.ns !== DAV_NS || set.name !== "set") continue;
      for (const prop of set.children.filter((c) => c.ns === DAV_NS && c.name === "prop")) {
        for (const value of prop.children) {
          if (value.ns === DAV_NS && value.name === "resourcetype") {
            const types = value.children.map((t) => `{${t.ns}}${t.name}`);
            if (types.includes(`{${CALDAV_NS}}calendar`)) kind = "calendar";
            else if (types.includes(`{${CARDDAV_NS}}addressbook`)) kind = "addressbook";
            else if (types.every((t) => t === "{DAV:}collection")) kind = "collection";
            else return preconditionFailed(403, DAV_NS, "valid-resourcetype");
            continue;
          }
          props.set(`{${value.ns}}${value.name}`, value);
        }
      }
    }
  }
  return { kind, props };
}

async function handleMkcol(dav: DavRequest): Promise<Response> {
  const target = dav.target;
  if (target.type === "node") {
    return textResponse(405, "Something already exists there.", { allow: ALLOW });
  }
  if (target.type !== "missing") return textResponse(405, "Not allowed here.");
  const contentType = dav.request.headers.get("content-type") ?? "";
  const hasBody = dav.request.body !== null &&
    (dav.request.headers.get("content-length") ?? "0") !== "0";
  if (hasBody && contentType !== "" && !/[/+]xml\b/.test(contentType)) {
    return textResponse(415, "MKCOL takes no body, or an XML mkcol body.");
  }
  const body = await readXml(dav);
  if (body instanceof Response) {
    return hasBody && contentType === "" ? textResponse(415, "MKCOL body must be XML.") : body;
  }
  const parent = parentOf(dav);
  if (parent instanceof Response) return parent;
  const request = mkcolRequest(dav, body);
  if (request instanceof Response) return request;
  const allowed = (target.space === "files" && request.kind === "collection" &&
    (parent.kind === "root" || parent.kind === "collection")) ||
    (target.space === "calendars" && request.kind === "calendar" && parent.kind === "root") ||
    (target.space === "addressbooks" && request.kind === "addressbook" && parent.kind === "root");
  if (!allowed) {
    if (request.kind === "calendar") {
      return preconditionFailed(403, CALDAV_NS, "calendar-collection-location-ok");
    }
    if (request.kind === "addressbook") {
      return preconditionFailed(403, CARDDAV_NS, "addressbook-collection-location-ok");
    }
    return textResponse(403, "Collections of that kind cannot be made here.");
  }
  const key = targetKey(dav);
  const guard = await guardWrite(dav, null, { paths: [key, parentKey(key)] });
  if (guard) return guard;
  const stored: Record<string, string> = {};
  for (const [name, value] of request.props) stored[name] = serializeProp(value);
  const created = await dav.app.store.dav.createCollection(
    parent.id,
    target.name,
    request.kind,
    stored,
  );
  if (!created) return textResponse(405, "Something already exists there.");
  return new Response(null, { status: 201, headers: { "cache-control": "no-cache" } });
}

/** A property element as stored (dead properties). */
export function serializeProp(value: XmlElement): string {
  return toXml(value).replace(/^<\?xml[^>]*\?>/, "");
}

async function handleCopyMove(dav: DavRequest): Promise<Response> {
  const target = dav.target;
  if (target.type !== "node") return textResponse(404, "Not found.");
  if (target.chain.length < 2) return textResponse(403, "The home collection cannot be moved.");
  const destinationHeader = dav.request.headers.get("destination");
  if (!destinationHeader) return textResponse(400, "Destination header missing.");
  let destinationUrl: URL;
  try {
    destinationUrl = new URL(destinationHeader, dav.request.url);
  } catch {
    return textResponse(400, "Destination is not a URL.");
  }
  if (destinationUrl.host !== new URL(dav.request.url).host) {
    return textResponse(502, "Destination is on another server.");
  }
  const parsed = parseDavPath(destinationUrl.pathname, DAV_PREFIX);
  if (!parsed) return textResponse(400, "Destination path is not allowed.");
  const destination = await resolve(dav.app, dav.account, parsed.segments);
  if (destination.type !== "node" && destination.type !== "missing") {
    return textResponse(403, "Destination is outside your own space.");
  }
  if (destination.space !== target.space) {
    return textResponse(403, "Destination is in another kind of space.");
  }
  const overwriteHeader = (dav.request.headers.get("overwrite") ?? "T").trim().toUpperCase();
  if (overwriteHeader !== "T" && overwriteHeader !== "F") {
    return textResponse(400, "Overwrite is T or F.");
  }
  const depth = depthOf(dav.request, "infinity");
  if (depth === null || depth === 1) return textResponse(400, "Depth must be 0 or infinity.");
  if (dav.method === "MOVE" && depth !== "infinity") {
    return textResponse(400, "MOVE takes Depth: infinity.");
  }
  const sourceKey = targetKey(dav);
  const destinationKey = targetKey(dav, parsed.segments);
  if (sourceKey === destinationKey) {
    return textResponse(403, "Source and destination are the same.");
  }
  if (destinationKey.startsWith(`${sourceKey}/`)) {
    return textResponse(409, "Cannot copy or move a collection into itself.");
  }
  const destinationParent = destination.type === "node"
    ? destination.chain[destination.chain.length - 2]
    : destination.parent;
  if (!destinationParent || !destinationParent.isCollection) {
    return textResponse(409, "The destination's parent collection does not exist.");
  }
  if (destination.type === "node" && destination.chain.length < 2) {
    return textResponse(403, "The home collection cannot be replaced.");
  }
  const source = target.node;
  const parentKind = destinationParent.kind;
  const kindFits = source.isCollection
    ? (target.space === "files"
      ? parentKind === "root" || parentKind === "collection"
      : parentKind === "root")
    : (target.space === "files"
      ? parentKind === "root" || parentKind === "collection"
      : parentKind === target.chain[target.chain.length - 2].kind);
  if (!kindFits) return textResponse(403, "That cannot go there.");
  const destinationName = destination.type === "node" ? destination.node.name : destination.name;
  if (destination.type === "node" && overwriteHeader === "F") {
    return textResponse(412, "The destination exists and Overwrite is F.");
  }
  const scope = {
    paths: [destinationKey, parentKey(destinationKey)],
    trees: [destinationKey],
  };
  if (dav.method === "MOVE") {
    scope.paths.push(sourceKey, parentKey(sourceKey));
    scope.trees.push(sourceKey);
  }
  const guard = await guardWrite(dav, etagOf(source), scope);
  if (guard) return guard;
  const result = await dav.app.store.dav.copyMove(
    dav.method === "MOVE" ? "move" : "copy",
    source.id,
    destinationParent.id,
    destinationName,
    { overwrite: overwriteHeader === "T", depth: depth as 0 | "infinity" },
  );
  if (!result.ok) {
    if (result.reason === "exists") return textResponse(412, "The destination exists.");
    if (result.reason === "quota") {
      return preconditionFailed(507, DAV_NS, "quota-not-exceeded", "The account is full.");
    }
    if (result.reason === "cycle") {
      return textResponse(409, "The destination is inside the source, or contains it.");
    }
    return textResponse(409, "The destination's parent collection is gone.");
  }
  if (dav.method === "MOVE") dav.service.locks.removeWithin(sourceKey);
  return new Response(null, { status: result.replaced ? 204 : 201 });
}
