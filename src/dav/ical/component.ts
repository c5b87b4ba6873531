/**
 * The iCalendar object model shared by every module here (RFC 5545 3.4, 3.6): a component tree
 * whose properties keep their values exactly as on the wire, plus the limits every entry point
 * is bounded by and the one error a client's data can cause.
 */

/** Bounds on one object and one expansion; they come from config, never from this module. */
export interface ICalLimits {
  /** Whole object, UTF-8 bytes. */
  maxBytes: number;
  /** One unfolded content line, UTF-8 bytes. */
  maxLineBytes: number;
  /** Total properties in the object. */
  maxProperties: number;
  /** Total components in the object. */
  maxComponents: number;
  /** Component nesting depth (VCALENDAR is depth 1). */
  maxDepth: number;
  /** Recurrence instances one expansion may produce. */
  maxInstances: number;
  /** Wall-clock budget for one expansion, in milliseconds. */
  expansionBudgetMs: number;
}

/** Malformed or oversized iCalendar data; the message says what and, when known, the line. */
export class ICalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ICalError";
  }
}

/** A component (RFC 5545 3.6): `name` upper-cased, children in document order. */
export interface VComponent {
  name: string;
  properties: VProperty[];
  components: VComponent[];
}

/** A content line (RFC 5545 3.1): name upper-cased, parameter values decoded, value as sent. */
export interface VProperty {
  name: string;
  params: Map<string, string[]>;
  value: string;
}

/** The first property named `name`, if any. */
export function property(component: VComponent, name: string): VProperty | undefined {
  return component.properties.find((p) => p.name === name);
}

/** Every property named `name`, in document order. */
export function propertiesNamed(component: VComponent, name: string): VProperty[] {
  return component.properties.filter((p) => p.name === name);
}

/** The first value of parameter `name` (upper-case), if any. */
export function param(prop: VProperty, name: string): string | undefined {
  return prop.params.get(name)?.[0];
}

/** RFC 5545 3.3.11: the text a TEXT value stands for (backslash escapes undone). */
export function unescapeText(value: string): string {
  return value.replace(/\\([\\;,nN])/g, (_, c: string) => (c === "n" || c === "N" ? "\n" : c));
}

/** A deep copy, so a rendering can change it without touching the stored tree. */
export function cloneComponent(component: VComponent): VComponent {
  return {
    name: component.name,
    properties: component.properties.map((p) => ({
      name: p.name,
      params: new Map([...p.params].map(([k, v]) => [k, [...v]])),
      value: p.value,
    })),
    components: component.components.map(cloneComponent),
  };
}

/** A property with no parameters, or the given ones. */
export function makeProperty(
  name: string,
  value: string,
  params: [string, string][] = [],
): VProperty {
  return { name, value, params: new Map(params.map(([k, v]) => [k, [v]])) };
}
