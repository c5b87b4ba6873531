/**
 * Sharing a calendar or an address book with another local account (RFC 3744 access control,
 * reduced to what users ask for: read-only or read-write for a named user).
 *
 * Implementation notes:
 * - The owner sets grants with the ACL method on the collection (RFC 3744 8.1): each ACE
 *   granting DAV:read to a principal shares read-only; DAV:write (or DAV:all) read-write. The
 *   request replaces every grant; deny ACEs, inverted or non-user principals are refused
 *   (RFC 3744 8.1.3 preconditions).
 * - A shared collection appears in the sharee's home as "shared-<id>" (resolve.ts), so the
 *   sharee's clients find it by listing their home like their own collections; its display name
 *   says whose it is. Deleting that member unsubscribes (the share goes, the data stays).
 * - Read-only sharees may read and query; read-write sharees may also PUT and DELETE objects.
 *   Neither may change the collection itself. Writes count in the owner's quota.
 */
import type { Account } from "../store/types.ts";
import type { DavNode, DavShare } from "../store/dav_types.ts";
import { type DavRequest, preconditionFailed, readXml, textResponse } from "./http.ts";
import { child, children, DAV_NS, el, type XmlElement } from "./xml.ts";
import { DAV_PREFIX, principalHref, SHARED_PREFIX, type Space } from "./resolve.ts";
import { parseDavPath } from "./paths.ts";

const READ_METHODS = new Set(["OPTIONS", "GET", "HEAD", "PROPFIND", "REPORT"]);
const READ_WRITE_METHODS = new Set([...READ_METHODS, "PUT", "DELETE"]);

/**
 * Refuses what the request's access does not allow; for a sharee's DELETE of the mounted
 * collection itself, unsubscribes. Null when the request may go on.
 */
export async function checkAccess(dav: DavRequest): Promise<Response | null> {
  const target = dav.target;
  if (target.type !== "node" && target.type !== "missing") return null;
  if (target.access === "owner") return null;
  const isMount = target.type === "node" && target.chain.length === 2;
  if (dav.method === "DELETE" && isMount) {
    await dav.app.store.dav.setShare(target.node.id, dav.account.id, null);
    return new Response(null, { status: 204 });
  }
  const allowed = target.access === "read" ? READ_METHODS : READ_WRITE_METHODS;
  if (!allowed.has(dav.method) || (isMount && !READ_METHODS.has(dav.method))) {
    return preconditionFailed(
      403,
      DAV_NS,
      "need-privileges",
      target.access === "read"
        ? "This collection is shared with you read-only."
        : "Only the owner may change the collection itself.",
    );
  }
  return null;
}

/** The collections shared with `account` that belong in its home of `space`. */
export async function sharedMembers(
  dav: DavRequest,
  space: Space,
): Promise<{ node: DavNode; share: DavShare; owner: Account }[]> {
  const kind = space === "calendars" ? "calendar" : space === "addressbooks" ? "addressbook" : null;
  if (!kind) return [];
  const out: { node: DavNode; share: DavShare; owner: Account }[] = [];
  for (const share of await dav.app.store.dav.sharedWith(dav.account.id)) {
    const node = await dav.app.store.dav.getNode(share.collectionId);
    if (!node || node.kind !== kind) continue;
    const owner = await dav.app.store.getAccountById(share.ownerId);
    if (owner) out.push({ node, share, owner });
  }
  return out;
}

export function mountName(node: DavNode): string {
  return `${SHARED_PREFIX}${node.id}`;
}

/** The DAV:acl property (RFC 3744 5.5): the owner's protected ACE and one per sharee. */
export async function aclProperty(
  dav: DavRequest,
  node: DavNode,
  owner: Account,
): Promise<XmlElement> {
  const privilege = (name: string) => el(DAV_NS, "privilege", [el(DAV_NS, name)]);
  const aces = [
    el(DAV_NS, "ace", [
      el(DAV_NS, "principal", [el(DAV_NS, "href", [principalHref(owner)])]),
      el(DAV_NS, "grant", [privilege("all")]),
      el(DAV_NS, "protected"),
    ]),
  ];
  for (const share of await dav.app.store.dav.sharesOf(node.id)) {
    const sharee = await dav.app.store.getAccountById(share.shareeId);
    if (!sharee) continue;
    aces.push(el(DAV_NS, "ace", [
      el(DAV_NS, "principal", [el(DAV_NS, "href", [principalHref(sharee)])]),
      el(
        DAV_NS,
        "grant",
        share.access === "read" ? [privilege("read")] : [privilege("read"), privilege("write")],
      ),
    ]));
  }
  return el(DAV_NS, "acl", aces);
}

/** ACL (RFC 3744 8.1) on an owned calendar or address book: sets who it is shared with. */
export async function handleAcl(dav: DavRequest): Promise<Response> {
  const target = dav.target;
  if (target.type !== "node") return textResponse(404, "Not found.");
  if (target.access !== "owner") return preconditionFailed(403, DAV_NS, "need-privileges");
  const node = target.node;
  if (node.kind !== "calendar" && node.kind !== "addressbook") {
    return preconditionFailed(
      403,
      DAV_NS,
      "no-ace-conflict",
      "Only calendars and address books can be shared.",
    );
  }
  const body = await readXml(dav);
  if (body instanceof Response) return body;
  if (!body || body.ns !== DAV_NS || body.name !== "acl") {
    return textResponse(400, "The ACL body must be an acl element.");
  }
  const grants = new Map<number, DavShare["access"]>();
  for (const ace of children(body, DAV_NS, "ace")) {
    if (child(ace, DAV_NS, "invert") || child(ace, DAV_NS, "deny")) {
      return preconditionFailed(403, DAV_NS, "grant-only");
    }
    const principal = child(ace, DAV_NS, "principal");
    const href = principal ? child(principal, DAV_NS, "href")?.text.trim() : undefined;
    if (!href) return preconditionFailed(403, DAV_NS, "allowed-principal");
    const sharee = await principalAccount(dav, href);
    if (!sharee) return preconditionFailed(403, DAV_NS, "recognized-principal");
    if (sharee.id === target.owner.id) continue;
    const privileges = (child(ace, DAV_NS, "grant")?.children ?? [])
      .flatMap((p) => p.children.map((c) => `{${c.ns}}${c.name}`));
    const writes = ["write", "all", "write-content", "bind"].some((n) =>
      privileges.includes(`{DAV:}${n}`)
    );
    const reads = privileges.includes("{DAV:}read");
    if (!writes && !reads) return preconditionFailed(403, DAV_NS, "not-supported-privilege");
    grants.set(sharee.id, writes ? "read-write" : "read");
  }
  const before = await dav.app.store.dav.sharesOf(node.id);
  for (const share of before) {
    if (!grants.has(share.shareeId)) {
      await dav.app.store.dav.setShare(node.id, share.shareeId, null);
    }
  }
  for (const [shareeId, access] of grants) {
    await dav.app.store.dav.setShare(node.id, shareeId, access);
  }
  return new Response(null, { status: 200 });
}

async function principalAccount(dav: DavRequest, href: string): Promise<Account | null> {
  let path: string;
  try {
    path = new URL(href, dav.request.url).pathname;
  } catch {
    return null;
  }
  if (href.startsWith("mailto:")) {
    return await dav.app.store.getAccount(href.slice(7).toLowerCase());
  }
  const parsed = parseDavPath(path, DAV_PREFIX);
  if (!parsed || parsed.segments.length !== 2 || parsed.segments[0] !== "principals") return null;
  return await dav.app.store.getAccount(parsed.segments[1].toLowerCase());
}
