/**
 * REPORT (RFC 3253 3.6) for CalDAV (calendar-query, calendar-multiget, free-busy-query:
 * RFC 4791 7), CardDAV (addressbook-query, addressbook-multiget: RFC 6352 8), sync-collection
 * (RFC 6578) and the principal reports clients use to find accounts (RFC 3744 9.3, 9.4).
 *
 * Implementation notes:
 * - Queries read the collection's index first (calendarCandidates pre-filters by the time range
 *   of the query's top comp-filter), then the objects' text in one batch, then parse and match
 *   each. Objects that no longer parse are skipped, never a failed report.
 * - calendar-data and address-data are rendered by the iCalendar and vCard modules; with no
 *   selection the stored text is returned byte for byte.
 * - principal-property-search finds only the requesting account: other accounts' names and
 *   addresses are not disclosed to every user.
 */
import type { DavNode } from "../store/dav_types.ts";
import { type DavRequest, preconditionFailed, readXml, textResponse, xmlResponse } from "./http.ts";
import { CALDAV_NS, CARDDAV_NS, child, children, DAV_NS, el, type XmlElement } from "./xml.ts";
import { type Entry, entryOf, propResponse } from "./props.ts";
import { syncCollection } from "./sync.ts";
import { DAV_PREFIX, hrefOf, resolve } from "./resolve.ts";
import { encodeSegment, parseDavPath } from "./paths.ts";
import {
  CalendarFilterError,
  checkCalendarFilter,
  freeBusy,
  ICalError,
  matchCalendarFilter,
  parseICalendar,
  renderCalendarData,
  type VComponent,
} from "./ical/mod.ts";
import { parseVCards, type VCard } from "./vcard.ts";
import {
  AddressDataConversionError,
  CardFilterError,
  checkAddressFilter,
  matchAddressFilter,
  renderAddressData,
} from "./card_filter.ts";
import { parseIcalTime } from "./ical_time.ts";
import { foldText } from "./collation.ts";

export async function handleReport(dav: DavRequest): Promise<Response> {
  const body = await readXml(dav);
  if (body instanceof Response) return body;
  if (!body) return textResponse(400, "REPORT needs a body.");
  const key = `{${body.ns}}${body.name}`;
  switch (key) {
    case `{${DAV_NS}}sync-collection`:
      return await syncCollection(dav, body, (entries, names) => render(dav, entries, names));
    case `{${CALDAV_NS}}calendar-multiget`:
    case `{${CARDDAV_NS}}addressbook-multiget`:
      return await multiget(dav, body);
    case `{${CALDAV_NS}}calendar-query`:
      return await calendarQuery(dav, body);
    case `{${CARDDAV_NS}}addressbook-query`:
      return await addressbookQuery(dav, body);
    case `{${CALDAV_NS}}free-busy-query`:
      return await freeBusyQuery(dav, body);
    case `{${DAV_NS}}principal-property-search`:
      return principalSearch(dav, body);
    case `{${DAV_NS}}principal-search-property-set`:
      return xmlResponse(
        200,
        el(DAV_NS, "principal-search-property-set", [
          searchable(DAV_NS, "displayname", "Display name"),
          searchable(CALDAV_NS, "calendar-user-address-set", "Calendar address"),
        ]),
      );
    case `{${DAV_NS}}expand-property`:
      return expandProperty(dav, body);
    default:
      return preconditionFailed(403, DAV_NS, "supported-report");
  }
}

function searchable(ns: string, name: string, description: string): XmlElement {
  return el(DAV_NS, "principal-search-property", [
    el(DAV_NS, "prop", [el(ns, name)]),
    el(DAV_NS, "description", [description], { "xml:lang": "en" }),
  ]);
}

/** Property names of a report body: its DAV:prop children (allprop = RFC 4918's set). */
function requested(body: XmlElement): XmlElement[] {
  return child(body, DAV_NS, "prop")?.children ?? [
    el(DAV_NS, "getetag"),
  ];
}

/**
 * Renders responses for entries, reading object contents in one batch when calendar-data or
 * address-data is asked for.
 */
async function render(
  dav: DavRequest,
  entries: Entry[],
  names: XmlElement[],
): Promise<XmlElement[]> {
  const extra = await renderObjectProp(dav, names, entries);
  const out: XmlElement[] = [];
  for (const entry of entries) {
    out.push(propResponse(dav, entry, { mode: "prop", names }, await extra(entry)));
  }
  return out;
}

type Extra = (
  entry: Entry,
) => Promise<((name: XmlElement) => XmlElement | null | undefined) | undefined>;

/**
 * calendar-data / address-data values for PROPFIND and REPORT responses. `entries`, when given,
 * are read in one batch up front.
 */
export async function renderObjectProp(
  dav: DavRequest,
  names: XmlElement[],
  entries: Entry[] = [],
): Promise<Extra> {
  const calendarData = names.find((n) => n.ns === CALDAV_NS && n.name === "calendar-data");
  const addressData = names.find((n) => n.ns === CARDDAV_NS && n.name === "address-data");
  if (!calendarData && !addressData) return () => Promise.resolve(undefined);
  const ids = entries.flatMap((e) => e.kind === "node" && !e.node.isCollection ? [e.node.id] : []);
  const contents = ids.length ? await dav.app.store.dav.contents(ids) : new Map<number, string>();
  return async (entry) => {
    if (entry.kind !== "node" || entry.node.isCollection) return undefined;
    const node = entry.node;
    let text = contents.get(node.id);
    if (text === undefined) text = (await dav.app.store.dav.contents([node.id])).get(node.id);
    return (name: XmlElement) => {
      const isCalendar = name.ns === CALDAV_NS && name.name === "calendar-data";
      const isAddress = name.ns === CARDDAV_NS && name.name === "address-data";
      if (!isCalendar && !isAddress) return undefined;
      if (text === undefined) return null;
      try {
        if (isCalendar && node.component) {
          const root = name.children.length ? parseICalendar(text, dav.service.limits.ical) : null;
          const value = root && name.children.length
            ? renderCalendarData(text, root, name, dav.service.limits.ical)
            : text;
          return el(CALDAV_NS, "calendar-data", [value]);
        }
        if (isAddress && !node.component) {
          if (!name.children.length && !name.attributes.size) {
            return el(CARDDAV_NS, "address-data", [text]);
          }
          const card = parseVCards(text, dav.service.limits.vcard)[0];
          return el(CARDDAV_NS, "address-data", [renderAddressData(text, card, name)]);
        }
      } catch (error) {
        if (error instanceof AddressDataConversionError) throw error;
        return null;
      }
      return null;
    };
  };
}

async function multiget(dav: DavRequest, body: XmlElement): Promise<Response> {
  const names = requested(body);
  const entries: Entry[] = [];
  const missing: string[] = [];
  for (const hrefElement of children(body, DAV_NS, "href")) {
    const raw = hrefElement.text.trim();
    let path: string;
    try {
      path = new URL(raw, dav.request.url).pathname;
    } catch {
      missing.push(raw);
      continue;
    }
    const parsed = parseDavPath(path, DAV_PREFIX);
    const target = parsed ? await resolve(dav.app, dav.account, parsed.segments) : null;
    const entry = target?.type === "node" && !target.node.isCollection ? entryOf(target, 1) : null;
    if (entry) entries.push({ ...entry, href: raw } as Entry);
    else missing.push(raw);
  }
  let responses: XmlElement[];
  try {
    responses = await render(dav, entries, names);
  } catch (error) {
    if (error instanceof AddressDataConversionError) {
      return preconditionFailed(403, CARDDAV_NS, "supported-address-data");
    }
    throw error;
  }
  for (const href of missing) {
    responses.push(el(DAV_NS, "response", [
      el(DAV_NS, "href", [href]),
      el(DAV_NS, "status", ["HTTP/1.1 404 Not Found"]),
    ]));
  }
  return xmlResponse(207, el(DAV_NS, "multistatus", responses));
}

/** The collection a query runs over (the request URI), or a Response. */
function queryCollection(dav: DavRequest, kind: DavNode["kind"]): DavNode | Response | null {
  const target = dav.target;
  if (target.type !== "node") return textResponse(404, "Not found.");
  if (!target.node.isCollection) return null;
  if (
    target.node.kind !== kind && !(kind === "calendar" && target.node.kind === "schedule-inbox")
  ) {
    return preconditionFailed(403, DAV_NS, "supported-report");
  }
  return target.node;
}

/** The time range of the top-level component filter, for the index pre-filter. */
function queryRange(filter: XmlElement): { start: number | null; end: number | null } {
  const vcalendar = child(filter, CALDAV_NS, "comp-filter");
  const component = vcalendar ? child(vcalendar, CALDAV_NS, "comp-filter") : undefined;
  const range = component ? child(component, CALDAV_NS, "time-range") : undefined;
  if (!range) return { start: null, end: null };
  const start = parseIcalTime(range.attributes.get("start"));
  const end = parseIcalTime(range.attributes.get("end"));
  // Floating instances are stored in UTC: widen by 14 hours either way.
  const slack = 14 * 3600 * 1000;
  return {
    start: start === null ? null : start - slack,
    end: end === null ? null : end + slack,
  };
}

async function calendarQuery(dav: DavRequest, body: XmlElement): Promise<Response> {
  const filter = child(body, CALDAV_NS, "filter");
  if (!filter) return preconditionFailed(403, CALDAV_NS, "valid-filter", "No filter.");
  try {
    checkCalendarFilter(filter);
  } catch (error) {
    if (error instanceof CalendarFilterError) {
      return preconditionFailed(403, CALDAV_NS, error.precondition, error.message);
    }
    throw error;
  }
  const collection = queryCollection(dav, "calendar");
  if (collection instanceof Response) return collection;
  const target = dav.target;
  if (target.type !== "node") return textResponse(404, "Not found.");
  const range = queryRange(filter);
  const candidates = collection
    ? await dav.app.store.dav.calendarCandidates(collection.id, range.start, range.end)
    : [target.node];
  const contents = await dav.app.store.dav.contents(candidates.map((n) => n.id));
  const parsed = new Map<number, VComponent>();
  const entries: Entry[] = [];
  const base = collection ? hrefOf(target.segments, true) : null;
  const floatingZone = queryTimezone(body, collection ?? target.chain[target.chain.length - 2]);
  const mustContain = requiredTexts(filter);
  for (const node of candidates) {
    const text = contents.get(node.id);
    if (text === undefined) continue;
    if (mustContain.length && !containsAll(text, mustContain)) continue;
    let root: VComponent;
    try {
      root = parseICalendar(text, dav.service.limits.ical);
    } catch (error) {
      if (error instanceof ICalError) continue;
      throw error;
    }
    let matched: boolean;
    try {
      matched = matchCalendarFilter(root, filter, {
        limits: dav.service.limits.ical,
        floatingZone,
      });
    } catch (error) {
      if (error instanceof CalendarFilterError) {
        return preconditionFailed(403, CALDAV_NS, error.precondition, error.message);
      }
      throw error;
    }
    if (!matched) continue;
    parsed.set(node.id, root);
    entries.push({
      kind: "node",
      href: base ? `${base}${encodeSegment(node.name)}` : hrefOf(target.segments, false),
      node,
      space: target.space,
      owner: target.owner,
      depth: 1,
    });
  }
  const names = requested(body);
  const responses: XmlElement[] = [];
  for (const entry of entries) {
    const content = entry.kind === "node" ? contents.get(entry.node.id) : undefined;
    responses.push(
      propResponse(
        dav,
        entry,
        { mode: "prop", names },
        calendarDataOf(dav, entry, content, parsed),
      ),
    );
  }
  return xmlResponse(207, el(DAV_NS, "multistatus", responses));
}

/** calendar-data from the text and tree a query already has (no second read or parse). */
function calendarDataOf(
  dav: DavRequest,
  entry: Entry,
  text: string | undefined,
  parsed: Map<number, VComponent>,
): (name: XmlElement) => XmlElement | null | undefined {
  return (name) => {
    if (name.ns !== CALDAV_NS || name.name !== "calendar-data") return undefined;
    if (entry.kind !== "node" || text === undefined) return null;
    const root = parsed.get(entry.node.id);
    if (!name.children.length || !root) return el(CALDAV_NS, "calendar-data", [text]);
    try {
      return el(CALDAV_NS, "calendar-data", [
        renderCalendarData(text, root, name, dav.service.limits.ical),
      ]);
    } catch {
      return null;
    }
  };
}

async function addressbookQuery(dav: DavRequest, body: XmlElement): Promise<Response> {
  const filter = child(body, CARDDAV_NS, "filter");
  if (!filter) return preconditionFailed(403, CARDDAV_NS, "valid-filter", "No filter.");
  try {
    checkAddressFilter(filter);
  } catch (error) {
    if (error instanceof CardFilterError) {
      return preconditionFailed(403, CARDDAV_NS, error.precondition, error.message);
    }
    throw error;
  }
  const collection = queryCollection(dav, "addressbook");
  if (collection instanceof Response) return collection;
  const target = dav.target;
  if (target.type !== "node") return textResponse(404, "Not found.");
  const nodes = collection
    ? (await dav.app.store.dav.children(collection.id)).filter((n) => !n.isCollection)
    : [target.node];
  const contents = await dav.app.store.dav.contents(nodes.map((n) => n.id));
  const limitText = child(child(body, CARDDAV_NS, "limit") ?? el("", "x"), CARDDAV_NS, "nresults")
    ?.text.trim();
  const limit = limitText && /^\d+$/.test(limitText) ? Number(limitText) : Infinity;
  const base = collection ? hrefOf(target.segments, true) : null;
  const names = requested(body);
  const responses: XmlElement[] = [];
  let truncated = false;
  const cardNeedles = requiredCardTexts(filter);
  for (const node of nodes) {
    const text = contents.get(node.id);
    if (text === undefined) continue;
    if (cardNeedles.length && !cardContainsAll(text, cardNeedles)) continue;
    let card: VCard;
    try {
      card = parseVCards(text, dav.service.limits.vcard)[0];
    } catch {
      continue;
    }
    if (!card || !matchAddressFilter(card, filter)) continue;
    if (responses.length >= limit) {
      truncated = true;
      break;
    }
    const entry: Entry = {
      kind: "node",
      href: base ? `${base}${encodeSegment(node.name)}` : hrefOf(target.segments, false),
      node,
      space: target.space,
      owner: target.owner,
      depth: 1,
    };
    try {
      responses.push(propResponse(dav, entry, { mode: "prop", names }, (name) => {
        if (name.ns !== CARDDAV_NS || name.name !== "address-data") return undefined;
        if (!name.children.length && !name.attributes.size) {
          return el(CARDDAV_NS, "address-data", [text]);
        }
        return el(CARDDAV_NS, "address-data", [renderAddressData(text, card, name)]);
      }));
    } catch (error) {
      if (error instanceof AddressDataConversionError) {
        return preconditionFailed(403, CARDDAV_NS, "supported-address-data");
      }
      throw error;
    }
  }
  if (truncated) {
    responses.push(el(DAV_NS, "response", [
      el(DAV_NS, "href", [dav.path]),
      el(DAV_NS, "status", ["HTTP/1.1 507 Insufficient Storage"]),
      el(DAV_NS, "error", [el(DAV_NS, "number-of-matches-within-limits")]),
    ]));
  }
  return xmlResponse(207, el(DAV_NS, "multistatus", responses));
}

async function freeBusyQuery(dav: DavRequest, body: XmlElement): Promise<Response> {
  const range = child(body, CALDAV_NS, "time-range");
  const start = parseIcalTime(range?.attributes.get("start"));
  const end = parseIcalTime(range?.attributes.get("end"));
  if (start === null || end === null || end <= start) {
    return preconditionFailed(403, CALDAV_NS, "valid-filter", "A time-range with start and end.");
  }
  const collection = queryCollection(dav, "calendar");
  if (collection instanceof Response) return collection;
  if (!collection) return preconditionFailed(403, DAV_NS, "supported-report");
  const candidates = await dav.app.store.dav.calendarCandidates(collection.id, start, end);
  const contents = await dav.app.store.dav.contents(candidates.map((n) => n.id));
  const objects: VComponent[] = [];
  for (const text of contents.values()) {
    try {
      objects.push(parseICalendar(text, dav.service.limits.ical));
    } catch {
      // An object that no longer parses contributes nothing.
    }
  }
  return new Response(freeBusy(objects, start, end, dav.service.limits.ical), {
    status: 200,
    headers: { "content-type": "text/calendar; charset=utf-8" },
  });
}

function principalSearch(dav: DavRequest, body: XmlElement): Response {
  const account = dav.account;
  const haystacks = [account.address, account.displayName, `mailto:${account.address}`]
    .map((s) => s.toLowerCase());
  const searches = children(body, DAV_NS, "property-search");
  const anyOf = body.attributes.get("test") === "anyof";
  const matches = searches.map((search) => {
    const needle = (child(search, DAV_NS, "match")?.text ?? "").toLowerCase();
    return haystacks.some((h) => h.includes(needle.replace(/^mailto:/, "")));
  });
  const matched = searches.length === 0
    ? false
    : anyOf
    ? matches.some(Boolean)
    : matches.every(Boolean);
  const names = child(body, DAV_NS, "prop")?.children ?? [];
  const responses = matched
    ? [
      propResponse(dav, {
        kind: "principal",
        href: hrefOf(["principals", account.address], true),
        account,
      }, {
        mode: "prop",
        names,
      }),
    ]
    : [];
  return xmlResponse(207, el(DAV_NS, "multistatus", responses));
}

/**
 * expand-property (RFC 3253 3.8) as clients use it on principals: the named properties of the
 * request URI (hrefs are returned as they are, not expanded).
 */
function expandProperty(dav: DavRequest, body: XmlElement): Response {
  const entry = entryOf(dav.target);
  if (!entry) return textResponse(404, "Not found.");
  const names = children(body, DAV_NS, "property").map((p) =>
    el(p.attributes.get("namespace") ?? DAV_NS, p.attributes.get("name") ?? "")
  );
  return xmlResponse(
    207,
    el(DAV_NS, "multistatus", [propResponse(dav, entry, { mode: "prop", names })]),
  );
}

/** An IANA zone name this runtime knows, or undefined. */
function knownZone(name: string | undefined): string | undefined {
  if (!name) return undefined;
  try {
    new Intl.DateTimeFormat("en", { timeZone: name });
    return name;
  } catch {
    return undefined;
  }
}

function tzidIn(text: string | undefined): string | undefined {
  return text ? /^TZID:(.+)$/m.exec(text.replaceAll("\r\n", "\n"))?.[1]?.trim() : undefined;
}

/**
 * The zone floating times are read in for a query (RFC 4791 7.3, RFC 7809 5.2): the request's
 * timezone-id or timezone, else the calendar's calendar-timezone-id or calendar-timezone;
 * undefined (UTC) when none names a zone this runtime knows.
 */
function queryTimezone(body: XmlElement, calendar: DavNode): string | undefined {
  const stored = (name: string) => {
    const xml = calendar.props[`{${CALDAV_NS}}${name}`];
    return xml ? /<[^>]*>([\s\S]*)<\/[^>]*>\s*$/.exec(xml)?.[1] : undefined;
  };
  const decode = (text: string | undefined) =>
    text?.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&#13;/g, "\r").replace(
      /&amp;/g,
      "&",
    );
  return knownZone(child(body, CALDAV_NS, "timezone-id")?.text.trim()) ??
    knownZone(tzidIn(child(body, CALDAV_NS, "timezone")?.text)) ??
    knownZone(decode(stored("calendar-timezone-id"))?.trim()) ??
    knownZone(tzidIn(decode(stored("calendar-timezone"))));
}

/**
 * Texts every matching object must contain somewhere, from the filter's text-match elements
 * (RFC 4791 9.7: all conditions of a calendar filter must hold, so each non-negated text-match
 * must match some property or parameter value). Only needles that read the same in the raw
 * object (no characters iCalendar escapes or quotes) under a collation that folds at most
 * ASCII are used; objects without them are skipped unparsed. Lowercased for i;ascii-casemap.
 */
function requiredTexts(filter: XmlElement): { needle: string; fold: boolean }[] {
  const out: { needle: string; fold: boolean }[] = [];
  const pending = [filter];
  while (pending.length) {
    const element = pending.pop()!;
    for (const c of element.children) {
      if (c.ns !== CALDAV_NS) continue;
      if (c.name === "text-match") {
        const collation = c.attributes.get("collation") ?? "i;ascii-casemap";
        if (c.attributes.get("negate-condition") === "yes") continue;
        if (collation !== "i;ascii-casemap" && collation !== "i;octet") continue;
        if (c.text === "" || /[\\,;"\r\n]/.test(c.text)) continue;
        const fold = collation === "i;ascii-casemap";
        out.push({ needle: fold ? asciiLower(c.text) : c.text, fold });
      } else if (
        c.name === "comp-filter" || c.name === "prop-filter" || c.name === "param-filter"
      ) {
        pending.push(c);
      }
    }
  }
  return out;
}

function asciiLower(text: string): string {
  return text.replace(/[A-Z]+/g, (run) => run.toLowerCase());
}

function containsAll(text: string, needles: { needle: string; fold: boolean }[]): boolean {
  const unfolded = text.replace(/\r?\n[ \t]/g, "");
  let lower: string | null = null;
  for (const { needle, fold } of needles) {
    const haystack = fold ? (lower ??= asciiLower(unfolded)) : unfolded;
    if (!haystack.includes(needle)) return false;
  }
  return true;
}

/**
 * Texts every card matching an addressbook-query must contain (RFC 6352 10.5: the filter's and
 * each prop-filter's test decide: a condition is required when its test is allof or it is the
 * only one). Needles with characters vCard escapes or quotes are not used.
 */
function requiredCardTexts(filter: XmlElement): { needle: string; collation: string }[] {
  const out: { needle: string; collation: string }[] = [];
  const add = (match: XmlElement | undefined) => {
    if (!match || match.attributes.get("negate-condition") === "yes") return;
    if (match.text === "" || /[\\,;"\r\n]/.test(match.text)) return;
    const given = match.attributes.get("collation");
    const collation = !given || given === "default" ? "i;unicode-casemap" : given;
    try {
      out.push({ needle: foldText(match.text, collation), collation });
    } catch {
      // An unknown collation was refused by checkAddressFilter already.
    }
  };
  const props = children(filter, CARDDAV_NS, "prop-filter");
  if (filter.attributes.get("test") !== "allof" && props.length !== 1) return out;
  for (const prop of props) {
    if (child(prop, CARDDAV_NS, "is-not-defined")) continue;
    const matches = children(prop, CARDDAV_NS, "text-match");
    const params = children(prop, CARDDAV_NS, "param-filter");
    if (prop.attributes.get("test") !== "allof" && matches.length + params.length !== 1) continue;
    for (const match of matches) add(match);
    for (const param of params) add(child(param, CARDDAV_NS, "text-match"));
  }
  return out;
}

function cardContainsAll(text: string, needles: { needle: string; collation: string }[]): boolean {
  // Quoted-printable values (vCard 2.1 leftovers) are decoded by the parser: no shortcut.
  if (/quoted-printable/i.test(text)) return true;
  const unfolded = text.replace(/\r?\n[ \t]/g, "");
  const folded = new Map<string, string>();
  for (const { needle, collation } of needles) {
    let haystack = folded.get(collation);
    if (haystack === undefined) {
      haystack = foldText(unfolded, collation);
      folded.set(collation, haystack);
    }
    if (!haystack.includes(needle)) return false;
  }
  return true;
}
