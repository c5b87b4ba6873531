/**
 * Structural invariants of a parsed MIME tree, for tests, fuzzing and checking trees read back
 * from storage: offsets in bounds and nested, children ordered inside the parent body,
 * section numbers as RFC 9051 6.4.5 gives them, and findSection resolving each of them.
 */
import { findSection, type MimePart } from "./mime.ts";

/**
 * Everything wrong with a tree; an empty list means the tree is sound.
 *
 * @example
 * checkMimeTree(raw, parseMime(raw, limits)); // []
 */
export function checkMimeTree(raw: Uint8Array, root: MimePart): string[] {
  const problems: string[] = [];
  const stack: { part: MimePart; section: string; messageRoot: boolean; encapsulated: boolean }[] =
    [{ part: root, section: "", messageRoot: true, encapsulated: false }];
  while (stack.length > 0 && problems.length < 20) {
    const { part: p, section, messageRoot, encapsulated } = stack.pop()!;
    const where = `part "${p.section}"`;
    if (p.section !== section) problems.push(`${where}: expected section "${section}"`);
    if (
      !(0 <= p.headerStart && p.headerStart <= p.headerEnd && p.headerEnd === p.bodyStart &&
        p.bodyStart <= p.bodyEnd && p.bodyEnd <= raw.length)
    ) {
      problems.push(
        `${where}: offsets ${p.headerStart}/${p.headerEnd}/${p.bodyStart}/${p.bodyEnd}`,
      );
    }
    if (
      !/^[a-z0-9!#$%&'*+\-.^_`|~]+$/.test(p.type) || !/^[a-z0-9!#$%&'*+\-.^_`|~]+$/.test(p.subtype)
    ) {
      problems.push(`${where}: media type "${p.type}/${p.subtype}"`);
    }
    if ((p.type === "multipart") !== (p.parts.length > 0)) {
      problems.push(`${where}: ${p.type} with ${p.parts.length} children`);
    }
    if (p.lines < 0 || !Number.isInteger(p.lines)) problems.push(`${where}: lines ${p.lines}`);
    if (section !== "" && !encapsulated && findSection(root, section) !== p) {
      problems.push(`${where}: findSection does not return it`);
    }
    const prefix = section === "" ? "" : `${section}.`;
    let previousEnd = p.bodyStart;
    p.parts.forEach((c, i) => {
      if (c.headerStart < previousEnd || c.bodyEnd > p.bodyEnd) {
        problems.push(`part "${c.section}": outside its parent body or before its sibling`);
      }
      previousEnd = c.bodyEnd;
      stack.push({
        part: c,
        section: `${prefix}${i + 1}`,
        messageRoot: false,
        encapsulated: false,
      });
    });
    if (p.message !== null) {
      const m = p.message;
      if (p.type !== "message") problems.push(`${where}: ${p.type} with an encapsulated message`);
      if (m.headerStart !== p.bodyStart || m.bodyEnd !== p.bodyEnd) {
        problems.push(`${where}: encapsulated message does not fill the body`);
      }
      const inner = messageRoot ? (section === "" ? "1" : `${section}.1`) : section;
      stack.push({ part: m, section: inner, messageRoot: true, encapsulated: true });
    }
  }
  return problems;
}
