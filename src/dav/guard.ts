/**
 * Whether a write may go ahead: the If header (RFC 4918 10.4), the locks it must hold
 * (RFC 4918 7) and HTTP preconditions (If-Match / If-None-Match, RFC 9110 13.1).
 */
import { type DavRequest, textResponse, xmlResponse } from "./http.ts";
import { evaluateIf, type Lock, lockKey, parseIfHeader, submittedTokens } from "./locks.ts";
import { DAV_PREFIX, hrefOf, resolve } from "./resolve.ts";
import { parseDavPath } from "./paths.ts";
import { DAV_NS, el } from "./xml.ts";
import type { DavNode } from "../store/dav_types.ts";

/** The canonical href of a request's target (owner written as stored), without slash. */
export function targetKey(dav: DavRequest, segments = dav.segments): string {
  const canonical = [...segments];
  if (canonical.length > 1 && canonical[1].toLowerCase() === dav.account.address.toLowerCase()) {
    canonical[1] = dav.account.address;
  }
  return lockKey(hrefOf(canonical, false));
}

/** The parent's key of a target key. */
export function parentKey(key: string): string {
  return key.slice(0, key.lastIndexOf("/")) || "/";
}

export interface WriteScope {
  /** Paths whose covering locks must be submitted. */
  paths: string[];
  /** Paths whose locks at or below them must be submitted (DELETE/MOVE of a tree). */
  trees?: string[];
}

/**
 * Evaluates the If header and the locks a write needs; a Response when the write must not
 * happen (400 bad header, 412 false condition, 423 locked).
 */
export async function guardWrite(
  dav: DavRequest,
  currentEtag: string | null,
  scope: WriteScope,
): Promise<Response | null> {
  const header = dav.request.headers.get("if");
  const lists = header === null ? null : parseIfHeader(header);
  if (header !== null && lists === null) return textResponse(400, "Malformed If header.");
  const locks = dav.service.locks;
  const requestKey = targetKey(dav);
  if (lists) {
    const states = new Map<string, { etag: string | null; tokens: Set<string> }>();
    for (const list of lists) {
      const key = list.resource === null ? requestKey : keyOfTagged(dav, list.resource);
      if (states.has(key)) continue;
      const etag = key === requestKey ? currentEtag : await etagAt(dav, key);
      states.set(key, {
        etag,
        tokens: new Set(locks.covering(key).map((lock) => lock.token)),
      });
    }
    const resolvedLists = lists.map((list) => ({
      ...list,
      resource: list.resource === null ? null : keyOfTagged(dav, list.resource),
    }));
    const holds = evaluateIf(
      resolvedLists,
      requestKey,
      (path) => states.get(path) ?? { etag: null, tokens: new Set() },
    );
    if (!holds) return textResponse(412, "The If header's conditions do not hold.");
  }
  const submitted = submittedTokens(lists);
  const needed = new Map<string, Lock>();
  for (const path of scope.paths) {
    for (const lock of locks.covering(path)) needed.set(lock.token, lock);
  }
  for (const path of scope.trees ?? []) {
    for (const lock of locks.within(path)) needed.set(lock.token, lock);
  }
  for (const lock of needed.values()) {
    if (!submitted.has(lock.token) || lock.accountId !== dav.account.id) {
      return xmlResponse(
        423,
        el(DAV_NS, "error", [
          el(DAV_NS, "lock-token-submitted", [el(DAV_NS, "href", [lock.root])]),
        ]),
      );
    }
  }
  return null;
}

function keyOfTagged(dav: DavRequest, path: string): string {
  const parsed = parseDavPath(path, DAV_PREFIX);
  if (!parsed) return path;
  return targetKey(dav, parsed.segments);
}

async function etagAt(dav: DavRequest, key: string): Promise<string | null> {
  const parsed = parseDavPath(key, DAV_PREFIX);
  if (!parsed) return null;
  const target = await resolve(dav.app, dav.account, parsed.segments);
  return target.type === "node" ? target.node.etag ?? collectionEtag(target.node) : null;
}

/** A collection's entity tag: changes whenever a member or property does. */
export function collectionEtag(node: DavNode): string {
  return `"c${node.id}-${node.modseq}"`;
}

/** The node's entity tag, collections included. */
export function etagOf(node: DavNode): string {
  return node.etag ?? collectionEtag(node);
}

/**
 * If-Match / If-None-Match against the current state (RFC 9110 13.1.1, 13.1.2); a 412 (or 304
 * for a GET's If-None-Match) when they fail.
 */
export function checkHttpConditions(
  request: Request,
  etag: string | null,
  method: string,
): Response | null {
  const ifMatch = request.headers.get("if-match");
  if (ifMatch !== null) {
    const tags = ifMatch.split(",").map((t) => t.trim());
    const ok = etag !== null && (tags.includes("*") || tags.includes(etag));
    if (!ok) return textResponse(412, "If-Match does not match the current entity tag.");
  }
  // RFC 6638 3.2.10: schedule tags are entity tags here.
  const ifScheduleTag = request.headers.get("if-schedule-tag-match");
  if (ifScheduleTag !== null && (etag === null || ifScheduleTag.trim() !== etag)) {
    return textResponse(412, "If-Schedule-Tag-Match does not match the schedule tag.");
  }
  const ifNoneMatch = request.headers.get("if-none-match");
  if (ifNoneMatch !== null) {
    const tags = ifNoneMatch.split(",").map((t) => t.trim().replace(/^W\//, ""));
    const matched = etag !== null && (tags.includes("*") || tags.includes(etag));
    if (matched) {
      if (method === "GET" || method === "HEAD") {
        return new Response(null, { status: 304, headers: { etag: etag! } });
      }
      return textResponse(412, "If-None-Match: the resource exists.");
    }
  }
  return null;
}
