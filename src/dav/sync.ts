/**
 * Sync tokens and the sync-collection REPORT (RFC 6578).
 *
 * Implementation notes:
 * - A token names a collection and a modseq: "urn:postern:sync:<collection id>:<modseq>". The
 *   changes since it come from the members' modseqs and the collection's tombstones
 *   (src/store/dav_types.ts), so a token stays valid until tombstones after it are pruned
 *   (`[dav] sync_token_retention`); then the client gets 403 valid-sync-token and resyncs.
 * - Only sync-level 1 (RFC 6578 3.3); infinite is refused with sync-traversal-supported.
 * - DAV:limit is not applied: the whole difference is answered at once.
 */
import { encodeSegment } from "./paths.ts";
import type { DavNode } from "../store/dav_types.ts";
import { StoreError } from "../store/types.ts";
import { type DavRequest, preconditionFailed, textResponse, xmlResponse } from "./http.ts";
import { child, DAV_NS, el, type XmlElement } from "./xml.ts";
import { type Entry, propResponse } from "./props.ts";
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
  const entries: Entry[] = changes.changed.map((node) => ({
    kind: "node",
    href: `${baseHref}${encodeSegment(node.name)}${node.isCollection ? "/" : ""}`,
    node,
    space: target.space,
    owner: target.owner,
    depth: 1,
  }));
  const responses = await render(entries, names);
  for (const name of changes.removed) {
    responses.push(el(DAV_NS, "response", [
      el(DAV_NS, "href", [`${baseHref}${encodeSegment(name)}`]),
      el(DAV_NS, "status", ["HTTP/1.1 404 Not Found"]),
    ]));
  }
  const token = `${PREFIX}${target.node.id}:${changes.modseq}`;
  return xmlResponse(
    207,
    el(DAV_NS, "multistatus", [...responses, el(DAV_NS, "sync-token", [token])]),
  );
}

export { propResponse };
