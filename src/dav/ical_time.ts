/** The UTC date-time form CalDAV time-range attributes use (RFC 4791 9.9: "20060104T000000Z"). */

/**
 * Epoch ms of a UTC iCalendar date-time, or null when absent or malformed.
 *
 * @example
 * parseIcalTime("20060104T000000Z"); // 1136332800000
 */
export function parseIcalTime(value: string | undefined): number | null {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value?.trim() ?? "");
  if (!match) return null;
  const [, y, mo, d, h, mi, s] = match.map(Number);
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  return Number.isFinite(ms) ? ms : null;
}
