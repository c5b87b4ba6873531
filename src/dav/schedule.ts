/**
 * Implicit scheduling (RFC 6638 3.2): when an organizer stores, changes or deletes an event
 * with attendees, or an attendee answers or deletes one, the server sends the iTIP messages
 * (RFC 5546) itself: into the schedule inbox and calendar of local users, and by iMIP e-mail
 * (RFC 6047) through the SMTP queue to everyone else.
 *
 * Implementation notes:
 * - Planning happens before the write and delivery after it: the organizer's stored copy gets a
 *   SCHEDULE-STATUS on each attendee it was sent to (1.2 delivered here, 1.1 sent by mail, 3.7
 *   no such user in a local domain), so the stored text may differ from the client's and the
 *   PUT then answers without an ETag (RFC 6638 3.2.1, RFC 4791 5.3.4).
 * - A REQUEST goes out only when something other than the attendees' answers and the stamps
 *   changed (RFC 6638 3.2.1.2: "significant" changes), so a client re-uploading the organizer
 *   copy does not re-invite everyone.
 * - Local delivery auto-processes the message (as Stalwart and Apple do): a REQUEST creates or
 *   updates the attendee's copy in their default calendar (keeping their answer), a CANCEL marks
 *   it STATUS:CANCELLED, a REPLY records the attendee's PARTSTAT in the organizer's copy. Copies
 *   written here never trigger scheduling themselves.
 * - Attendees or organizers with SCHEDULE-AGENT=CLIENT or NONE are left to the client.
 * - iMIP mail is sent as the calendar's owner (From: the owner; DKIM-signed like submission).
 */
import type { Account } from "../store/types.ts";
import type { DavNode } from "../store/dav_types.ts";
import { type DavRequest, defaultCollections, preconditionFailed, xmlResponse } from "./http.ts";
import { readCapped } from "../jmap/http.ts";
import { CALDAV_NS, DAV_NS, el, type XmlElement } from "./xml.ts";
import { parseIcalTime } from "./ical_time.ts";
import {
  checkCalendarObject,
  freeBusy,
  type ICalLimits,
  parseICalendar,
  serializeICalendar,
  type VComponent,
  type VProperty,
} from "./ical/mod.ts";
import { cloneComponent, unescapeText } from "./ical/component.ts";
import { sha256Hex } from "../store/blobs.ts";
import { composeMessage, encodeText, formatAddress } from "../mail/compose.ts";
import { automaticHostname, enqueueAutomatic } from "../mail/vacation.ts";
import { prepareSubmission } from "../smtp/submission_message.ts";
import { logger } from "../observability/log.ts";
import { DEFAULT_COMPONENTS } from "./objects.ts";

const log = logger("dav-schedule");

type Method = "REQUEST" | "CANCEL" | "REPLY";

interface Delivery {
  method: Method;
  recipient: string;
  account: Account | null;
  itip: VComponent;
}

export interface SchedulePlan {
  /** What to store: the client's text, or the organizer copy with SCHEDULE-STATUS added. */
  stored: string;
  deliveries: Delivery[];
}

const SCHEDULED = ["VEVENT", "VTODO"];

export function calAddress(value: string): string {
  return value.trim().replace(/^mailto:/i, "").toLowerCase();
}

function scheduled(root: VComponent): VComponent[] {
  return root.components.filter((c) => SCHEDULED.includes(c.name));
}

function clientHandles(prop: VProperty): boolean {
  const agent = prop.params.get("SCHEDULE-AGENT")?.[0]?.toUpperCase();
  return agent === "CLIENT" || agent === "NONE";
}

function organizerOf(root: VComponent): VProperty | undefined {
  for (const component of scheduled(root)) {
    const organizer = component.properties.find((p) => p.name === "ORGANIZER");
    if (organizer) return organizer;
  }
  return undefined;
}

/** Attendee properties by address (the first one seen of each). */
function attendeesOf(root: VComponent): Map<string, VProperty> {
  const out = new Map<string, VProperty>();
  for (const component of scheduled(root)) {
    for (const p of component.properties) {
      if (p.name !== "ATTENDEE") continue;
      const address = calAddress(p.value);
      if (address.includes("@") && !out.has(address)) out.set(address, p);
    }
  }
  return out;
}

/** The object without what answers and stamps change, to tell significant changes apart. */
function significantForm(root: VComponent): string {
  const copy = cloneComponent(root);
  for (const component of scheduled(copy)) {
    component.properties = component.properties.filter((p) =>
      !["DTSTAMP", "LAST-MODIFIED", "SEQUENCE", "X-MOZ-GENERATION"].includes(p.name)
    );
    for (const p of component.properties) {
      if (p.name === "ATTENDEE" || p.name === "ORGANIZER") {
        for (const name of ["PARTSTAT", "SCHEDULE-STATUS", "RSVP", "SCHEDULE-FORCE-SEND"]) {
          p.params.delete(name);
        }
      }
    }
  }
  return serializeICalendar(copy);
}

function parse(text: string | null, limits: ICalLimits): VComponent | null {
  if (text === null) return null;
  try {
    return parseICalendar(text, limits);
  } catch {
    return null;
  }
}

/** An iTIP message: the object with METHOD set and the server-only parameters removed. */
function itipOf(root: VComponent, method: Method): VComponent {
  const copy = cloneComponent(root);
  copy.properties = copy.properties.filter((p) => p.name !== "METHOD");
  copy.properties.splice(0, 0, { name: "METHOD", params: new Map(), value: method });
  for (const component of scheduled(copy)) {
    for (const p of component.properties) {
      if (p.name === "ATTENDEE" || p.name === "ORGANIZER") {
        for (const name of ["SCHEDULE-STATUS", "SCHEDULE-AGENT", "SCHEDULE-FORCE-SEND"]) {
          p.params.delete(name);
        }
      }
    }
    if (method === "CANCEL") {
      component.properties = component.properties.filter((p) => p.name !== "STATUS");
      component.properties.push({ name: "STATUS", params: new Map(), value: "CANCELLED" });
    }
  }
  return copy;
}

/** A REPLY carrying only `me`'s answer for each component I attend. */
function replyOf(root: VComponent, me: string, partstat: string | null): VComponent {
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
  const components: VComponent[] = [];
  for (const component of scheduled(root)) {
    const mine = component.properties.find((p) =>
      p.name === "ATTENDEE" && calAddress(p.value) === me
    );
    if (!mine) continue;
    const keep = component.properties.filter((p) =>
      ["UID", "SEQUENCE", "RECURRENCE-ID", "DTSTART", "DTEND", "DURATION", "SUMMARY", "ORGANIZER"]
        .includes(p.name)
    ).map((p) => ({ ...p, params: new Map(p.params) }));
    const attendee = { ...mine, params: new Map(mine.params) };
    if (partstat) attendee.params.set("PARTSTAT", [partstat]);
    attendee.params.delete("SCHEDULE-STATUS");
    attendee.params.delete("SCHEDULE-AGENT");
    for (const p of keep) if (p.name === "ORGANIZER") p.params.delete("SCHEDULE-STATUS");
    components.push({
      name: component.name,
      properties: [...keep, attendee, { name: "DTSTAMP", params: new Map(), value: stamp }],
      components: [],
    });
  }
  const zones = root.components.filter((c) => c.name === "VTIMEZONE").map(cloneComponent);
  return {
    name: "VCALENDAR",
    properties: [
      { name: "VERSION", params: new Map(), value: "2.0" },
      { name: "PRODID", params: new Map(), value: "-//Postern//CalDAV//EN" },
      { name: "METHOD", params: new Map(), value: "REPLY" },
    ],
    components: [...zones, ...components],
  };
}

function partstatOf(root: VComponent | null, me: string): string | null {
  if (!root) return null;
  for (const component of scheduled(root)) {
    const mine = component.properties.find((p) =>
      p.name === "ATTENDEE" && calAddress(p.value) === me
    );
    if (mine) return mine.params.get("PARTSTAT")?.[0]?.toUpperCase() ?? "NEEDS-ACTION";
  }
  return null;
}

/**
 * What scheduling a write of a calendar object implies: `before` and `after` are the stored
 * and the new text (null for a create or a delete). Null when nothing is to be sent.
 */
export async function planScheduling(
  dav: DavRequest,
  owner: Account,
  before: string | null,
  after: string | null,
): Promise<SchedulePlan | null> {
  const limits = dav.service.limits.ical;
  const old = parse(before, limits);
  const next = parse(after, limits);
  const current = next ?? old;
  if (!current) return null;
  const organizer = organizerOf(current);
  if (!organizer || clientHandles(organizer)) return null;
  const me = owner.address.toLowerCase();
  const deliveries: Delivery[] = [];
  const lookup = async (address: string) => await dav.app.store.getAccount(address);
  if (calAddress(organizer.value) === me) {
    const was = old ? attendeesOf(old) : new Map<string, VProperty>();
    const now = next ? attendeesOf(next) : new Map<string, VProperty>();
    const significant = !old || !next || significantForm(old) !== significantForm(next);
    const statuses = new Map<string, string>();
    for (const [address, prop] of now) {
      if (address === me || clientHandles(prop) || !significant || !next) continue;
      const account = await lookup(address);
      deliveries.push({
        method: "REQUEST",
        recipient: address,
        account,
        itip: itipOf(next, "REQUEST"),
      });
      statuses.set(address, await statusFor(dav, address, account));
    }
    for (const [address, prop] of was) {
      if (address === me || clientHandles(prop) || (next && now.has(address))) continue;
      deliveries.push({
        method: "CANCEL",
        recipient: address,
        account: await lookup(address),
        itip: itipOf(old!, "CANCEL"),
      });
    }
    if (!deliveries.length) return null;
    let stored = after ?? "";
    if (next && statuses.size) {
      const copy = cloneComponent(next);
      for (const component of scheduled(copy)) {
        for (const p of component.properties) {
          const status = p.name === "ATTENDEE" ? statuses.get(calAddress(p.value)) : undefined;
          if (status) p.params.set("SCHEDULE-STATUS", [status]);
        }
      }
      stored = serializeICalendar(copy);
    }
    return { stored, deliveries };
  }
  // The owner is an attendee: answer the organizer when the owner's answer changed.
  const previous = partstatOf(old, me);
  const answer = next ? partstatOf(next, me) : previous === null ? null : "DECLINED";
  if (answer === null || answer === previous || (previous === null && answer === "NEEDS-ACTION")) {
    return null;
  }
  const organizerAddress = calAddress(organizer.value);
  deliveries.push({
    method: "REPLY",
    recipient: organizerAddress,
    account: await lookup(organizerAddress),
    itip: replyOf(next ?? old!, me, answer),
  });
  return { stored: after ?? "", deliveries };
}

async function statusFor(
  dav: DavRequest,
  address: string,
  account: Account | null,
): Promise<string> {
  if (account) return "1.2";
  const domain = address.slice(address.lastIndexOf("@") + 1);
  return (await dav.app.directory.isLocalDomain(domain)) ? "3.7" : "1.1";
}

/** Sends what the plan says; failures are logged, never undo the client's write. */
export async function deliverScheduling(
  dav: DavRequest,
  owner: Account,
  plan: SchedulePlan,
): Promise<void> {
  for (const delivery of plan.deliveries) {
    try {
      if (delivery.account) await deliverLocally(dav, owner, delivery, delivery.account);
      else if (!(await dav.app.directory.isLocalDomain(delivery.recipient.split("@")[1] ?? ""))) {
        await sendImip(dav, owner, delivery);
      }
    } catch (error) {
      log.warn("scheduling delivery failed", {
        account: owner.address,
        to: delivery.recipient,
        method: delivery.method,
        error,
      });
    }
  }
}

function uidOf(root: VComponent): string | null {
  for (const component of scheduled(root)) {
    const uid = component.properties.find((p) => p.name === "UID");
    if (uid) return uid.value;
  }
  return null;
}

/**
 * Stores calendar text the server wrote (a copy, or an iTIP message in an inbox, whose METHOD
 * the index check ignores) under `name` in `parent`.
 */
async function writeObject(dav: DavRequest, parent: DavNode, name: string, text: string) {
  const check = checkCalendarObject(
    text.replace(/^METHOD:.*\r\n/m, ""),
    dav.service.limits.ical,
    [...DEFAULT_COMPONENTS, "VFREEBUSY"],
  );
  if (!check.ok) throw new Error(`scheduling produced an invalid object: ${check.message}`);
  const bytes = new TextEncoder().encode(text);
  await dav.app.store.dav.putResource(parent.id, name, {
    contentType: "text/calendar; charset=utf-8",
    content: text,
    size: bytes.length,
    etag: `"${sha256Hex(bytes).slice(0, 32)}"`,
    uid: check.uid,
    component: check.componentType,
    timeStart: check.timeStart,
    timeEnd: check.timeEnd,
  }, {});
}

async function deliverLocally(dav: DavRequest, owner: Account, delivery: Delivery, to: Account) {
  const store = dav.app.store.dav;
  await store.ensureHome(to.id, defaultCollections());
  const uid = uidOf(delivery.itip);
  if (!uid) return;
  const inbox = await store.lookup(to.id, ["calendars", "inbox"]);
  if (inbox) {
    await writeObject(
      dav,
      inbox[1],
      `${crypto.randomUUID()}.ics`,
      serializeICalendar(delivery.itip),
    );
  }
  const existing = await store.findCalendarObject(to.id, uid);
  const existingText = existing
    ? (await store.contents([existing.id])).get(existing.id) ?? null
    : null;
  const existingRoot = parse(existingText, dav.service.limits.ical);
  const me = to.address.toLowerCase();
  const sender = owner.address.toLowerCase();
  // A message may only touch the recipient's copy of the sender's own event: for a REQUEST or
  // CANCEL the copy must name the sender as organizer, for a REPLY the recipient as organizer
  // and the sender as an attendee. Anything else under that UID is someone else's and stays.
  const existingOrganizer = existingRoot ? organizerOf(existingRoot) : undefined;
  const organizedBy = existingOrganizer ? calAddress(existingOrganizer.value) : null;
  const unrelated = existing !== null && (
    !existingRoot ||
    (delivery.method === "REPLY"
      ? organizedBy !== me || !attendeesOf(existingRoot).has(sender)
      : organizedBy !== sender)
  );
  if (unrelated) {
    log.info("scheduling message left in the inbox: the UID names another event", {
      from: owner.address,
      to: to.address,
      method: delivery.method,
    });
    return;
  }
  if (delivery.method === "REQUEST") {
    const copy = cloneComponent(delivery.itip);
    copy.properties = copy.properties.filter((p) => p.name !== "METHOD");
    const answer = partstatOf(existingRoot, me);
    if (answer) {
      for (const component of scheduled(copy)) {
        for (const p of component.properties) {
          if (p.name === "ATTENDEE" && calAddress(p.value) === me) {
            p.params.set("PARTSTAT", [answer]);
          }
        }
      }
    }
    const text = serializeICalendar(copy);
    if (existing) {
      await writeObject(dav, (await store.getNode(existing.parentId!))!, existing.name, text);
    } else {
      const calendar = await store.lookup(to.id, ["calendars", "default"]) ??
        await firstCalendar(dav, to);
      if (calendar) {
        await writeObject(dav, calendar[calendar.length - 1], `${crypto.randomUUID()}.ics`, text);
      }
    }
  } else if (delivery.method === "CANCEL" && existing && existingRoot) {
    for (const component of scheduled(existingRoot)) {
      component.properties = component.properties.filter((p) => p.name !== "STATUS");
      component.properties.push({ name: "STATUS", params: new Map(), value: "CANCELLED" });
    }
    await writeObject(
      dav,
      (await store.getNode(existing.parentId!))!,
      existing.name,
      serializeICalendar(existingRoot),
    );
  } else if (delivery.method === "REPLY" && existing && existingRoot) {
    const from = owner.address.toLowerCase();
    const answers = new Map<string, string>();
    for (const component of scheduled(delivery.itip)) {
      const rid = component.properties.find((p) => p.name === "RECURRENCE-ID")?.value ?? "";
      const attendee = component.properties.find((p) =>
        p.name === "ATTENDEE" && calAddress(p.value) === from
      );
      const answer = attendee?.params.get("PARTSTAT")?.[0];
      if (answer) answers.set(rid, answer);
    }
    for (const component of scheduled(existingRoot)) {
      const rid = component.properties.find((p) => p.name === "RECURRENCE-ID")?.value ?? "";
      const answer = answers.get(rid) ?? answers.get("");
      if (!answer) continue;
      for (const p of component.properties) {
        if (p.name === "ATTENDEE" && calAddress(p.value) === from) {
          p.params.set("PARTSTAT", [answer]);
          p.params.set("SCHEDULE-STATUS", ["2.0"]);
        }
      }
    }
    await writeObject(
      dav,
      (await store.getNode(existing.parentId!))!,
      existing.name,
      serializeICalendar(existingRoot),
    );
  }
  log.info("scheduling message delivered", {
    from: owner.address,
    to: to.address,
    method: delivery.method,
  });
}

async function firstCalendar(dav: DavRequest, account: Account): Promise<DavNode[] | null> {
  const home = await dav.app.store.dav.lookup(account.id, ["calendars"]);
  if (!home) return null;
  const calendar = (await dav.app.store.dav.children(home[0].id)).find((n) =>
    n.kind === "calendar"
  );
  return calendar ? [home[0], calendar] : null;
}

function summaryOf(root: VComponent): string {
  const summary = scheduled(root)[0]?.properties.find((p) => p.name === "SUMMARY");
  return summary ? unescapeText(summary.value) : "(no title)";
}

/** iMIP (RFC 6047): the iTIP message as a text/calendar part, sent as the owner. */
async function sendImip(dav: DavRequest, owner: Account, delivery: Delivery) {
  const summary = summaryOf(delivery.itip);
  const answer = delivery.method === "REPLY"
    ? partstatOf(delivery.itip, owner.address.toLowerCase()) ?? "NEEDS-ACTION"
    : "";
  const subject = delivery.method === "REQUEST"
    ? `Invitation: ${summary}`
    : delivery.method === "CANCEL"
    ? `Cancelled: ${summary}`
    : `${
      answer === "ACCEPTED" ? "Accepted" : answer === "DECLINED" ? "Declined" : "Reply"
    }: ${summary}`;
  const calendar = serializeICalendar(delivery.itip);
  const message = composeMessage([
    ["From", formatAddress({ name: owner.displayName || null, email: owner.address })],
    ["To", formatAddress({ name: null, email: delivery.recipient })],
    ["Subject", encodeText(subject)],
  ], {
    type: "multipart/alternative",
    parts: [
      {
        type: "text/plain",
        text:
          `${subject}\r\n\r\nThis message carries a calendar ${delivery.method.toLowerCase()}.\r\n`,
      },
      { type: `text/calendar; method=${delivery.method}`, text: calendar },
    ],
  });
  const prepared = await prepareSubmission({
    directory: dav.app.directory,
    log,
    account: owner,
    hostname: automaticHostname(dav.app.store, owner),
    session: "dav-imip",
  }, message);
  if (!prepared.ok) throw new Error(`iMIP refused: ${prepared.reply}`);
  await enqueueAutomatic(dav.app, {
    sender: owner.address,
    recipients: [{ address: delivery.recipient }],
    message: prepared.message,
    source: `dav-imip:${owner.address}`,
  });
  log.info("iMIP message queued", {
    from: owner.address,
    to: delivery.recipient,
    method: delivery.method,
  });
}

/**
 * POST of a VFREEBUSY request to the schedule outbox (RFC 6638 5): the busy time of each local
 * attendee over their opaque calendars; others get 3.7 (not a calendar user here).
 */
export async function handleOutboxPost(dav: DavRequest, owner: Account): Promise<Response> {
  const bytes = await readCapped(dav.request, dav.service.limits.maxObjectSize);
  if (bytes === null) return preconditionFailed(403, CALDAV_NS, "max-resource-size");
  const limits = dav.service.limits.ical;
  let root: VComponent;
  try {
    root = parseICalendar(new TextDecoder("utf-8", { fatal: true }).decode(bytes), limits);
  } catch {
    return preconditionFailed(400, CALDAV_NS, "valid-calendar-data");
  }
  const method = root.properties.find((p) => p.name === "METHOD")?.value.toUpperCase();
  const request = root.components.find((c) => c.name === "VFREEBUSY");
  if (method !== "REQUEST" || !request) {
    return preconditionFailed(
      403,
      CALDAV_NS,
      "valid-scheduling-message",
      "Only free-busy requests are POSTed.",
    );
  }
  const organizer = request.properties.find((p) => p.name === "ORGANIZER");
  if (!organizer || calAddress(organizer.value) !== owner.address.toLowerCase()) {
    return preconditionFailed(403, CALDAV_NS, "organizer-allowed");
  }
  const start = utcOf(request.properties.find((p) => p.name === "DTSTART")?.value);
  const end = utcOf(request.properties.find((p) => p.name === "DTEND")?.value);
  if (start === null || end === null || end <= start) {
    return preconditionFailed(
      403,
      CALDAV_NS,
      "valid-scheduling-message",
      "DTSTART and DTEND in UTC.",
    );
  }
  const uid = request.properties.find((p) => p.name === "UID");
  const responses: XmlElement[] = [];
  for (const attendee of request.properties.filter((p) => p.name === "ATTENDEE")) {
    const address = calAddress(attendee.value);
    const account = address.includes("@") ? await dav.app.store.getAccount(address) : null;
    const recipient = el(CALDAV_NS, "recipient", [el(DAV_NS, "href", [attendee.value])]);
    if (!account) {
      responses.push(el(CALDAV_NS, "response", [
        recipient,
        el(CALDAV_NS, "request-status", ["3.7;Invalid calendar user"]),
      ]));
      continue;
    }
    const objects: VComponent[] = [];
    const home = await dav.app.store.dav.lookup(account.id, ["calendars"]);
    for (const calendar of home ? await dav.app.store.dav.children(home[0].id) : []) {
      if (calendar.kind !== "calendar") continue;
      if (
        (calendar.props[`{${CALDAV_NS}}schedule-calendar-transp`] ?? "").includes("transparent")
      ) {
        continue;
      }
      const nodes = await dav.app.store.dav.calendarCandidates(calendar.id, start, end);
      for (const text of (await dav.app.store.dav.contents(nodes.map((n) => n.id))).values()) {
        const parsed = parse(text, limits);
        if (parsed) objects.push(parsed);
      }
    }
    const reply = parseICalendar(freeBusy(objects, start, end, limits), limits);
    reply.properties = reply.properties.filter((p) => p.name !== "METHOD");
    reply.properties.push({ name: "METHOD", params: new Map(), value: "REPLY" });
    const vfreebusy = reply.components.find((c) => c.name === "VFREEBUSY");
    if (vfreebusy) {
      vfreebusy.properties.push(
        { name: "ORGANIZER", params: new Map(), value: organizer.value },
        { name: "ATTENDEE", params: new Map(), value: attendee.value },
      );
      if (uid) vfreebusy.properties.push({ name: "UID", params: new Map(), value: uid.value });
    }
    responses.push(el(CALDAV_NS, "response", [
      recipient,
      el(CALDAV_NS, "request-status", ["2.0;Success"]),
      el(CALDAV_NS, "calendar-data", [serializeICalendar(reply)]),
    ]));
  }
  return xmlResponse(200, el(CALDAV_NS, "schedule-response", responses));
}

/** A UTC DATE-TIME value ("20261210T140000Z") as epoch ms. */
function utcOf(value: string | undefined): number | null {
  return parseIcalTime(value);
}
