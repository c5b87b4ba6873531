/**
 * CardDAV addressbook-query filters (RFC 6352 10.5) evaluated against parsed vCards, and the
 * address-data selection of a REPORT (RFC 6352 10.4).
 *
 * Implementation notes:
 * - A filter element is compiled once (cached per element in a WeakMap) so matching a thousand
 *   cards reads the XML once. `checkAddressFilter` is that compile; `matchAddressFilter` compiles
 *   too, so an unchecked filter still fails only with `CardFilterError`.
 * - A prop-filter is judged per property instance (RFC 6352 10.5.1: "a vCard property ... exists
 *   and ... it matches"): a card with two EMAILs matches when one of them passes every test the
 *   filter's "test" combines. A negated text-match therefore matches a card having some EMAIL
 *   that does not contain the text, and never a card without EMAIL. A param-filter is judged on
 *   the same instance (10.5.2); its text-match passes when any of the parameter's values match,
 *   and negate-condition inverts that whole answer (TYPE=home,work is not "not work").
 * - Property values are compared after undoing text escapes and quoted-printable, parameter
 *   values after undoing RFC 6868 carets (vcard.ts propertyText, paramText).
 * - Names compare case-insensitively (RFC 6350 3.3). A name without a group matches any group;
 *   a grouped name matches only that group (RFC 6352 10.5.1, 10.4.2).
 * - The default collation is i;unicode-casemap, also for "default" (RFC 6352 10.5.4, RFC 4790
 *   3.1). "valid-filter" is not an RFC 6352 precondition: it names a malformed filter (a missing
 *   name, a bad attribute value, is-not-defined next to other tests) for the HTTP layer to answer
 *   as a bad request, the way RFC 4791 7.8 names it for CalDAV.
 */
import { checkCollation, type MatchType, parseMatchType, textMatches } from "./collation.ts";
import { CARDDAV_NS, children, type XmlElement } from "./xml.ts";
import {
  formatContentLine,
  paramText,
  propertyText,
  type VCard,
  type VCardProperty,
} from "./vcard.ts";

export class CardFilterError extends Error {
  constructor(
    readonly precondition: "supported-filter" | "supported-collation" | "valid-filter",
    message: string,
  ) {
    super(message);
    this.name = "CardFilterError";
  }
}

/**
 * address-data asked for a media type or version other than the stored card's. RFC 6352 names
 * CARDDAV:supported-address-data-conversion for a GET that cannot be converted (5.1.1); in an
 * addressbook-query or -multiget the violated precondition is CARDDAV:supported-address-data
 * (8.6, 8.7). This server never converts: a card is returned as stored.
 */
export class AddressDataConversionError extends Error {
  constructor(readonly contentType: string, readonly version: string) {
    super(`address data cannot be converted to ${contentType} version ${version}`);
    this.name = "AddressDataConversionError";
  }
}

interface TextMatch {
  needle: string;
  collation: string;
  matchType: MatchType;
  negate: boolean;
}

interface ParamFilter {
  name: string;
  isNotDefined: boolean;
  textMatch: TextMatch | null;
}

interface PropFilter {
  group: string | null;
  name: string;
  allOf: boolean;
  isNotDefined: boolean;
  textMatches: TextMatch[];
  paramFilters: ParamFilter[];
}

interface CompiledFilter {
  allOf: boolean;
  propFilters: PropFilter[];
}

const PROPERTY_NAME = /^(?:([A-Za-z0-9_-]+)\.)?([A-Za-z0-9_-]+)$/;
const PARAM_NAME = /^[A-Za-z0-9_-]+$/;
const compiled = new WeakMap<XmlElement, CompiledFilter>();

/**
 * Throws CardFilterError unless `filter` (a CARDDAV:filter element) can be evaluated.
 *
 * @example
 * checkAddressFilter(child(query, CARDDAV_NS, "filter")!);
 */
export function checkAddressFilter(filter: XmlElement): void {
  compile(filter);
}

/**
 * Whether `card` matches `filter` (RFC 6352 10.5). A filter without prop-filters matches all.
 *
 * @example
 * const hits = cards.filter((card) => matchAddressFilter(card, filter));
 */
export function matchAddressFilter(card: VCard, filter: XmlElement): boolean {
  const { allOf, propFilters } = compile(filter);
  const test = (propFilter: PropFilter) => matchPropFilter(card, propFilter);
  return allOf ? propFilters.every(test) : propFilters.length === 0 || propFilters.some(test);
}

function compile(filter: XmlElement): CompiledFilter {
  const cached = compiled.get(filter);
  if (cached) return cached;
  if (filter.ns !== CARDDAV_NS || filter.name !== "filter") {
    throw new CardFilterError("valid-filter", `expected CARDDAV:filter, got ${filter.name}`);
  }
  const propFilters: PropFilter[] = [];
  for (const element of filter.children) {
    if (element.ns !== CARDDAV_NS) continue; // RFC 4918 17: unknown namespaces are ignored
    if (element.name !== "prop-filter") {
      throw new CardFilterError("valid-filter", `unexpected ${element.name} in filter`);
    }
    propFilters.push(compilePropFilter(element));
  }
  const result = { allOf: testAttribute(filter), propFilters };
  compiled.set(filter, result);
  return result;
}

function testAttribute(element: XmlElement): boolean {
  const test = element.attributes.get("test") ?? "anyof";
  if (test !== "anyof" && test !== "allof") {
    throw new CardFilterError("valid-filter", `test="${test}" is neither anyof nor allof`);
  }
  return test === "allof";
}

function requiredName(element: XmlElement): string {
  const name = element.attributes.get("name");
  if (name === undefined || name === "") {
    throw new CardFilterError("valid-filter", `${element.name} without a name`);
  }
  return name;
}

function compilePropFilter(element: XmlElement): PropFilter {
  const name = requiredName(element);
  const parts = PROPERTY_NAME.exec(name);
  if (parts === null) {
    throw new CardFilterError("supported-filter", `no vCard property can be named "${name}"`);
  }
  const propFilter: PropFilter = {
    group: parts[1] === undefined ? null : parts[1].toUpperCase(),
    name: parts[2].toUpperCase(),
    allOf: testAttribute(element),
    isNotDefined: false,
    textMatches: [],
    paramFilters: [],
  };
  for (const item of element.children) {
    if (item.ns !== CARDDAV_NS) continue;
    if (item.name === "is-not-defined") propFilter.isNotDefined = true;
    else if (item.name === "text-match") propFilter.textMatches.push(compileTextMatch(item));
    else if (item.name === "param-filter") propFilter.paramFilters.push(compileParamFilter(item));
    else throw new CardFilterError("valid-filter", `unexpected ${item.name} in prop-filter`);
  }
  if (
    propFilter.isNotDefined &&
    (propFilter.textMatches.length > 0 || propFilter.paramFilters.length > 0)
  ) {
    throw new CardFilterError("valid-filter", `is-not-defined with other tests on ${name}`);
  }
  return propFilter;
}

function compileParamFilter(element: XmlElement): ParamFilter {
  const name = requiredName(element);
  if (!PARAM_NAME.test(name)) {
    throw new CardFilterError("supported-filter", `no vCard parameter can be named "${name}"`);
  }
  const tests = element.children.filter((c) => c.ns === CARDDAV_NS);
  if (tests.length > 1) {
    throw new CardFilterError("valid-filter", `param-filter ${name} has more than one test`);
  }
  const test = tests[0];
  if (test !== undefined && test.name !== "is-not-defined" && test.name !== "text-match") {
    throw new CardFilterError("valid-filter", `unexpected ${test.name} in param-filter`);
  }
  return {
    name: name.toUpperCase(),
    isNotDefined: test?.name === "is-not-defined",
    textMatch: test?.name === "text-match" ? compileTextMatch(test) : null,
  };
}

function compileTextMatch(element: XmlElement): TextMatch {
  const requested = element.attributes.get("collation") ?? "default";
  const collation = requested === "default" ? "i;unicode-casemap" : requested;
  try {
    checkCollation(collation);
  } catch {
    throw new CardFilterError("supported-collation", `collation ${requested} is not supported`);
  }
  const matchType = parseMatchType(element.attributes.get("match-type"));
  if (matchType === null) {
    throw new CardFilterError("valid-filter", `unknown match-type`);
  }
  const negate = element.attributes.get("negate-condition") ?? "no";
  if (negate !== "yes" && negate !== "no") {
    throw new CardFilterError("valid-filter", `negate-condition="${negate}" is neither yes nor no`);
  }
  return { needle: element.text, collation, matchType, negate: negate === "yes" };
}

function namedLike(property: VCardProperty, group: string | null, name: string): boolean {
  return property.name === name &&
    (group === null || (property.group !== null && property.group.toUpperCase() === group));
}

function matchPropFilter(card: VCard, filter: PropFilter): boolean {
  const instances = card.properties.filter((p) => namedLike(p, filter.group, filter.name));
  if (filter.isNotDefined) return instances.length === 0;
  const tests: ((property: VCardProperty) => boolean)[] = [
    ...filter.textMatches.map((match) => (p: VCardProperty) => matchText([propertyText(p)], match)),
    ...filter.paramFilters.map((param) => (p: VCardProperty) => matchParamFilter(p, param)),
  ];
  if (tests.length === 0) return instances.length > 0;
  return instances.some((property) =>
    filter.allOf ? tests.every((t) => t(property)) : tests.some((t) => t(property))
  );
}

function matchParamFilter(property: VCardProperty, filter: ParamFilter): boolean {
  const values = property.params.get(filter.name);
  if (filter.isNotDefined) return values === undefined;
  if (values === undefined) return false;
  // RFC 6350 8 writes TYPE="work,voice" for two types, so quoted lists are split too.
  const texts = values.flatMap((value) => paramText(value).split(","));
  return filter.textMatch === null || matchText(texts, filter.textMatch);
}

function matchText(values: string[], match: TextMatch): boolean {
  const found = values.some((value) =>
    textMatches(value, match.needle, match.collation, match.matchType)
  );
  return found !== match.negate;
}

/**
 * The address data to return for `card` (stored as `text`) under a CARDDAV:address-data request
 * element (RFC 6352 10.4). Without the element, with CARDDAV:allprop or without CARDDAV:prop
 * children, `text` is returned unchanged. With CARDDAV:prop children only the named properties
 * are returned (10.4.2, novalue honoured), CRLF-terminated and folded at 75 octets; BEGIN, VERSION
 * and END frame them even when not asked for, UID only when asked for (10.4 allows the result to
 * lack required properties). Throws AddressDataConversionError for another media type or version.
 *
 * @example
 * renderAddressData(text, card, el(CARDDAV_NS, "address-data", [el(CARDDAV_NS, "prop", [], {
 *   name: "EMAIL",
 * })]));
 */
export function renderAddressData(
  text: string,
  card: VCard,
  addressData: XmlElement | undefined,
): string {
  if (addressData === undefined) return text;
  checkConversion(card, addressData);
  if (children(addressData, CARDDAV_NS, "allprop").length > 0) return text;
  const wanted = children(addressData, CARDDAV_NS, "prop").flatMap((prop) => {
    const parts = PROPERTY_NAME.exec(prop.attributes.get("name") ?? "");
    if (parts === null) return []; // a nameless or impossible name selects nothing
    return [{
      group: parts[1] === undefined ? null : parts[1].toUpperCase(),
      name: parts[2].toUpperCase(),
      novalue: prop.attributes.get("novalue") === "yes",
    }];
  });
  if (children(addressData, CARDDAV_NS, "prop").length === 0) return text;
  const out = ["BEGIN:VCARD\r\n"];
  const version = card.properties.find((p) => p.name === "VERSION");
  if (version) out.push(formatContentLine(version));
  for (const property of card.properties) {
    if (property.name === "VERSION") continue;
    const selections = wanted.filter((w) => namedLike(property, w.group, w.name));
    if (selections.length === 0) continue;
    out.push(formatContentLine(property, selections.every((s) => s.novalue)));
  }
  out.push("END:VCARD\r\n");
  return out.join("");
}

function checkConversion(card: VCard, addressData: XmlElement): void {
  const contentType = addressData.attributes.get("content-type");
  const version = addressData.attributes.get("version");
  const mediaType = contentType?.split(";")[0].trim().toLowerCase();
  // The DTD defaults version to "3.0"; an absent attribute means "as stored" here, since a
  // client that names no version cannot be told its stored 4.0 card is unavailable.
  if (
    (mediaType !== undefined && mediaType !== "text/vcard") ||
    (version !== undefined && version.trim() !== card.version)
  ) {
    throw new AddressDataConversionError(contentType ?? "text/vcard", version ?? card.version);
  }
}
