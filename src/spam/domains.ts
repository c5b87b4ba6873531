/**
 * Host names as the spam filter compares and looks them up: A-label (punycode) form, and the
 * registered domain under a host.
 *
 * Implementation notes:
 * - No Public Suffix List: the last two labels, or three under a known two-level suffix. A name
 *   under a suffix missing here is cut one label too short (a DNS list answers "not listed"; a
 *   link/display comparison sees two names of one registry as the same domain).
 */

/**
 * Second-level labels under which registries sell names (the common part of the Public Suffix
 * List's ICANN section), so that "shop.example.co.uk" is "example.co.uk", not "co.uk". SURBL's
 * two-level-tlds file is the complete list; a name under a suffix missing here is cut one label
 * too short, which lists answer as "not listed".
 */
const TWO_LEVEL_SUFFIXES = new Set([
  ...["ac", "co", "gov", "ltd", "me", "net", "nhs", "org", "plc", "sch"].map((l) => `${l}.uk`),
  ...["asn", "com", "edu", "gov", "id", "net", "org"].map((l) => `${l}.au`),
  ...["ac", "co", "geek", "gen", "govt", "net", "org", "school"].map((l) => `${l}.nz`),
  ...["ac", "co", "ed", "go", "gr", "lg", "ne", "or"].map((l) => `${l}.jp`),
  ...["ac", "co", "go", "ne", "or", "re"].map((l) => `${l}.kr`),
  ...["ac", "co", "gov", "net", "org", "web"].map((l) => `${l}.za`),
  ...["ac", "co", "gov", "net", "org"].map((l) => `${l}.il`),
  ...["ac", "co", "gen", "firm", "ind", "net", "org"].map((l) => `${l}.in`),
  ...["ac", "co", "go", "or", "web"].map((l) => `${l}.id`),
  ...["ac", "co", "go", "in", "or"].map((l) => `${l}.th`),
  ...["ac", "co", "go", "or"].map((l) => `${l}.ke`),
  ...["com", "edu", "gov", "net", "org"].flatMap((l) =>
    "ar br cn co eg hk mx my ng pe ph pk sa sg tr tw ua vn".split(" ").map((tld) => `${l}.${tld}`)
  ),
  ...["com", "net", "org"].flatMap((l) => ["es", "pl", "ru"].map((tld) => `${l}.${tld}`)),
]);

/**
 * The registered domain of a host name: its last two labels, or three under a known two-level
 * public suffix. IDNs come back in their A-label (punycode) form, as lists publish them.
 *
 * @example
 * registeredDomain("www.shop.example.co.uk"); // "example.co.uk"
 */
export function registeredDomain(host: string): string {
  const name = asciiHost(host);
  const labels = name.split(".");
  if (labels.length <= 2) return name;
  const lastTwo = labels.slice(-2).join(".");
  return labels.slice(TWO_LEVEL_SUFFIXES.has(lastTwo) ? -3 : -2).join(".");
}

/** A host name lower-cased, without trailing dots, IDNs as A-labels; "" when it is not one. */
export function asciiHost(host: string): string {
  let name = host.trim().toLowerCase().replace(/\.+$/, "");
  if (/[^ -~]/.test(name)) {
    try {
      name = new URL(`http://${name}/`).hostname;
    } catch {
      return "";
    }
  }
  return name;
}
