/**
 * The iCalendar wire format (RFC 5545 3.1): content lines, folding, parameters (with RFC 6868
 * caret encoding) and BEGIN/END nesting, parsed to a `VComponent` tree and serialized back.
 *
 * Implementation notes:
 * - Every limit is checked before the work it bounds: `maxBytes` on the whole text first, then
 *   `maxLineBytes` per unfolded line, `maxProperties`, `maxComponents` and `maxDepth` as the tree
 *   grows. A limit is a client-caused error like any other: `ICalError`.
 * - `parseICalendar` throws only `ICalError`, with the (1-based, folded) line number.
 * - The parser is a loop with an explicit component stack, so no input can overflow the stack.
 * - Lenient where clients are sloppy: bare LF line ends, blank lines, and lower-case names are
 *   accepted (RFC 5545 3.1 says names are case-insensitive).
 * - Serialization folds at 75 octets (RFC 5545 3.1) and never inside a UTF-8 sequence.
 */
import { ICalError, type ICalLimits, type VComponent, type VProperty } from "./component.ts";
import { utf8Length } from "../utf8.ts";

export { utf8Length };

const NAME = /^[A-Za-z0-9-]+$/;

function decodeCaret(value: string): string {
  if (!value.includes("^")) return value;
  return value.replace(/\^([n^'])/g, (_, c: string) => (c === "n" ? "\n" : c === "'" ? '"' : "^"));
}

/** Splits one unfolded content line into name, parameters and value (RFC 5545 3.1). */
function parseContentLine(line: string, lineNo: number): VProperty {
  const fail = (what: string): never => {
    throw new ICalError(`${what} on line ${lineNo}`);
  };
  let i = 0;
  while (i < line.length && line[i] !== ";" && line[i] !== ":") i++;
  const name = line.slice(0, i);
  if (!NAME.test(name)) fail("invalid property name");
  const params = new Map<string, string[]>();
  while (i < line.length && line[i] === ";") {
    const eq = line.indexOf("=", i + 1);
    if (eq < 0) fail("parameter without value");
    const paramName = line.slice(i + 1, eq);
    if (!NAME.test(paramName)) fail("invalid parameter name");
    const values: string[] = [];
    i = eq + 1;
    for (;;) {
      if (line[i] === '"') {
        const close = line.indexOf('"', i + 1);
        if (close < 0) fail("unterminated quoted parameter value");
        values.push(decodeCaret(line.slice(i + 1, close)));
        i = close + 1;
      } else {
        let j = i;
        while (j < line.length && line[j] !== "," && line[j] !== ";" && line[j] !== ":") {
          if (line[j] === '"') fail("quote inside parameter value");
          j++;
        }
        values.push(decodeCaret(line.slice(i, j)));
        i = j;
      }
      if (line[i] === ",") i++;
      else break;
    }
    const key = paramName.toUpperCase();
    params.set(key, [...(params.get(key) ?? []), ...values]);
  }
  if (line[i] !== ":") fail("missing ':' after property name");
  return { name: name.toUpperCase(), params, value: line.slice(i + 1) };
}

/**
 * Parses one iCalendar object; the root must be a single VCALENDAR.
 *
 * @example
 * const root = parseICalendar("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n", limits);
 */
export function parseICalendar(text: string, limits: ICalLimits): VComponent {
  if (text.length > limits.maxBytes || utf8Length(text) > limits.maxBytes) {
    throw new ICalError(`object larger than ${limits.maxBytes} bytes`);
  }
  const rawLines = text.split(/\r\n|\n|\r/);
  const stack: VComponent[] = [];
  let root: VComponent | null = null;
  let properties = 0;
  let components = 0;
  let pending = "";
  let pendingLine = 0;

  const take = (line: string, lineNo: number) => {
    if (line.length === 0) return;
    if (line.length > limits.maxLineBytes || utf8Length(line) > limits.maxLineBytes) {
      throw new ICalError(
        `content line longer than ${limits.maxLineBytes} bytes on line ${lineNo}`,
      );
    }
    const prop = parseContentLine(line, lineNo);
    if (prop.name === "BEGIN") {
      const name = prop.value.trim().toUpperCase();
      if (!NAME.test(name)) throw new ICalError(`invalid component name on line ${lineNo}`);
      if (++components > limits.maxComponents) {
        throw new ICalError(`more than ${limits.maxComponents} components (line ${lineNo})`);
      }
      if (stack.length >= limits.maxDepth) {
        throw new ICalError(`components nested deeper than ${limits.maxDepth} on line ${lineNo}`);
      }
      const component: VComponent = { name, properties: [], components: [] };
      if (stack.length > 0) stack[stack.length - 1].components.push(component);
      else if (root !== null) throw new ICalError(`second top-level component on line ${lineNo}`);
      else if (name !== "VCALENDAR") throw new ICalError(`${name} at top level on line ${lineNo}`);
      else root = component;
      stack.push(component);
    } else if (prop.name === "END") {
      const name = prop.value.trim().toUpperCase();
      const open = stack.pop();
      if (open === undefined) throw new ICalError(`END:${name} without BEGIN on line ${lineNo}`);
      if (open.name !== name) {
        throw new ICalError(`END:${name} closes ${open.name} on line ${lineNo}`);
      }
    } else {
      if (stack.length === 0) throw new ICalError(`property outside a component on line ${lineNo}`);
      if (++properties > limits.maxProperties) {
        throw new ICalError(`more than ${limits.maxProperties} properties (line ${lineNo})`);
      }
      stack[stack.length - 1].properties.push(prop);
    }
  };

  for (let n = 0; n < rawLines.length; n++) {
    const raw = rawLines[n];
    if ((raw.startsWith(" ") || raw.startsWith("\t")) && pendingLine > 0) {
      pending += raw.slice(1);
      if (pending.length > limits.maxLineBytes) {
        throw new ICalError(
          `content line longer than ${limits.maxLineBytes} bytes on line ${pendingLine}`,
        );
      }
      continue;
    }
    if (pendingLine > 0) take(pending, pendingLine);
    pending = raw;
    pendingLine = n + 1;
  }
  if (pendingLine > 0) take(pending, pendingLine);
  if (stack.length > 0) throw new ICalError(`BEGIN:${stack[stack.length - 1].name} never ends`);
  if (root === null) throw new ICalError("no VCALENDAR");
  return root;
}

function encodeParamValue(value: string): string {
  const encoded = value.replace(/\^/g, "^^").replace(/\r?\n/g, "^n").replace(/"/g, "^'");
  return /[:;,]/.test(encoded) || encoded === "" ? `"${encoded}"` : encoded;
}

/** Folds one content line at 75 octets, continuation lines starting with one space. */
function fold(line: string): string {
  if (line.length <= 75 && utf8Length(line) <= 75) return line + "\r\n";
  let out = "";
  let bytes = 0;
  let limit = 75;
  for (const char of line) {
    const size = utf8Length(char);
    if (bytes + size > limit) {
      out += "\r\n ";
      bytes = 0;
      limit = 74;
    }
    out += char;
    bytes += size;
  }
  return out + "\r\n";
}

export function serializeProperty(prop: VProperty): string {
  let line = prop.name;
  for (const [name, values] of prop.params) {
    line += `;${name}=${values.map(encodeParamValue).join(",")}`;
  }
  return fold(`${line}:${prop.value}`);
}

/**
 * The wire form of a component tree: CRLF line ends, folded at 75 octets.
 *
 * @example
 * const text = serializeICalendar(parseICalendar(body, limits));
 */
export function serializeICalendar(root: VComponent): string {
  const out: string[] = [];
  const write = (component: VComponent) => {
    out.push(`BEGIN:${component.name}\r\n`);
    for (const prop of component.properties) out.push(serializeProperty(prop));
    for (const sub of component.components) write(sub);
    out.push(`END:${component.name}\r\n`);
  };
  write(root);
  return out.join("");
}
