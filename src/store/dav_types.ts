/**
 * The DAV part of the store (CalDAV, CardDAV, WebDAV files): one tree of nodes per account.
 *
 * Each account has three roots, named "files", "calendars" and "addressbooks"; below them,
 * collections (plain, calendar, address book, scheduling inbox/outbox) and resources (files,
 * calendar objects, vCards). File bytes live in the blob store; calendar and address objects are
 * kept inline (they are small and every query reads them).
 *
 * Every write bumps the account modseq once and stamps it on the written node and on its parent
 * collection, so a collection's modseq is its CTag and the base of its sync tokens; members
 * removed leave a tombstone (name, modseq) in their collection until it is pruned, which raises
 * the collection's `syncFloor` (older tokens are then refused: RFC 6578 3.2 valid-sync-token).
 */

export type DavCollectionKind =
  | "root"
  | "collection"
  | "calendar"
  | "addressbook"
  | "schedule-inbox"
  | "schedule-outbox";

export type DavKind = DavCollectionKind | "resource";

export interface DavNode {
  id: number;
  accountId: number;
  /** null for the account's roots. */
  parentId: number | null;
  name: string;
  kind: DavKind;
  isCollection: boolean;
  contentType: string | null;
  size: number;
  /** Files: the content's blob. */
  blobHash: string | null;
  /** Strong entity tag, quotes included; null for collections. */
  etag: string | null;
  /** iCalendar/vCard UID of a calendar or address object. */
  uid: string | null;
  /** Component type of a calendar object (VEVENT, VTODO, ...). */
  component: string | null;
  /** UTC ms bounds of every instance of a calendar object; null = unbounded. */
  timeStart: number | null;
  timeEnd: number | null;
  /** Dead properties: Clark name "{ns}name" → the property element as XML text. */
  props: Record<string, string>;
  modseq: number;
  /** Collections: sync tokens below this modseq are no longer answerable. */
  syncFloor: number;
  createdAt: Date;
  updatedAt: Date;
}

/** What a PUT stores (the caller computed the etag and index fields). */
export interface DavResourceInput {
  contentType: string;
  size: number;
  etag: string;
  /** Files: the blob (written before this call when `blobWritten`). */
  blobHash?: string;
  blobWritten?: boolean;
  /** Calendar and address objects: the text. */
  content?: string;
  uid?: string | null;
  component?: string | null;
  timeStart?: number | null;
  timeEnd?: number | null;
}

export interface DavPutCondition {
  /** The stored etag must equal this (If-Match); "*" = must exist. */
  ifMatch?: string;
  /** "*" = must not exist (If-None-Match: *). */
  ifNoneMatch?: string;
  /** Calendar and address collections: refuse a second resource with the same UID. */
  uniqueUid?: boolean;
}

export type DavPutResult =
  | { ok: true; node: DavNode; created: boolean }
  | {
    ok: false;
    reason: "precondition" | "uid_conflict" | "quota" | "parent_missing" | "conflict";
    conflictName?: string;
  };

export interface DavChanges {
  /** Live members changed after the token, oldest change first. */
  changed: DavNode[];
  /** Names removed after the token, and the modseq of each removal (same order). */
  removed: string[];
  removedModseq: number[];
  modseq: number;
}

export interface DavShare {
  collectionId: number;
  ownerId: number;
  shareeId: number;
  access: "read" | "read-write";
}

export interface DavStore {
  /** The account's roots (created with the default calendar and address book on first use). */
  ensureHome(
    accountId: number,
    defaults: { calendarProps: Record<string, string>; addressbookProps: Record<string, string> },
  ): Promise<void>;
  /** The node at `names` below the account's roots (names[0] is the root's name), or null. */
  lookup(accountId: number, names: string[]): Promise<DavNode[] | null>;
  getNode(id: number): Promise<DavNode | null>;
  children(parentId: number): Promise<DavNode[]>;
  /** Inline content (calendar/address objects) of the given nodes. */
  contents(ids: number[]): Promise<Map<number, string>>;
  /**
   * Calendar objects of a collection that may have an instance in [start, end): the stored span
   * meets the range with inclusive ends (timeStart <= end, timeEnd >= start; null is
   * unbounded), so zero-length instances on either edge are candidates (RFC 4791 9.9).
   */
  calendarCandidates(collectionId: number, start: number | null, end: number | null): Promise<
    DavNode[]
  >;
  /** The account's calendar object with this UID (in any of its calendars), if any. */
  findCalendarObject(accountId: number, uid: string): Promise<DavNode | null>;
  createCollection(
    parentId: number,
    name: string,
    kind: DavCollectionKind,
    props: Record<string, string>,
  ): Promise<DavNode | null>;
  putResource(
    parentId: number,
    name: string,
    input: DavResourceInput,
    condition: DavPutCondition,
  ): Promise<DavPutResult>;
  /** Sets (value) and removes (null) dead properties, all or nothing. */
  patchProps(nodeId: number, changes: Map<string, string | null>): Promise<DavNode>;
  /** Deletes the node and everything below it; the blobs it held are released. */
  remove(nodeId: number): Promise<boolean>;
  /**
   * Copies or moves `nodeId` to `name` in `destParentId` (same account); an existing
   * destination is replaced when `overwrite`, else the result is "exists". A destination at or
   * below the source, or an overwritten destination holding the source, is "cycle".
   */
  copyMove(
    mode: "copy" | "move",
    nodeId: number,
    destParentId: number,
    name: string,
    options: { overwrite: boolean; depth: 0 | "infinity" },
  ): Promise<
    { ok: true; node: DavNode; replaced: boolean } | {
      ok: false;
      reason: "exists" | "quota" | "missing" | "cycle";
    }
  >;
  /**
   * Members of a collection changed or removed after `since` (0 = all live members); `modseq`
   * is the token to sync from next (the newest of the collection and its members).
   */
  changesSince(collectionId: number, since: number): Promise<DavChanges>;
  /** Forgets tombstones older than `before` (ms), raising each collection's sync floor. */
  pruneTombstones(before: number): Promise<number>;

  // Sharing (RFC 3744 grants of a collection to another local account).
  sharesOf(collectionId: number): Promise<DavShare[]>;
  sharedWith(shareeId: number): Promise<DavShare[]>;
  setShare(
    collectionId: number,
    shareeId: number,
    access: DavShare["access"] | null,
  ): Promise<void>;
}
