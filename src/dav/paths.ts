/**
 * DAV request paths, decoded and confined (issue: CalDAV, CardDAV and WebDAV). Every handler
 * works on the segments this returns, never on the raw URL path, so no request can name a
 * resource outside the space it is routed to.
 *
 * Implementation notes:
 * - Refused outright (null): "." or ".." segments (also percent-encoded), an encoded slash or
 *   backslash inside a segment ("%2F", "%5C"), NUL or other control characters, bad percent
 *   escapes or UTF-8, empty segments other than a trailing slash, and more than MAX_SEGMENTS
 *   segments or MAX_SEGMENT_BYTES bytes in one. Refusing beats "cleaning": a cleaned path can
 *   name something other than what the client meant.
 * - A trailing slash is reported (collections are addressed with one) but not a segment.
 * - Names are NFC-normalised, so one resource has one name whatever the client's normal form.
 */

export interface DavPath {
  segments: string[];
  /** The request path ended with "/". */
  trailingSlash: boolean;
}

export const MAX_SEGMENTS = 64;
export const MAX_SEGMENT_BYTES = 255;

const encoder = new TextEncoder();

/**
 * The decoded segments of `path` below `prefix` (e.g. "/dav/"), or null when the path is not
 * under it or is refused.
 *
 * @example
 * parseDavPath("/dav/calendars/alice%40example.com/work/", "/dav/");
 * // { segments: ["calendars", "alice@example.com", "work"], trailingSlash: true }
 */
export function parseDavPath(path: string, prefix: string): DavPath | null {
  if (!path.startsWith(prefix) && `${path}/` !== prefix) return null;
  const rest = path.length >= prefix.length ? path.slice(prefix.length) : "";
  const trailingSlash = rest === "" || rest.endsWith("/");
  const raw = rest === "" ? [] : rest.replace(/\/$/, "").split("/");
  if (raw.length > MAX_SEGMENTS) return null;
  const segments: string[] = [];
  for (const piece of raw) {
    if (piece === "") return null;
    if (/%(2f|5c)/i.test(piece)) return null;
    let decoded: string;
    try {
      decoded = decodeURIComponent(piece);
    } catch {
      return null;
    }
    if (decoded === "." || decoded === "..") return null;
    if ([...decoded].some((c) => c.charCodeAt(0) < 0x20 || c === "\x7f")) return null;
    if (decoded.includes("\\")) return null;
    decoded = decoded.normalize("NFC");
    if (encoder.encode(decoded).length > MAX_SEGMENT_BYTES) return null;
    segments.push(decoded);
  }
  return { segments, trailingSlash };
}

/**
 * One path segment percent-encoded (RFC 3986 3.3); "@" stays as it is (a pchar), so hrefs
 * with addresses read as clients write them.
 *
 * @example
 * encodeSegment("my file@x"); // "my%20file@x"
 */
export function encodeSegment(segment: string): string {
  return encodeURIComponent(segment)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replaceAll("%40", "@");
}

/**
 * The URL path for segments under `prefix`, each percent-encoded (RFC 3986 segment rules).
 *
 * @example
 * davHref("/dav/", ["calendars", "alice@example.com", "work"], true);
 * // "/dav/calendars/alice@example.com/work/"
 */
export function davHref(prefix: string, segments: string[], collection: boolean): string {
  const encoded = segments.map(encodeSegment);
  const path = prefix + encoded.join("/");
  return collection && segments.length > 0 ? `${path}/` : path;
}
