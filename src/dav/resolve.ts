/**
 * From a request path to what it names: the DAV root, the principals, an account's principal,
 * a node of an account's tree, or an unmapped name inside an existing collection.
 *
 * URL layout (all below /dav/):
 *   principals/<address>/                 the account's principal
 *   calendars/<address>/[<calendar>/[<object>]]   calendar home, calendars, objects
 *   addressbooks/<address>/[<book>/[<card>]]      address book home, books, cards
 *   files/<address>/...                   the file space (any depth)
 *
 * Implementation notes:
 * - An account reaches only its own tree (and collections shared with it, src/dav/sharing.ts):
 *   any other owner segment resolves as "forbidden", never as a lookup in someone else's tree.
 * - Addresses compare case-insensitively; hrefs are always written with the stored address.
 */
import type { Account } from "../store/types.ts";
import type { DavNode } from "../store/dav_types.ts";
import type { App } from "../app.ts";
import { davHref } from "./paths.ts";

export const DAV_PREFIX = "/dav/";
export type Space = "files" | "calendars" | "addressbooks";
export const SPACES: Space[] = ["files", "calendars", "addressbooks"];

export type Access = "owner" | "read" | "read-write";

export type Target =
  | { type: "root" }
  | { type: "principals" }
  | { type: "principal"; account: Account }
  | { type: "space"; space: Space }
  | {
    type: "node";
    owner: Account;
    space: Space;
    /** Nodes from the space root (the home) to the target. */
    chain: DavNode[];
    node: DavNode;
    access: Access;
    /** Path segments after /dav/. */
    segments: string[];
  }
  | {
    type: "missing";
    owner: Account;
    space: Space;
    /** The existing parent collection, or null when the parent is missing too. */
    parent: DavNode | null;
    parentChain: DavNode[];
    name: string;
    access: Access;
    segments: string[];
  }
  | { type: "forbidden" }
  | { type: "not_found" };

/** The href of `segments` below /dav/. */
export function hrefOf(segments: string[], collection: boolean): string {
  return davHref(DAV_PREFIX, segments, collection);
}

export function principalHref(account: Account): string {
  return hrefOf(["principals", account.address], true);
}

export function homeHref(space: Space, account: Account): string {
  return hrefOf([space, account.address], true);
}

/** Segments of a node given its chain from the home. */
export function nodeSegments(space: Space, owner: Account, chain: DavNode[]): string[] {
  return [space, owner.address, ...chain.slice(1).map((n) => n.name)];
}

export async function resolve(
  app: App,
  account: Account,
  segments: string[],
): Promise<Target> {
  if (segments.length === 0) return { type: "root" };
  const [first, owner, ...rest] = segments;
  if (first === "principals") {
    if (owner === undefined) return { type: "principals" };
    if (rest.length > 0) return { type: "not_found" };
    const found = owner.toLowerCase() === account.address.toLowerCase()
      ? account
      : await app.store.getAccount(owner.toLowerCase());
    return found ? { type: "principal", account: found } : { type: "not_found" };
  }
  if (!SPACES.includes(first as Space)) return { type: "not_found" };
  const space = first as Space;
  if (owner === undefined) return { type: "space", space };
  if (owner.toLowerCase() !== account.address.toLowerCase()) return { type: "forbidden" };
  const shareId = rest.length > 0 ? sharedCollectionId(rest[0]) : null;
  if (shareId !== null) return await resolveShared(app, account, space, shareId, rest);
  const names = [space, ...rest];
  const chain = await app.store.dav.lookup(account.id, names);
  const canonical = [space, account.address, ...rest];
  if (chain) {
    return {
      type: "node",
      owner: account,
      space,
      chain,
      node: chain[chain.length - 1],
      access: "owner",
      segments: canonical,
    };
  }
  const parentChain = rest.length > 0
    ? await app.store.dav.lookup(account.id, names.slice(0, -1))
    : null;
  return {
    type: "missing",
    owner: account,
    space,
    parent: parentChain ? parentChain[parentChain.length - 1] : null,
    parentChain: parentChain ?? [],
    name: rest[rest.length - 1] ?? "",
    access: "owner",
    segments: canonical,
  };
}

/** The prefix of a shared collection's name in the sharee's home: "shared-<collection id>". */
export const SHARED_PREFIX = "shared-";

/** The collection id a home member name stands for, or null for an ordinary name. */
export function sharedCollectionId(name: string): number | null {
  const match = /^shared-(\d{1,15})$/.exec(name);
  return match ? Number(match[1]) : null;
}

/**
 * A collection another account shared with `account`, mounted in its home as
 * "shared-<id>" (and what lies below it).
 */
async function resolveShared(
  app: App,
  account: Account,
  space: Space,
  collectionId: number,
  rest: string[],
): Promise<Target> {
  const share = (await app.store.dav.sharedWith(account.id))
    .find((s) => s.collectionId === collectionId);
  const collection = share ? await app.store.dav.getNode(collectionId) : null;
  const expected = space === "calendars"
    ? "calendar"
    : space === "addressbooks"
    ? "addressbook"
    : "";
  if (!share || !collection || collection.kind !== expected) return { type: "not_found" };
  const owner = await app.store.getAccountById(share.ownerId);
  if (!owner) return { type: "not_found" };
  const home = await app.store.dav.lookup(owner.id, [space]);
  if (!home) return { type: "not_found" };
  const canonical = [space, account.address, ...rest];
  const chain = [home[0], collection];
  if (rest.length === 1) {
    return {
      type: "node",
      owner,
      space,
      chain,
      node: collection,
      access: share.access,
      segments: canonical,
    };
  }
  if (rest.length > 2) return { type: "not_found" };
  const member = await app.store.dav.lookup(owner.id, [space, collection.name, rest[1]]);
  if (member) {
    return {
      type: "node",
      owner,
      space,
      chain: member,
      node: member[member.length - 1],
      access: share.access,
      segments: canonical,
    };
  }
  return {
    type: "missing",
    owner,
    space,
    parent: collection,
    parentChain: chain,
    name: rest[1],
    access: share.access,
    segments: canonical,
  };
}
