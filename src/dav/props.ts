/**
 * PROPFIND and PROPPATCH (RFC 4918 9.1, 9.2) with the live properties of WebDAV, CalDAV
 * (RFC 4791, 6638), CardDAV (RFC 6352), principals (RFC 3744, 5397), quota (RFC 4331) and
 * sync (RFC 6578), and dead properties stored per node.
 *
 * Implementation notes:
 * - A property is live when `LIVE` names it; everything else a client sets is dead and kept as
 *   the XML it sent. Live properties are protected (cannot-modify-protected-property), except
 *   displayname and the collection descriptions, which are stored like dead ones.
 * - PROPPATCH is all or nothing (RFC 4918 9.2): one refused property fails the others with 424.
 * - allprop returns the dead properties and RFC 4918's live ones, not the expensive ones
 *   (RFC 4918 9.1: servers need not return computed properties there).
 */
import { encodeSegment } from "./paths.ts";
import type { Account } from "../store/types.ts";
import type { DavNode } from "../store/dav_types.ts";
import {
  type DavRequest,
  depthOf,
  preconditionFailed,
  readXml,
  textResponse,
  xmlResponse,
} from "./http.ts";
import {
  CALDAV_NS,
  CALENDARSERVER_NS,
  CARDDAV_NS,
  DAV_NS,
  el,
  escapeXmlText,
  parseXml,
  rawXml,
  type XmlElement,
} from "./xml.ts";
import {
  type Access,
  DAV_PREFIX,
  homeHref,
  hrefOf,
  principalHref,
  type Space,
  SPACES,
  type Target,
} from "./resolve.ts";
import { collectionEtag, etagOf, guardWrite, targetKey } from "./guard.ts";
import { lockDiscovery, supportedLock } from "./lock_methods.ts";
import { lockKey } from "./locks.ts";
import { serializeProp } from "./methods.ts";
import { syncToken } from "./sync.ts";
import { aclProperty, mountName, sharedMembers } from "./sharing.ts";

const APPLE_NS = "http://apple.com/ns/ical/";

/** Something a multistatus response describes. */
export type Entry =
  | { kind: "root"; href: string }
  | { kind: "principals"; href: string }
  | { kind: "space"; href: string; space: Space }
  | { kind: "principal"; href: string; account: Account }
  | {
    kind: "node";
    href: string;
    node: DavNode;
    space: Space;
    owner: Account;
    depth: number;
    access?: Access;
    /** A collection shared with the requester, listed in its home. */
    mounted?: boolean;
  };

export function clark(ns: string, name: string): string {
  return `{${ns}}${name}`;
}

/** Properties clients may set although we compute or define them. */
const WRITABLE = new Set([
  clark(DAV_NS, "displayname"),
  clark(CALDAV_NS, "calendar-description"),
  clark(CALDAV_NS, "calendar-timezone"),
  clark(CALDAV_NS, "calendar-timezone-id"),
  clark(CARDDAV_NS, "addressbook-description"),
  clark(APPLE_NS, "calendar-color"),
  clark(APPLE_NS, "calendar-order"),
  clark(CALDAV_NS, "schedule-calendar-transp"),
]);

const RFC4918_LIVE = [
  "creationdate",
  "displayname",
  "getcontentlength",
  "getcontenttype",
  "getetag",
  "getlastmodified",
  "lockdiscovery",
  "resourcetype",
  "supportedlock",
].map((name) => clark(DAV_NS, name));

const href = (value: string) => el(DAV_NS, "href", [value]);

function parseStored(xml: string): XmlElement | null {
  try {
    return parseXml(xml, { maxBytes: 4 << 20, maxDepth: 1000, maxElements: 1_000_000 });
  } catch {
    return null;
  }
}

function privileges(write: boolean): XmlElement {
  const names = write
    ? [
      "read",
      "write",
      "write-properties",
      "write-content",
      "bind",
      "unbind",
      "unlock",
      "read-acl",
      "read-current-user-privilege-set",
    ]
    : ["read", "read-acl", "read-current-user-privilege-set"];
  return el(
    DAV_NS,
    "current-user-privilege-set",
    names.map((n) => el(DAV_NS, "privilege", [el(DAV_NS, n)])),
  );
}

function reportSet(names: [string, string][]): XmlElement {
  return el(
    DAV_NS,
    "supported-report-set",
    names.map(([ns, name]) =>
      el(DAV_NS, "supported-report", [el(DAV_NS, "report", [el(ns, name)])])
    ),
  );
}

/**
 * Live properties of an entry: name → value (null = not defined on this entry). `cheap` limits
 * them to what allprop returns.
 */
export function liveProperties(
  dav: DavRequest,
  entry: Entry,
): Map<string, () => XmlElement | null> {
  const props = new Map<string, () => XmlElement | null>();
  const me = dav.account;
  const add = (ns: string, name: string, value: () => XmlElement | null) =>
    props.set(clark(ns, name), value);
  const wrap = (ns: string, name: string, content: (XmlElement | string)[]) =>
    el(ns, name, content);
  add(
    DAV_NS,
    "current-user-principal",
    () => wrap(DAV_NS, "current-user-principal", [href(principalHref(me))]),
  );
  add(
    DAV_NS,
    "principal-collection-set",
    () => wrap(DAV_NS, "principal-collection-set", [href(hrefOf(["principals"], true))]),
  );
  add(DAV_NS, "supportedlock", () => entry.kind === "node" ? supportedLock() : null);
  add(
    DAV_NS,
    "lockdiscovery",
    () =>
      entry.kind === "node" ? lockDiscovery(dav.service.locks.covering(lockKey(entry.href))) : null,
  );
  if (entry.kind !== "node") {
    const types = [el(DAV_NS, "collection")];
    if (entry.kind === "principal") types.push(el(DAV_NS, "principal"));
    add(DAV_NS, "resourcetype", () => wrap(DAV_NS, "resourcetype", types));
    add(DAV_NS, "displayname", () =>
      wrap(DAV_NS, "displayname", [
        entry.kind === "principal"
          ? entry.account.displayName || entry.account.address
          : entry.kind === "space"
          ? entry.space
          : "Postern DAV",
      ]));
    add(DAV_NS, "current-user-privilege-set", () => privileges(false));
  }
  if (entry.kind === "principal") {
    const account = entry.account;
    add(
      DAV_NS,
      "principal-URL",
      () => wrap(DAV_NS, "principal-URL", [href(principalHref(account))]),
    );
    add(
      DAV_NS,
      "alternate-URI-set",
      () => wrap(DAV_NS, "alternate-URI-set", [href(`mailto:${account.address}`)]),
    );
    add(DAV_NS, "group-membership", () => wrap(DAV_NS, "group-membership", []));
    add(DAV_NS, "owner", () => wrap(DAV_NS, "owner", [href(principalHref(account))]));
    add(
      CALDAV_NS,
      "calendar-home-set",
      () => wrap(CALDAV_NS, "calendar-home-set", [href(homeHref("calendars", account))]),
    );
    add(
      CARDDAV_NS,
      "addressbook-home-set",
      () => wrap(CARDDAV_NS, "addressbook-home-set", [href(homeHref("addressbooks", account))]),
    );
    add(CALDAV_NS, "calendar-user-address-set", () =>
      wrap(CALDAV_NS, "calendar-user-address-set", [
        href(`mailto:${account.address}`),
        href(principalHref(account)),
      ]));
    add(
      CALDAV_NS,
      "calendar-user-type",
      () => wrap(CALDAV_NS, "calendar-user-type", ["INDIVIDUAL"]),
    );
    add(
      CALDAV_NS,
      "schedule-inbox-URL",
      () =>
        wrap(CALDAV_NS, "schedule-inbox-URL", [
          href(hrefOf(["calendars", account.address, "inbox"], true)),
        ]),
    );
    add(
      CALDAV_NS,
      "schedule-outbox-URL",
      () =>
        wrap(CALDAV_NS, "schedule-outbox-URL", [
          href(hrefOf(["calendars", account.address, "outbox"], true)),
        ]),
    );
    add(
      CALENDARSERVER_NS,
      "email-address-set",
      () =>
        wrap(CALENDARSERVER_NS, "email-address-set", [
          el(CALENDARSERVER_NS, "email-address", [account.address]),
        ]),
    );
    add(
      DAV_NS,
      "supported-report-set",
      () =>
        reportSet([
          [DAV_NS, "principal-property-search"],
          [DAV_NS, "principal-search-property-set"],
          [DAV_NS, "expand-property"],
        ]),
    );
    return props;
  }
  if (entry.kind !== "node") return props;
  const node = entry.node;
  const owner = entry.owner;
  const write = (entry.access ?? "owner") !== "read";
  add(DAV_NS, "owner", () => wrap(DAV_NS, "owner", [href(principalHref(owner))]));
  add(DAV_NS, "current-user-privilege-set", () => privileges(write));
  add(
    DAV_NS,
    "creationdate",
    () => wrap(DAV_NS, "creationdate", [node.createdAt.toISOString().replace(/\.\d{3}Z$/, "Z")]),
  );
  add(
    DAV_NS,
    "getlastmodified",
    () => wrap(DAV_NS, "getlastmodified", [node.updatedAt.toUTCString()]),
  );
  add(DAV_NS, "displayname", () => {
    const stored = node.props[clark(DAV_NS, "displayname")];
    if (
      entry.access && entry.access !== "owner" && node.isCollection && entry.node.kind !== "root"
    ) {
      const name = stored ? parseStored(stored)?.text ?? node.name : node.name;
      return wrap(DAV_NS, "displayname", [`${name} (${owner.displayName || owner.address})`]);
    }
    if (stored) return parseStored(stored);
    return entry.depth === 0 ? wrap(DAV_NS, "displayname", [node.name]) : null;
  });
  add(DAV_NS, "getetag", () => wrap(DAV_NS, "getetag", [etagOf(node)]));
  if (!node.isCollection) {
    add(DAV_NS, "resourcetype", () => wrap(DAV_NS, "resourcetype", []));
    add(DAV_NS, "getcontentlength", () => wrap(DAV_NS, "getcontentlength", [String(node.size)]));
    // RFC 6638 3.2.10: our schedule tag is the entity tag (it changes on every change).
    add(
      CALDAV_NS,
      "schedule-tag",
      () => node.component ? wrap(CALDAV_NS, "schedule-tag", [etagOf(node)]) : null,
    );
    add(
      DAV_NS,
      "getcontenttype",
      () => wrap(DAV_NS, "getcontenttype", [node.contentType ?? "application/octet-stream"]),
    );
    return props;
  }
  const types = [el(DAV_NS, "collection")];
  if (node.kind === "calendar") types.push(el(CALDAV_NS, "calendar"));
  if (node.kind === "addressbook") types.push(el(CARDDAV_NS, "addressbook"));
  if (node.kind === "schedule-inbox") types.push(el(CALDAV_NS, "schedule-inbox"));
  if (node.kind === "schedule-outbox") types.push(el(CALDAV_NS, "schedule-outbox"));
  add(DAV_NS, "resourcetype", () => wrap(DAV_NS, "resourcetype", types));
  add(DAV_NS, "sync-token", () => wrap(DAV_NS, "sync-token", [syncToken(node)]));
  add(
    CALENDARSERVER_NS,
    "getctag",
    () => wrap(CALENDARSERVER_NS, "getctag", [collectionEtag(node)]),
  );
  add(
    DAV_NS,
    "quota-used-bytes",
    () => wrap(DAV_NS, "quota-used-bytes", [String(owner.usedBytes)]),
  );
  add(
    DAV_NS,
    "quota-available-bytes",
    () =>
      owner.quota > 0
        ? wrap(DAV_NS, "quota-available-bytes", [
          String(Math.max(0, owner.quota - owner.usedBytes)),
        ])
        : null,
  );
  const reports: [string, string][] = [[DAV_NS, "sync-collection"]];
  if (node.kind === "calendar" || node.kind === "schedule-inbox") {
    reports.push([CALDAV_NS, "calendar-multiget"], [CALDAV_NS, "calendar-query"], [
      CALDAV_NS,
      "free-busy-query",
    ]);
  }
  if (node.kind === "addressbook") {
    reports.push([CARDDAV_NS, "addressbook-multiget"], [CARDDAV_NS, "addressbook-query"]);
  }
  add(DAV_NS, "supported-report-set", () => reportSet(reports));
  if (node.kind === "calendar" || node.kind === "schedule-inbox") {
    add(CALDAV_NS, "supported-calendar-component-set", () => {
      const stored = node.props[clark(CALDAV_NS, "supported-calendar-component-set")];
      if (stored) return parseStored(stored);
      return wrap(
        CALDAV_NS,
        "supported-calendar-component-set",
        ["VEVENT", "VTODO"].map((name) => el(CALDAV_NS, "comp", [], { name })),
      );
    });
    add(CALDAV_NS, "supported-calendar-data", () =>
      wrap(CALDAV_NS, "supported-calendar-data", [
        el(CALDAV_NS, "calendar-data", [], { "content-type": "text/calendar", version: "2.0" }),
      ]));
    add(
      CALDAV_NS,
      "max-resource-size",
      () => wrap(CALDAV_NS, "max-resource-size", [String(dav.service.limits.maxObjectSize)]),
    );
    add(
      CALDAV_NS,
      "supported-collation-set",
      () =>
        wrap(
          CALDAV_NS,
          "supported-collation-set",
          ["i;ascii-casemap", "i;octet", "i;unicode-casemap"].map((c) =>
            el(CALDAV_NS, "supported-collation", [c])
          ),
        ),
    );
  }
  if (node.kind === "calendar") {
    add(CALDAV_NS, "schedule-calendar-transp", () => {
      const stored = node.props[clark(CALDAV_NS, "schedule-calendar-transp")];
      return stored
        ? parseStored(stored)
        : wrap(CALDAV_NS, "schedule-calendar-transp", [el(CALDAV_NS, "opaque")]);
    });
  }
  if (node.kind === "root" && entry.space === "calendars") {
    add(
      CALDAV_NS,
      "schedule-default-calendar-URL",
      () =>
        wrap(CALDAV_NS, "schedule-default-calendar-URL", [
          href(hrefOf(["calendars", owner.address, "default"], true)),
        ]),
    );
  }
  if (node.kind === "addressbook") {
    add(
      CARDDAV_NS,
      "supported-address-data",
      () =>
        wrap(
          CARDDAV_NS,
          "supported-address-data",
          ["3.0", "4.0"].map((version) =>
            el(CARDDAV_NS, "address-data-type", [], { "content-type": "text/vcard", version })
          ),
        ),
    );
    add(
      CARDDAV_NS,
      "max-resource-size",
      () => wrap(CARDDAV_NS, "max-resource-size", [String(dav.service.limits.maxObjectSize)]),
    );
  }
  return props;
}

/** Builds one DAV:response with the requested properties. */
export function propResponse(
  dav: DavRequest,
  entry: Entry,
  request: { mode: "prop"; names: XmlElement[] } | { mode: "allprop"; include: XmlElement[] } | {
    mode: "propname";
  },
  extra?: (name: XmlElement) => XmlElement | null | undefined,
): XmlElement {
  const fast = request.mode === "prop" ? simpleResourceResponse(entry, request.names) : null;
  if (fast) return fast;
  const live = liveProperties(dav, entry);
  const dead = entry.kind === "node" ? entry.node.props : {};
  const found: XmlElement[] = [];
  const missing: XmlElement[] = [];
  if (request.mode === "propname") {
    for (const name of live.keys()) {
      if (live.get(name)!() === null) continue;
      const [ns, local] = splitClark(name);
      found.push(el(ns, local));
    }
    for (const name of Object.keys(dead)) {
      if (live.has(name)) continue;
      const [ns, local] = splitClark(name);
      found.push(el(ns, local));
    }
  } else {
    const wanted = request.mode === "prop"
      ? request.names
      : [...RFC4918_LIVE.map((n) => el(...splitClark(n))), ...request.include];
    const seen = new Set<string>();
    for (const name of wanted) {
      const key = clark(name.ns, name.name);
      if (seen.has(key)) continue;
      seen.add(key);
      const special = extra?.(name);
      if (special !== undefined) {
        if (special) found.push(special);
        else missing.push(el(name.ns, name.name));
        continue;
      }
      const value = live.get(key)?.() ?? (dead[key] ? parseStored(dead[key]) : null);
      if (value) found.push(value);
      else if (request.mode === "prop") missing.push(el(name.ns, name.name));
    }
    if (request.mode === "allprop") {
      for (const [key, xml] of Object.entries(dead)) {
        if (seen.has(key) || live.has(key)) continue;
        const value = parseStored(xml);
        if (value) found.push(value);
      }
    }
  }
  const propstats: XmlElement[] = [];
  if (found.length || (!missing.length)) {
    propstats.push(
      el(DAV_NS, "propstat", [
        el(DAV_NS, "prop", found),
        el(DAV_NS, "status", ["HTTP/1.1 200 OK"]),
      ]),
    );
  }
  if (missing.length) {
    propstats.push(
      el(DAV_NS, "propstat", [
        el(DAV_NS, "prop", missing),
        el(DAV_NS, "status", ["HTTP/1.1 404 Not Found"]),
      ]),
    );
  }
  return el(DAV_NS, "response", [href(entry.href), ...propstats]);
}

/** The DAV: properties of a plain resource that sync and listings ask for, by local name. */
const SIMPLE_PROPERTIES: Record<string, (node: DavNode) => string> = {
  getetag: (node) => etagOf(node),
  getcontenttype: (node) => node.contentType ?? "application/octet-stream",
  getcontentlength: (node) => String(node.size),
  getlastmodified: (node) => node.updatedAt.toUTCString(),
};

/**
 * The response for a resource when only simple DAV: properties are asked (getetag and the
 * like: what every client's sync asks of each member), written as markup at once: building
 * elements for 10,000 members cost most of a full sync's time.
 */
function simpleResourceResponse(entry: Entry, names: XmlElement[]): XmlElement | null {
  if (entry.kind !== "node" || entry.node.isCollection || names.length === 0) return null;
  let props = "";
  for (const name of names) {
    const value = name.ns === DAV_NS ? SIMPLE_PROPERTIES[name.name] : undefined;
    if (value === undefined) {
      if (name.ns === DAV_NS && name.name === "resourcetype") {
        props += "<D:resourcetype/>";
        continue;
      }
      return null;
    }
    props += `<D:${name.name}>${escapeXmlText(value(entry.node))}</D:${name.name}>`;
  }
  return rawXml(
    `<D:response><D:href>${escapeXmlText(entry.href)}</D:href><D:propstat><D:prop>${props}` +
      `</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>`,
  );
}

export function splitClark(name: string): [string, string] {
  const end = name.indexOf("}");
  return [name.slice(1, end), name.slice(end + 1)];
}

/** The entry for a resolved target. */
export function entryOf(target: Target, depth = 0): Entry | null {
  switch (target.type) {
    case "root":
      return { kind: "root", href: DAV_PREFIX };
    case "principals":
      return { kind: "principals", href: hrefOf(["principals"], true) };
    case "space":
      return { kind: "space", href: hrefOf([target.space], true), space: target.space };
    case "principal":
      return { kind: "principal", href: principalHref(target.account), account: target.account };
    case "node":
      return {
        kind: "node",
        href: hrefOf(target.segments, target.node.isCollection),
        node: target.node,
        space: target.space,
        owner: target.owner,
        depth,
        access: target.access,
      };
    default:
      return null;
  }
}

/** The request path as sent, with the trailing slash a collection's href has. */
export function requestHref(dav: DavRequest, entry: Entry): string {
  const collection = entry.kind !== "node" || entry.node.isCollection;
  if (collection && !dav.path.endsWith("/")) return `${dav.path}/`;
  if (!collection && dav.path.endsWith("/")) return dav.path.slice(0, -1);
  return dav.path;
}

/** Members of an entry, for Depth: 1. */
export async function membersOf(dav: DavRequest, entry: Entry): Promise<Entry[]> {
  switch (entry.kind) {
    case "root":
      return [
        { kind: "principals", href: hrefOf(["principals"], true) },
        ...SPACES.map((space): Entry => ({ kind: "space", href: hrefOf([space], true), space })),
      ];
    case "principals":
      return [{ kind: "principal", href: principalHref(dav.account), account: dav.account }];
    case "space": {
      const chain = await dav.app.store.dav.lookup(dav.account.id, [entry.space]);
      if (!chain) return [];
      return [{
        kind: "node",
        href: homeHref(entry.space, dav.account),
        node: chain[0],
        space: entry.space,
        owner: dav.account,
        depth: 1,
      }];
    }
    case "principal":
      return [];
    case "node": {
      if (!entry.node.isCollection) return [];
      const base = entry.href.endsWith("/") ? entry.href : `${entry.href}/`;
      const members: Entry[] = (await dav.app.store.dav.children(entry.node.id)).map((node) => ({
        kind: "node",
        href: `${base}${encodeSegment(node.name)}${node.isCollection ? "/" : ""}`,
        node,
        space: entry.space,
        owner: entry.owner,
        depth: entry.depth + 1,
        access: entry.access,
      }));
      if (entry.node.kind === "root" && entry.owner.id === dav.account.id) {
        for (const { node, share, owner } of await sharedMembers(dav, entry.space)) {
          members.push({
            kind: "node",
            href: `${base}${mountName(node)}/`,
            node,
            space: entry.space,
            owner,
            depth: entry.depth + 1,
            access: share.access,
            mounted: true,
          });
        }
      }
      return members;
    }
  }
}

/** Reads a PROPFIND body into what to return. */
export function propfindRequest(body: XmlElement | null):
  | { mode: "prop"; names: XmlElement[] }
  | { mode: "allprop"; include: XmlElement[] }
  | { mode: "propname" }
  | null {
  if (body === null) return { mode: "allprop", include: [] };
  if (body.ns !== DAV_NS || body.name !== "propfind") return null;
  const first = body.children.find((c) => c.ns === DAV_NS);
  if (!first) return null;
  if (first.name === "prop") return { mode: "prop", names: first.children };
  if (first.name === "propname") return { mode: "propname" };
  if (first.name === "allprop") {
    const include = body.children.find((c) => c.ns === DAV_NS && c.name === "include");
    return { mode: "allprop", include: include?.children ?? [] };
  }
  return null;
}

export async function handlePropfind(dav: DavRequest): Promise<Response> {
  const body = await readXml(dav);
  if (body instanceof Response) return body;
  const request = propfindRequest(body);
  if (!request) return textResponse(400, "The PROPFIND body must be a propfind element.");
  const depth = depthOf(dav.request, "infinity");
  if (depth === null) return textResponse(400, "Depth must be 0, 1 or infinity.");
  if (depth === "infinity" && !dav.service.limits.allowDepthInfinity) {
    return preconditionFailed(403, DAV_NS, "propfind-finite-depth");
  }
  const found = entryOf(dav.target);
  if (!found) return textResponse(404, "Not found.");
  // The request URI is answered with the href as the client wrote it (clients compare them).
  const entry = { ...found, href: requestHref(dav, found) } as Entry;
  const { renderObjectProp } = await import("./report.ts");
  const names = request.mode === "prop" ? request.names : [];
  const wantsAcl = names.some((n) => n.ns === DAV_NS && n.name === "acl");
  // One level at a time: calendar-data/address-data of its members are read in one batch, and
  // DAV:acl (which needs the store) is read here rather than among the synchronous live ones.
  const respond = async (entries: Entry[]) => {
    const objects = await renderObjectProp(dav, names, entries);
    const out: XmlElement[] = [];
    for (const e of entries) {
      const object = await objects(e);
      const owned = e.kind === "node" && e.node.isCollection && (e.access ?? "owner") === "owner";
      const acl = wantsAcl && owned && e.kind === "node"
        ? await aclProperty(dav, e.node, e.owner)
        : null;
      out.push(
        propResponse(
          dav,
          e,
          request,
          (name) => name.ns === DAV_NS && name.name === "acl" ? acl : object?.(name),
        ),
      );
    }
    return out;
  };
  let level = [entry];
  const responses = await respond(level);
  let remaining = depth === "infinity" ? Number.POSITIVE_INFINITY : depth;
  while (remaining > 0 && level.length > 0) {
    const next: Entry[] = [];
    for (const e of level) next.push(...await membersOf(dav, e));
    responses.push(...await respond(next));
    level = next;
    remaining--;
  }
  return xmlResponse(207, el(DAV_NS, "multistatus", responses));
}

/** Protected (live) property names, which PROPPATCH refuses. */
function isProtected(dav: DavRequest, entry: Entry, key: string): boolean {
  if (WRITABLE.has(key)) return false;
  return liveProperties(dav, entry).has(key) || key === clark(DAV_NS, "resourcetype") ||
    key === clark(CALDAV_NS, "supported-calendar-component-set");
}

export async function handleProppatch(dav: DavRequest): Promise<Response> {
  const body = await readXml(dav);
  if (body instanceof Response) return body;
  if (!body || body.ns !== DAV_NS || body.name !== "propertyupdate") {
    return textResponse(400, "The PROPPATCH body must be a propertyupdate element.");
  }
  const target = dav.target;
  const entry = entryOf(target);
  if (!entry) return textResponse(404, "Not found.");
  const changes = new Map<string, string | null>();
  const refused = new Set<string>();
  const order: XmlElement[] = [];
  for (const action of body.children) {
    if (action.ns !== DAV_NS || (action.name !== "set" && action.name !== "remove")) continue;
    const prop = action.children.find((c) => c.ns === DAV_NS && c.name === "prop");
    for (const value of prop?.children ?? []) {
      const key = clark(value.ns, value.name);
      order.push(el(value.ns, value.name));
      if (entry.kind !== "node" || isProtected(dav, entry, key)) {
        refused.add(key);
        continue;
      }
      changes.set(key, action.name === "set" ? serializeProp(value) : null);
    }
  }
  if (target.type === "node") {
    const guard = await guardWrite(dav, etagOf(target.node), { paths: [targetKey(dav)] });
    if (guard) return guard;
  }
  const statusOf = (key: string) =>
    refused.has(key)
      ? "HTTP/1.1 403 Forbidden"
      : refused.size
      ? "HTTP/1.1 424 Failed Dependency"
      : "HTTP/1.1 200 OK";
  if (refused.size === 0 && changes.size > 0 && target.type === "node") {
    await dav.app.store.dav.patchProps(target.node.id, changes);
  }
  const byStatus = new Map<string, XmlElement[]>();
  const seen = new Set<string>();
  for (const name of order) {
    const key = clark(name.ns, name.name);
    if (seen.has(key)) continue;
    seen.add(key);
    const status = statusOf(key);
    byStatus.set(status, [...(byStatus.get(status) ?? []), name]);
  }
  const propstats = [...byStatus].map(([status, names]) => {
    const parts = [el(DAV_NS, "prop", names), el(DAV_NS, "status", [status])];
    if (status.includes("403")) {
      parts.push(el(DAV_NS, "error", [el(DAV_NS, "cannot-modify-protected-property")]));
    }
    return el(DAV_NS, "propstat", parts);
  });
  return xmlResponse(
    207,
    el(DAV_NS, "multistatus", [el(DAV_NS, "response", [href(entry.href), ...propstats])]),
  );
}
