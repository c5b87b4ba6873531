/**
 * iCalendar for CalDAV, without a server or a store: parsing and serializing (RFC 5545),
 * recurrence expansion with time zones, validation of stored resources (RFC 4791 4.1, 5.3.2.1),
 * calendar-query filters (RFC 4791 9.7), calendar-data rendering (RFC 4791 9.6) and
 * free-busy reports (RFC 4791 7.10).
 *
 * Implementation notes:
 * - Every function taking `ICalLimits` is bounded by them: object size, line length, property
 *   and component counts, nesting, and for expansion an instance cap and a wall-clock budget.
 * - Client data can only cause `ICalError` (bad iCalendar) or `CalendarFilterError` (bad
 *   filter); validation reports problems as values, never throws.
 */
export { ICalError, type ICalLimits, type VComponent, type VProperty } from "./component.ts";
export { parseICalendar, serializeICalendar } from "./parse.ts";
export type { Instance } from "./instances.ts";
export { expandInstances } from "./timerange.ts";
export { type CalendarObjectCheck, checkCalendarObject } from "./validate.ts";
export { CalendarFilterError, checkCalendarFilter, matchCalendarFilter } from "./filter.ts";
export { renderCalendarData } from "./render.ts";
export { freeBusy } from "./freebusy.ts";
