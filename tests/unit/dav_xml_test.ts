/**
 * The WebDAV XML layer: RFC 4918 / 4791 / 6352 example bodies parse to the trees a handler
 * reads, namespaces scope, entities and CDATA decode, every refusal is an XmlError, and
 * serialized trees parse back to themselves.
 */
import { assert, assertEquals, assertStringIncludes } from "../helpers/assert.ts";
import {
  CALDAV_NS,
  CALENDARSERVER_NS,
  CARDDAV_NS,
  child,
  children,
  DAV_NS,
  el,
  escapeXmlText,
  parseXml,
  rawXml,
  toXml,
  type XmlElement,
  XmlError,
} from "../../src/dav/xml.ts";

const LIMITS = { maxBytes: 1 << 20, maxDepth: 64, maxElements: 10_000 };
const parse = (text: string) => parseXml(text, LIMITS);

function refuses(text: string, pattern: RegExp, limits = LIMITS): XmlError {
  try {
    parseXml(text, limits);
  } catch (error) {
    assert(error instanceof XmlError, `expected XmlError, got ${error}`);
    assert(pattern.test(error.message), `message ${error.message} does not match ${pattern}`);
    assert(error.offset >= 0 && error.offset <= text.length, `offset ${error.offset}`);
    return error;
  }
  throw new Error(`accepted: ${text.slice(0, 80)}`);
}

function names(element: XmlElement): string[] {
  return element.children.map((c) => `${c.ns}|${c.name}`);
}

// RFC 4918 9.1.3
Deno.test("RFC 4918 PROPFIND prop", () => {
  const root = parse(`<?xml version="1.0" encoding="utf-8" ?>
     <D:propfind xmlns:D="DAV:">
       <D:prop xmlns:R="http://ns.example.com/boxschema/">
         <R:bigbox/>
         <R:author/>
         <R:DingALing/>
         <R:Random/>
       </D:prop>
     </D:propfind>`);
  assertEquals([root.ns, root.name, root.text], [DAV_NS, "propfind", ""]);
  const prop = child(root, DAV_NS, "prop")!;
  assertEquals(names(prop), [
    "http://ns.example.com/boxschema/|bigbox",
    "http://ns.example.com/boxschema/|author",
    "http://ns.example.com/boxschema/|DingALing",
    "http://ns.example.com/boxschema/|Random",
  ]);
  assertEquals(prop.text, "");
});

// RFC 4918 9.1.5 and 9.1.6
Deno.test("RFC 4918 PROPFIND propname and allprop with include", () => {
  const propname = parse(`<?xml version="1.0" encoding="utf-8" ?>
     <propfind xmlns="DAV:">
       <propname/>
     </propfind>`);
  assertEquals(names(propname), ["DAV:|propname"]);
  const allprop = parse(`<?xml version="1.0" encoding="utf-8" ?>
     <D:propfind xmlns:D="DAV:">
       <D:allprop/>
       <D:include>
         <D:supported-live-property-set/>
         <D:supported-report-set/>
       </D:include>
     </D:propfind>`);
  assert(child(allprop, DAV_NS, "allprop"));
  assertEquals(names(child(allprop, DAV_NS, "include")!), [
    "DAV:|supported-live-property-set",
    "DAV:|supported-report-set",
  ]);
});

// RFC 4918 9.2.2
Deno.test("RFC 4918 PROPPATCH set and remove", () => {
  const root = parse(`<?xml version="1.0" encoding="utf-8" ?>
     <D:propertyupdate xmlns:D="DAV:"
             xmlns:Z="http://ns.example.com/standards/z39.50/">
       <D:set>
         <D:prop>
           <Z:Authors>
             <Z:Author>Jim Whitehead</Z:Author>
             <Z:Author>Roy Fielding</Z:Author>
           </Z:Authors>
         </D:prop>
       </D:set>
       <D:remove>
         <D:prop><Z:Copyright-Owner/></D:prop>
       </D:remove>
     </D:propertyupdate>`);
  const z = "http://ns.example.com/standards/z39.50/";
  const authors = child(child(child(root, DAV_NS, "set")!, DAV_NS, "prop")!, z, "Authors")!;
  assertEquals(children(authors, z, "Author").map((a) => a.text), [
    "Jim Whitehead",
    "Roy Fielding",
  ]);
  const removed = child(child(root, DAV_NS, "remove")!, DAV_NS, "prop")!;
  assertEquals(names(removed), [`${z}|Copyright-Owner`]);
});

// RFC 4918 9.10.7
Deno.test("RFC 4918 LOCK lockinfo", () => {
  const root = parse(`<?xml version="1.0" encoding="utf-8" ?>
     <D:lockinfo xmlns:D='DAV:'>
       <D:lockscope><D:exclusive/></D:lockscope>
       <D:locktype><D:write/></D:locktype>
       <D:owner>
            <D:href>http://example.org/~ejw/contact.html</D:href>
       </D:owner>
     </D:lockinfo>`);
  assertEquals(names(root), ["DAV:|lockscope", "DAV:|locktype", "DAV:|owner"]);
  assert(child(child(root, DAV_NS, "lockscope")!, DAV_NS, "exclusive"));
  const href = child(child(root, DAV_NS, "owner")!, DAV_NS, "href")!;
  assertEquals(href.text, "http://example.org/~ejw/contact.html");
});

// RFC 4791 7.8.1 and 7.8.6
Deno.test("RFC 4791 calendar-query with comp-filter, prop-filter, text-match, time-range", () => {
  const root = parse(`<?xml version="1.0" encoding="utf-8" ?>
   <C:calendar-query xmlns:D="DAV:"
                     xmlns:C="urn:ietf:params:xml:ns:caldav">
     <D:prop>
       <C:calendar-data>
         <C:comp name="VCALENDAR">
           <C:prop name="VERSION"/>
           <C:comp name="VEVENT">
             <C:prop name="SUMMARY"/>
           </C:comp>
         </C:comp>
         <C:expand start="20060103T000000Z" end="20060105T000000Z"/>
       </C:calendar-data>
     </D:prop>
     <C:filter>
       <C:comp-filter name="VCALENDAR">
         <C:comp-filter name="VEVENT">
           <C:time-range start="20060104T000000Z"
                         end="20060105T000000Z"/>
           <C:prop-filter name="ATTENDEE">
             <C:text-match collation="i;ascii-casemap"
              >mailto:lisa@example.com</C:text-match>
             <C:param-filter name="PARTSTAT">
               <C:text-match collation="i;ascii-casemap" negate-condition="yes"
                >NEEDS ACTION</C:text-match>
             </C:param-filter>
           </C:prop-filter>
         </C:comp-filter>
       </C:comp-filter>
     </C:filter>
   </C:calendar-query>`);
  assertEquals([root.ns, root.name], [CALDAV_NS, "calendar-query"]);
  const data = child(child(root, DAV_NS, "prop")!, CALDAV_NS, "calendar-data")!;
  assertEquals(child(data, CALDAV_NS, "expand")!.attributes.get("start"), "20060103T000000Z");
  const vcalendar = child(child(root, CALDAV_NS, "filter")!, CALDAV_NS, "comp-filter")!;
  assertEquals(vcalendar.attributes.get("name"), "VCALENDAR");
  const vevent = child(vcalendar, CALDAV_NS, "comp-filter")!;
  const range = child(vevent, CALDAV_NS, "time-range")!;
  assertEquals(Object.fromEntries(range.attributes), {
    start: "20060104T000000Z",
    end: "20060105T000000Z",
  });
  const attendee = child(vevent, CALDAV_NS, "prop-filter")!;
  const match = child(attendee, CALDAV_NS, "text-match")!;
  assertEquals(match.text, "mailto:lisa@example.com");
  assertEquals(match.attributes.get("collation"), "i;ascii-casemap");
  const param = child(child(attendee, CALDAV_NS, "param-filter")!, CALDAV_NS, "text-match")!;
  assertEquals(param.text, "NEEDS ACTION");
  assertEquals(param.attributes.get("negate-condition"), "yes");
});

// RFC 4791 7.9.1
Deno.test("RFC 4791 calendar-multiget", () => {
  const root = parse(`<?xml version="1.0" encoding="utf-8" ?>
   <C:calendar-multiget xmlns:D="DAV:"
                        xmlns:C="urn:ietf:params:xml:ns:caldav">
     <D:prop>
       <D:getetag/>
       <C:calendar-data/>
     </D:prop>
     <D:href>/bernard/work/abcd1.ics</D:href>
     <D:href>/bernard/work/mtg1.ics</D:href>
   </C:calendar-multiget>`);
  assertEquals(children(root, DAV_NS, "href").map((h) => h.text), [
    "/bernard/work/abcd1.ics",
    "/bernard/work/mtg1.ics",
  ]);
  assertEquals(names(child(root, DAV_NS, "prop")!), ["DAV:|getetag", `${CALDAV_NS}|calendar-data`]);
});

// RFC 6352 8.6.4
Deno.test("RFC 6352 addressbook-query", () => {
  const root = parse(`<?xml version="1.0" encoding="utf-8" ?>
   <C:addressbook-query xmlns:D="DAV:"
                     xmlns:C="urn:ietf:params:xml:ns:carddav">
     <D:prop>
       <D:getetag/>
       <C:address-data>
         <C:prop name="VERSION"/>
         <C:prop name="UID"/>
         <C:prop name="NICKNAME"/>
         <C:prop name="EMAIL"/>
         <C:prop name="FN"/>
       </C:address-data>
     </D:prop>
     <C:filter test="anyof">
       <C:prop-filter name="FN">
         <C:text-match collation="i;unicode-casemap"
                       match-type="contains"
         >daboo</C:text-match>
       </C:prop-filter>
       <C:prop-filter name="EMAIL">
         <C:text-match collation="i;unicode-casemap"
                       match-type="contains"
         >daboo</C:text-match>
       </C:prop-filter>
     </C:filter>
   </C:addressbook-query>`);
  assertEquals([root.ns, root.name], [CARDDAV_NS, "addressbook-query"]);
  const address = child(child(root, DAV_NS, "prop")!, CARDDAV_NS, "address-data")!;
  assertEquals(
    children(address, CARDDAV_NS, "prop").map((p) => p.attributes.get("name")),
    ["VERSION", "UID", "NICKNAME", "EMAIL", "FN"],
  );
  const filter = child(root, CARDDAV_NS, "filter")!;
  assertEquals(filter.attributes.get("test"), "anyof");
  const filters = children(filter, CARDDAV_NS, "prop-filter");
  assertEquals(filters.map((f) => child(f, CARDDAV_NS, "text-match")!.text), ["daboo", "daboo"]);
  assertEquals(
    child(filters[0], CARDDAV_NS, "text-match")!.attributes.get("match-type"),
    "contains",
  );
});

Deno.test("namespace declarations are scoped and the default namespace applies to elements only", () => {
  const root = parse(
    `<a xmlns="urn:one" xmlns:p="urn:p" p:x="1" y="2">` +
      `<b xmlns="urn:two" xmlns:p="urn:p2"><p:c/><d/></b>` +
      `<p:e/><f xmlns=""><g/></f><h/></a>`,
  );
  assertEquals([root.ns, root.name], ["urn:one", "a"]);
  assertEquals(Object.fromEntries(root.attributes), { "urn:p x": "1", y: "2" });
  const b = root.children[0];
  assertEquals(b.ns, "urn:two");
  assertEquals(names(b), ["urn:p2|c", "urn:two|d"]);
  assertEquals(names(root), ["urn:two|b", "urn:p|e", "|f", "urn:one|h"]);
  assertEquals(names(root.children[2]), ["|g"]);
  assertEquals(parse("<plain><x/></plain>").ns, "");
  assertEquals(
    parse(`<a xml:lang="en"/>`).attributes.get("http://www.w3.org/XML/1998/namespace lang"),
    "en",
  );
  // A prefix declared on a sibling is out of scope here.
  refuses(`<a><b xmlns:q="urn:q"/><q:c/></a>`, /undeclared namespace prefix "q"/);
  refuses(`<a q:attr="1"/>`, /undeclared namespace prefix "q"/);
  refuses(`<a xmlns:q="urn:q" xmlns:r="urn:q" q:x="1" r:x="2"/>`, /duplicate attribute/);
  refuses(`<a xmlns:q=""/>`, /empty namespace/);
  refuses(`<a xmlns:xmlns="urn:x"/>`, /reserved namespace/);
});

Deno.test("entities, character references, CDATA, comments and processing instructions", () => {
  const root = parse(
    `<?xml version="1.0"?><!-- leading --><?app skip me?>` +
      `<t a="&lt;&amp;&quot;&apos;&gt; &#x41;&#66;">x &lt;y&gt; &amp;&#x1F600;&#233;` +
      `<![CDATA[<raw> & ]]]]><!-- c --><?pi data?>z</t><!-- trailing -->\n`,
  );
  assertEquals(root.attributes.get("a"), `<&"'> AB`);
  assertEquals(root.text, "x <y> &\u{1F600}\u00e9<raw> & ]]z");
  assertEquals(parse("<t a='x\ty\nz'>a\r\nb\rc</t>").text, "a\nb\nc");
  assertEquals(parse("<t a='x\ty\nz'/>").attributes.get("a"), "x y z");
  assertEquals(parse("\ufeff<t/>").name, "t");
  refuses("<t>&nbsp;</t>", /undeclared entity &nbsp;/);
  refuses("<t>&#0;</t>", /invalid character reference/);
  refuses("<t>&#xD800;</t>", /invalid character reference/);
  refuses("<t>&#x110000;</t>", /invalid character reference/);
  refuses("<t>&#xFFFE;</t>", /invalid character reference/);
  refuses("<t>&#;</t>", /invalid character reference/);
  refuses("<t>& x</t>", /unterminated reference/);
  refuses("<t>\u0001</t>", /character not allowed/);
  refuses("<t><![CDATA[x</t>", /unterminated CDATA/);
  refuses("<t><!-- x</t>", /unterminated comment/);
  refuses("<t><?pi x</t>", /unterminated processing instruction/);
  refuses("<t/><?xml version='1.0'?>", /XML declaration not at the start/);
  refuses("<t a='<'/>", /'<' in attribute value/);
});

Deno.test("DOCTYPE and ENTITY are refused outright (no billion laughs)", () => {
  const laughs = `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
]>
<D:propfind xmlns:D="DAV:"><D:prop>&lol2;</D:prop></D:propfind>`;
  const error = refuses(laughs, /DOCTYPE refused/);
  assertEquals(error.offset, laughs.indexOf("<!DOCTYPE"));
  refuses(`<!doctype x><x/>`, /DOCTYPE refused/);
  refuses(`<x><!ENTITY a "b"></x>`, /ENTITY refused/);
  refuses(`<x><!ELEMENT a ANY></x>`, /unsupported markup/);
  refuses(`<!DOCTYPE x SYSTEM "file:///etc/passwd"><x>&xxe;</x>`, /DOCTYPE refused/);
});

Deno.test("malformed documents are refused", () => {
  refuses("", /no root element/);
  refuses("   <!-- only -->", /no root element/);
  refuses("<a>", /unclosed element <a>/);
  refuses("<a><b></a>", /does not match <b>/);
  refuses("<a></b>", /does not match <a>/);
  refuses("</a>", /without a start tag/);
  refuses("<a/><b/>", /more than one root/);
  refuses("text<a/>", /text outside the root/);
  refuses("<a/>text", /text outside the root/);
  refuses("<a", /unterminated start tag/);
  refuses("<a b>", /expected '='/);
  refuses("<a b=c/>", /expected quoted value/);
  refuses("<a b='c/>", /unterminated attribute value/);
  refuses("<a b='1'c='2'/>", /expected whitespace/);
  refuses("<a b='1' b='2'/>", /duplicate attribute/);
  refuses("<1a/>", /expected a name/);
  refuses("<a></a >x", /text outside the root/);
  refuses("<a:b:c/>", /expected '>'|expected whitespace|expected a name|undeclared/);
  refuses("<?xml version='1.0'", /unterminated XML declaration/);
});

Deno.test("size, depth and element limits", () => {
  const limits = { maxBytes: 100, maxDepth: 3, maxElements: 5 };
  assertEquals(parseXml("<a><b><c/></b></a>", limits).children[0].children[0].name, "c");
  refuses("<a><b><c><d/></c></b></a>", /nesting deeper than 3/, limits);
  refuses("<a><b/><b/><b/><b/><b/></a>", /more than 5 elements/, limits);
  const big = `<a>${"x".repeat(100)}</a>`;
  assertEquals(refuses(big, /larger than 100 bytes/, limits).offset, 0);
  // The size limit counts UTF-8 bytes, not UTF-16 units: 40 × 3 bytes > 100.
  refuses(`<a>${"\u20ac".repeat(40)}</a>`, /larger than 100 bytes/, limits);
  // Size is checked before anything else: a huge DOCTYPE is refused for its size.
  refuses(`<!DOCTYPE x>${" ".repeat(200)}`, /larger than/, limits);
});

Deno.test("toXml declares prefixes on the root and escapes text and attributes", () => {
  const tree = el(DAV_NS, "multistatus", [
    el(DAV_NS, "response", [
      el(DAV_NS, "href", ["/cal/a&b <1>.ics"]),
      el(DAV_NS, "propstat", [
        el(DAV_NS, "prop", [
          el(CALDAV_NS, "calendar-data", ["BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"]),
          el(CARDDAV_NS, "address-data"),
          el(CALENDARSERVER_NS, "getctag", ["42"]),
          el("urn:x-example", "color", ["#fff"], { symbolic: `"a"\t<&>` }),
          el("urn:x-other", "thing", [], { "urn:x-example kind": "k" }),
        ]),
        el(DAV_NS, "status", ["HTTP/1.1 200 OK"]),
      ]),
    ]),
  ]);
  const xml = toXml(tree);
  assert(xml.startsWith(`<?xml version="1.0" encoding="utf-8"?><D:multistatus xmlns:D="DAV:"`));
  assertStringIncludes(xml, `xmlns:C="urn:ietf:params:xml:ns:caldav"`);
  assertStringIncludes(xml, `xmlns:CR="urn:ietf:params:xml:ns:carddav"`);
  assertStringIncludes(xml, `xmlns:CS="http://calendarserver.org/ns/"`);
  assertStringIncludes(xml, `xmlns:ns0="urn:x-example"`);
  assertStringIncludes(xml, `<D:href>/cal/a&amp;b &lt;1&gt;.ics</D:href>`);
  assertStringIncludes(xml, `BEGIN:VCALENDAR&#13;\nEND:VCALENDAR&#13;\n`);
  assertStringIncludes(xml, `<CR:address-data/>`);
  assertStringIncludes(
    xml,
    `<ns0:color symbolic="&#34;a&#34;&#9;&#60;&#38;&#62;">#fff</ns0:color>`,
  );
  assertStringIncludes(xml, `<ns1:thing ns0:kind="k"/>`);
  assertEquals(xml.split("xmlns:").length - 1, 6);
  assertEquals(parse(xml), tree);

  const custom = toXml(el("urn:x-example", "a", [el(DAV_NS, "b")]), {
    prefixes: { "urn:x-example": "X", [DAV_NS]: "d" },
  });
  assertEquals(
    custom,
    `<?xml version="1.0" encoding="utf-8"?><X:a xmlns:X="urn:x-example" xmlns:d="DAV:"><d:b/></X:a>`,
  );
  // No namespace stays unprefixed; a colliding preferred prefix is replaced.
  const plain = toXml(el("", "a", [el("urn:1", "b"), el("urn:2", "c")]), {
    prefixes: { "urn:1": "p", "urn:2": "p" },
  });
  assertEquals(
    plain,
    `<?xml version="1.0" encoding="utf-8"?><a xmlns:p="urn:1" xmlns:ns0="urn:2"><p:b/><ns0:c/></a>`,
  );
});

Deno.test("round trip: parse(toXml(x)) equals x for the RFC examples and built trees", () => {
  const bodies = [
    `<D:propfind xmlns:D="DAV:"><D:prop xmlns:R="urn:r"><R:bigbox/></D:prop></D:propfind>`,
    `<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><C:filter>` +
    `<C:comp-filter name="VCALENDAR"><C:prop-filter name="X"><C:text-match ` +
    `collation="i;octet">  spaced &amp; &lt;tagged&gt;  </C:text-match></C:prop-filter>` +
    `</C:comp-filter></C:filter></C:calendar-query>`,
    `<a xmlns="urn:one" xmlns:q="urn:q" q:attr="v&#10;w"><b xml:lang="en">t</b><c xmlns=""/></a>`,
  ];
  for (const body of bodies) {
    const tree = parse(body);
    assertEquals(parse(toXml(tree)), tree);
  }
  const built = el(DAV_NS, "prop", [
    el(DAV_NS, "displayname", ["Caf\u00e9 \u{1F600} ]]> \t\n"]),
    el("", "plain", ["x"], { "a b": "c", plain: "\r\n" }),
  ]);
  assertEquals(parse(toXml(built)), built);
});

Deno.test("toXml and parseXml handle 100k-deep trees without recursion", () => {
  let tree = el(DAV_NS, "leaf", ["bottom"]);
  for (let i = 0; i < 100_000; i++) tree = el(DAV_NS, "n", [tree]);
  const xml = toXml(tree);
  const parsed = parseXml(xml, { maxBytes: 1 << 24, maxDepth: 200_000, maxElements: 200_000 });
  let node = parsed;
  let depth = 0;
  while (node.children.length > 0) {
    node = node.children[0];
    depth++;
  }
  assertEquals([depth, node.name, node.text], [100_000, "leaf", "bottom"]);
});

Deno.test("toXml writes rawXml markup as it is, inside declared prefixes", () => {
  const xml = toXml(
    el(DAV_NS, "multistatus", [rawXml("<D:response><D:href>/a&amp;b</D:href></D:response>")]),
  );
  assertEquals(
    xml,
    '<?xml version="1.0" encoding="utf-8"?><D:multistatus xmlns:D="DAV:">' +
      "<D:response><D:href>/a&amp;b</D:href></D:response></D:multistatus>",
  );
  const parsed = parseXml(xml, { maxBytes: 1 << 20, maxDepth: 10, maxElements: 100 });
  assertEquals(parsed.children[0].children[0].text, "/a&b");
  assertEquals(escapeXmlText("a<b&c>"), "a&lt;b&amp;c&gt;");
});
