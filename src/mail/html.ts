/**
 * HTML to plain text for previews and the full-text index: tags dropped, block elements and
 * <br> turned into line breaks, script/style/head content removed, entities decoded.
 *
 * Implementation notes:
 * - One forward scan with indexOf; no regex over the document, no DOM. Never throws.
 */

const BLOCK = new Set([
  "p",
  "div",
  "br",
  "li",
  "tr",
  "table",
  "h1",
  "h2",
  "h3",
  "h4",
  "h5",
  "h6",
  "blockquote",
  "pre",
  "hr",
  "ul",
  "ol",
  "dl",
  "dt",
  "dd",
  "section",
  "article",
  "header",
  "footer",
  "title",
]);
const SKIP = new Set(["script", "style", "head", "template"]);

const ENTITIES: Record<string, string> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
  nbsp: "\u00a0",
  copy: "©",
  reg: "®",
  hellip: "…",
  mdash: "—",
  ndash: "–",
  lsquo: "‘",
  rsquo: "’",
  ldquo: "“",
  rdquo: "”",
  bull: "•",
  euro: "€",
  trade: "™",
  eacute: "é",
  egrave: "è",
  agrave: "à",
  auml: "ä",
  ouml: "ö",
  uuml: "ü",
  Auml: "Ä",
  Ouml: "Ö",
  Uuml: "Ü",
  szlig: "ß",
  ccedil: "ç",
};

/**
 * Decodes named (common subset) and numeric character references.
 *
 * @example
 * decodeEntities("caf&eacute; &#x263A;"); // "café ☺"
 */
export function decodeEntities(text: string): string {
  if (!text.includes("&")) return text;
  return text.replace(/&(#[xX][0-9a-fA-F]{1,6}|#[0-9]{1,7}|[A-Za-z]{2,8});?/g, (m, ref: string) => {
    if (ref[0] === "#") {
      const code = ref[1] === "x" || ref[1] === "X"
        ? parseInt(ref.slice(2), 16)
        : parseInt(ref.slice(1), 10);
      return code > 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff)
        ? String.fromCodePoint(code)
        : "\ufffd";
    }
    return ENTITIES[ref] ?? m;
  });
}

function tagName(html: string, at: number): string {
  let i = at;
  if (html[i] === "/") i++;
  const start = i;
  while (i < html.length && /[A-Za-z0-9]/.test(html[i])) i++;
  return html.slice(start, i).toLowerCase();
}

/**
 * Converts HTML to plain text.
 *
 * @example
 * htmlToText("<p>Hello<br>world</p><style>p{}</style>"); // "Hello\nworld"
 */
export function htmlToText(html: string): string {
  const out: string[] = [];
  let i = 0;
  const n = html.length;
  while (i < n) {
    const lt = html.indexOf("<", i);
    const textEnd = lt < 0 ? n : lt;
    if (textEnd > i) out.push(decodeEntities(html.slice(i, textEnd).replace(/\s+/g, " ")));
    if (lt < 0) break;
    if (html.startsWith("<!--", lt)) {
      const close = html.indexOf("-->", lt + 4);
      i = close < 0 ? n : close + 3;
      continue;
    }
    const gt = html.indexOf(">", lt + 1);
    if (gt < 0) break;
    const name = tagName(html, lt + 1);
    const closing = html[lt + 1] === "/";
    i = gt + 1;
    if (!closing && SKIP.has(name)) {
      const closer = new RegExp(`</${name}`, "gi");
      closer.lastIndex = i;
      const found = closer.exec(html);
      if (found === null) break;
      const endGt = html.indexOf(">", found.index);
      i = endGt < 0 ? n : endGt + 1;
      continue;
    }
    if (BLOCK.has(name)) out.push("\n");
    else if (name === "td" || name === "th") out.push(" ");
  }
  return out.join("")
    .split("\n")
    .map((line) => line.trim().replace(/ {2,}/g, " "))
    .join("\n")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
}
