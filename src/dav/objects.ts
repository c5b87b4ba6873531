/**
 * Validation of what a client PUTs into a calendar (RFC 4791 5.3.2.1) or an address book
 * (RFC 6352 6.3.2.1): the object is parsed once here, and its UID, component type and time
 * bounds go into the store's index. Objects are stored exactly as sent.
 */
import type { DavNode } from "../store/dav_types.ts";
import { type DavRequest, preconditionFailed } from "./http.ts";
import { CALDAV_NS, CARDDAV_NS, parseXml } from "./xml.ts";
import { checkCalendarObject } from "./ical/mod.ts";
import { checkAddressObject } from "./vcard.ts";

export const DEFAULT_COMPONENTS = ["VEVENT", "VTODO", "VJOURNAL"];

/** The component names a calendar accepts (its supported-calendar-component-set). */
export function supportedComponents(calendar: DavNode): string[] {
  const stored = calendar.props[`{${CALDAV_NS}}supported-calendar-component-set`];
  if (!stored) return DEFAULT_COMPONENTS;
  try {
    const element = parseXml(stored, { maxBytes: 1 << 16, maxDepth: 8, maxElements: 100 });
    const names = element.children
      .filter((c) => c.ns === CALDAV_NS && c.name === "comp")
      .map((c) => (c.attributes.get("name") ?? "").toUpperCase());
    return names.length ? names : DEFAULT_COMPONENTS;
  } catch {
    return DEFAULT_COMPONENTS;
  }
}

export interface ValidatedObject {
  contentType: string;
  content: string;
  uid: string;
  component: string | null;
  timeStart: number | null;
  timeEnd: number | null;
}

export function validateObject(
  dav: DavRequest,
  parent: DavNode,
  bytes: Uint8Array,
): ValidatedObject | Response {
  const calendar = parent.kind === "calendar";
  const book = parent.kind === "addressbook";
  if (!calendar && !book) {
    return calendarOrBookOnly(parent);
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return calendar
      ? preconditionFailed(403, CALDAV_NS, "valid-calendar-data", "Not UTF-8.")
      : preconditionFailed(403, CARDDAV_NS, "valid-address-data", "Not UTF-8.");
  }
  if (calendar) {
    const check = checkCalendarObject(text, dav.service.limits.ical, supportedComponents(parent));
    if (!check.ok) return preconditionFailed(403, CALDAV_NS, check.precondition, check.message);
    return {
      contentType: "text/calendar; charset=utf-8",
      content: text,
      uid: check.uid,
      component: check.componentType,
      timeStart: check.timeStart,
      timeEnd: check.timeEnd,
    };
  }
  const check = checkAddressObject(text, dav.service.limits.vcard);
  if (!check.ok) return preconditionFailed(403, CARDDAV_NS, check.precondition, check.message);
  return {
    contentType: "text/vcard; charset=utf-8",
    content: text,
    uid: check.uid,
    component: null,
    timeStart: null,
    timeEnd: null,
  };
}

function calendarOrBookOnly(parent: DavNode): Response {
  if (parent.kind === "schedule-inbox" || parent.kind === "schedule-outbox") {
    return preconditionFailed(
      403,
      CALDAV_NS,
      "calendar-collection-location-ok",
      "Scheduling collections are written by the server.",
    );
  }
  return preconditionFailed(
    403,
    CALDAV_NS,
    "calendar-collection-location-ok",
    "Events go in a calendar and contacts in an address book.",
  );
}
