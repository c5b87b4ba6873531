/**
 * Sync tokens and the sync-collection REPORT (RFC 6578).
 *
 * Implementation notes:
 * - A token names a collection and a modseq: "urn:postern:sync:<collection id>:<modseq>". The
 *   changes since it come from the members' modseqs and the collection's tombstones
 *   (src/store/dav_types.ts), so a token stays valid until tombstones after it are pruned
 *   (`[dav] sync_token_retention`); then the client gets 403 valid-sync-token and resyncs.
 * - Only sync-level 1 (RFC 6578 3.3); infinite is refused with sync-traversal-supported.
 * - DAV:limit is honoured by answering the oldest changes first (see syncCollection).
 */
import { encodeSegment } from "./paths.ts";
import type { DavNode } from "../store/dav_types.ts";
import { StoreError } from "../store/types.ts";
import { type DavRequest, preconditionFailed, textResponse, xmlResponse } from "./http.ts";
import { child, DAV_NS, el, type XmlElement } from "./xml.ts";
import type { Entry } from "./props.ts";
import { hrefOf } from "./resolve.ts";

const PREFIX = "urn:postern:sync:";

export function syncToken(collection: DavNode): string {
  return `${PREFIX}${collection.id}:${collection.modseq}`;
}

/** The modseq a token stands for in this collection, or null when it is not one of its tokens. */
export function parseSyncToken(token: string, collection: DavNode): number | null {
  if (!token.startsWith(PREFIX)) return null;
  const [id, modseq] = token.slice(PREFIX.length).split(":");
  if (Number(id) !== collection.id || !/^\d+$/.test(modseq ?? "")) return null;
  return Number(modseq);
}

export async function syncCollection(
  dav: DavRequest,
  body: XmlElement,
  render: (entries: Entry[], names: XmlElement[]) => Promise<XmlElement[]>,
): Promise<Response> {
  const target = dav.target;
  if (target.type !== "node" || !target.node.isCollection) {
    return textResponse(403, "sync-collection needs a collection.");
  }
  const level = child(body, DAV_NS, "sync-level")?.text.trim() ?? "1";
  if (level !== "1") return preconditionFailed(403, DAV_NS, "sync-traversal-supported");
  const tokenText = child(body, DAV_NS, "sync-token")?.text.trim() ?? "";
  let since = 0;
  if (tokenText !== "") {
    const parsed = parseSyncToken(tokenText, target.node);
    if (parsed === null) return preconditionFailed(403, DAV_NS, "valid-sync-token");
    since = parsed;
  }
  let changes;
  try {
    changes = await dav.app.store.dav.changesSince(target.node.id, since);
  } catch (error) {
    if (error instanceof StoreError && error.code === "invalid") {
      return preconditionFailed(403, DAV_NS, "valid-sync-token");
    }
    throw error;
  }
  const names = child(body, DAV_NS, "prop")?.children ?? [];
  const baseHref = hrefOf(target.segments, true);
  // DAV:limit (RFC 6578 3.8): answer the oldest changes up to the limit, cut where a modseq
  // ends, with a token for that point and a 507 for the request URI saying there is more.
  const limitText = child(child(body, DAV_NS, "limit") ?? body, DAV_NS, "nresults")?.text.trim();
  const limit = limitText && /^\d{1,9}$/.test(limitText) ? Math.max(1, Number(limitText)) : null;
  let changed = changes.changed;
  let removed = changes.removed;
  let tokenModseq = changes.modseq;
  let truncated = false;
  if (limit !== null && changed.length + removed.length > limit) {
    const modseqs = [
      ...changed.map((n) => n.modseq),
      ...changes.removedModseq,
    ].sort((a, b) => a - b);
    let boundary = modseqs[limit - 1];
    if (modseqs[limit] === boundary) {
      const below = modseqs.filter((m) => m < boundary);
      boundary = below.length ? below[below.length - 1] : boundary;
    }
    changed = changed.filter((n) => n.modseq <= boundary);
    removed = removed.filter((_, i) => changes.removedModseq[i] <= boundary);
    tokenModseq = boundary;
    truncated = true;
  }
  const entries: Entry[] = changed.map((node) => ({
    kind: "node",
    href: `${baseHref}${encodeSegment(node.name)}${node.isCollection ? "/" : ""}`,
    node,
    space: target.space,
    owner: target.owner,
    depth: 1,
    access: target.access,
  }));
  const responses = await render(entries, names);
  for (const name of removed) {
    responses.push(el(DAV_NS, "response", [
      el(DAV_NS, "href", [`${baseHref}${encodeSegment(name)}`]),
      el(DAV_NS, "status", ["HTTP/1.1 404 Not Found"]),
    ]));
  }
  if (truncated) {
    responses.push(el(DAV_NS, "response", [
      el(DAV_NS, "href", [baseHref]),
      el(DAV_NS, "status", ["HTTP/1.1 507 Insufficient Storage"]),
      el(DAV_NS, "error", [el(DAV_NS, "number-of-matches-within-limits")]),
    ]));
  }
  const token = `${PREFIX}${target.node.id}:${tokenModseq}`;
  return xmlResponse(
    207,
    el(DAV_NS, "multistatus", [...responses, el(DAV_NS, "sync-token", [token])]),
  );
}
