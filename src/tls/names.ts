/**
 * Host name matching for SNI, RFC 6125 section 6.4.3: case-insensitive, a wildcard only as the
 * whole left-most label, matching exactly one label ("*.example.com" covers "mail.example.com",
 * not "example.com" nor "a.b.example.com").
 *
 * @example
 * nameMatches("*.example.com", "Mail.Example.com"); // true
 */
export function nameMatches(pattern: string, hostname: string): boolean {
  const p = pattern.toLowerCase().replace(/\.$/, "");
  const h = hostname.toLowerCase().replace(/\.$/, "");
  if (p === h) return true;
  if (!p.startsWith("*.")) return false;
  const suffix = p.slice(1); // ".example.com"
  if (!h.endsWith(suffix)) return false;
  const label = h.slice(0, h.length - suffix.length);
  return label.length > 0 && !label.includes(".");
}
