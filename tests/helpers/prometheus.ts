/**
 * A parser for the Prometheus text exposition format 0.0.4, as a scraper reads it: HELP and TYPE
 * lines, samples with labels (escapes \\, \" and \n), Go float values (NaN, +Inf, -Inf) and
 * optional timestamps. It throws on what Prometheus would refuse: a malformed line, an unknown
 * escape, a duplicate label or series, TYPE after a family's samples, a family split in two, a
 * sample name that does not belong to its TYPE, histogram buckets without +Inf or not
 * cumulative, and text not ending in a line feed.
 */

export type MetricType = "counter" | "gauge" | "histogram" | "summary" | "untyped";

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
  timestamp?: number;
}

export interface MetricFamily {
  name: string;
  help?: string;
  type: MetricType;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const FLOAT = /^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|Inf|inf|NaN)$/;
const TYPES: MetricType[] = ["counter", "gauge", "histogram", "summary", "untyped"];

export class PrometheusParseError extends Error {
  constructor(message: string, readonly line: number) {
    super(`line ${line}: ${message}`);
  }
}

/** Parses an exposition into its metric families, by family name. */
export function parsePrometheus(text: string): Map<string, MetricFamily> {
  if (text !== "" && !text.endsWith("\n")) throw new PrometheusParseError("no final line feed", 0);
  const families = new Map<string, MetricFamily>();
  const series = new Set<string>();
  const closed = new Set<string>();
  let current: MetricFamily | null = null;
  const family = (name: string, line: number): MetricFamily => {
    let found = families.get(name);
    if (!found) {
      found = { name, type: "untyped", samples: [] };
      families.set(name, found);
    }
    if (current && current !== found) {
      closed.add(current.name);
      if (closed.has(name)) throw new PrometheusParseError(`family ${name} split in two`, line);
    }
    current = found;
    return found;
  };
  const lines = text.split("\n").slice(0, -1);
  lines.forEach((raw, index) => {
    const number = index + 1;
    const line = raw.replace(/^[ \t]+/, "");
    if (line === "") return;
    if (line.startsWith("#")) {
      const match = /^#[ \t]+(HELP|TYPE)[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(line);
      if (!match) return; // a comment
      const [, keyword, name, rest = ""] = match;
      if (!METRIC_NAME.test(name) || METRIC_NAME.exec(name)![0] !== name) {
        throw new PrometheusParseError(`bad metric name ${name}`, number);
      }
      const target = family(name, number);
      if (keyword === "HELP") {
        if (target.help !== undefined) {
          throw new PrometheusParseError(`second HELP ${name}`, number);
        }
        target.help = unescapeHelp(rest, number);
      } else {
        const type = rest.trim() as MetricType;
        if (!TYPES.includes(type)) throw new PrometheusParseError(`bad type ${rest}`, number);
        if (target.samples.length > 0 || target.type !== "untyped" && target.type !== type) {
          throw new PrometheusParseError(`TYPE ${name} after its samples or repeated`, number);
        }
        target.type = type;
      }
      return;
    }
    const sample = parseSample(line, number);
    const owner = familyOf(sample.name, families);
    const target = family(owner, number);
    checkName(target, sample, number);
    const key = `${sample.name}{${
      Object.entries(sample.labels).sort().map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(",")
    }}`;
    if (series.has(key)) throw new PrometheusParseError(`duplicate series ${key}`, number);
    series.add(key);
    target.samples.push(sample);
  });
  for (const parsed of families.values()) {
    if (parsed.type === "histogram") checkHistogram(parsed);
  }
  return families;
}

/**
 * The value of the sample `name` whose labels are exactly `labels`.
 *
 * @example
 * sampleValue(parsePrometheus(text), "up", { job: "mail" }); // 1
 */
export function sampleValue(
  families: Map<string, MetricFamily>,
  name: string,
  labels: Record<string, string> = {},
): number {
  const wanted = JSON.stringify(Object.entries(labels).sort());
  for (const parsed of families.values()) {
    for (const sample of parsed.samples) {
      if (sample.name === name && JSON.stringify(Object.entries(sample.labels).sort()) === wanted) {
        return sample.value;
      }
    }
  }
  throw new Error(`no sample ${name}${JSON.stringify(labels)}`);
}

function parseSample(line: string, number: number): Sample {
  const fail = (why: string) => new PrometheusParseError(`${why}: ${line}`, number);
  const name = METRIC_NAME.exec(line)?.[0];
  if (!name) throw fail("expected a metric name");
  let rest = line.slice(name.length);
  const labels: Record<string, string> = {};
  if (rest.startsWith("{")) {
    rest = rest.slice(1);
    for (;;) {
      rest = rest.replace(/^[ \t]+/, "");
      if (rest.startsWith("}")) break;
      const label = LABEL_NAME.exec(rest)?.[0];
      if (!label) throw fail("expected a label name");
      rest = rest.slice(label.length).replace(/^[ \t]+/, "");
      if (!rest.startsWith('="') && !/^=[ \t]*"/.test(rest)) throw fail('expected ="');
      rest = rest.replace(/^=[ \t]*"/, "");
      let value = "";
      for (let i = 0;; i++) {
        if (i >= rest.length) throw fail("unterminated label value");
        const c = rest[i];
        if (c === '"') {
          rest = rest.slice(i + 1);
          break;
        }
        if (c === "\\") {
          const next = rest[++i];
          if (next === "\\") value += "\\";
          else if (next === '"') value += '"';
          else if (next === "n") value += "\n";
          else throw fail(`bad escape \\${next ?? ""}`);
        } else value += c;
      }
      if (label in labels) throw fail(`duplicate label ${label}`);
      labels[label] = value;
      rest = rest.replace(/^[ \t]+/, "");
      if (rest.startsWith(",")) rest = rest.slice(1);
      else if (!rest.startsWith("}")) throw fail("expected , or }");
    }
    rest = rest.slice(1);
  }
  const fields = rest.split(/[ \t]+/);
  if (fields[0] !== "" || fields.length < 2 || fields.length > 3 || fields[1] === "") {
    throw fail("expected a value and an optional timestamp");
  }
  if (!FLOAT.test(fields[1])) throw fail(`bad value ${fields[1]}`);
  const value = parseFloat(fields[1].replace(/inf$/i, "Infinity"));
  const sample: Sample = { name, labels, value };
  if (fields.length === 3) {
    if (!/^-?\d+$/.test(fields[2])) throw fail(`bad timestamp ${fields[2]}`);
    sample.timestamp = Number(fields[2]);
  }
  return sample;
}

/** The family a sample belongs to: its own name, or the histogram/summary it is a part of. */
function familyOf(name: string, families: Map<string, MetricFamily>): string {
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    if (!name.endsWith(suffix)) continue;
    const base = name.slice(0, -suffix.length);
    const parent = families.get(base);
    if (parent && (parent.type === "histogram" || parent.type === "summary")) return base;
  }
  return name;
}

function checkName(family: MetricFamily, sample: Sample, number: number): void {
  const fail = (why: string) => new PrometheusParseError(why, number);
  if (family.type === "histogram") {
    const part = sample.name.slice(family.name.length);
    if (!["_bucket", "_sum", "_count"].includes(part)) throw fail(`${sample.name} in histogram`);
    if (part === "_bucket" && !("le" in sample.labels)) throw fail("bucket without le");
    if (part !== "_bucket" && "le" in sample.labels) throw fail("le outside a bucket");
  } else if (family.type === "summary") {
    if (![family.name, `${family.name}_sum`, `${family.name}_count`].includes(sample.name)) {
      throw fail(`${sample.name} in summary ${family.name}`);
    }
  } else if (sample.name !== family.name) {
    throw fail(`${sample.name} in ${family.name}`);
  }
  if (family.type === "counter" && !(sample.value >= 0)) throw fail("negative counter");
}

function checkHistogram(family: MetricFamily): void {
  const groups = new Map<string, Sample[]>();
  for (const sample of family.samples) {
    const { le: _le, ...rest } = sample.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    groups.set(key, [...groups.get(key) ?? [], sample]);
  }
  for (const [key, samples] of groups) {
    const buckets = samples.filter((s) => s.name.endsWith("_bucket"));
    const count = samples.find((s) => s.name === `${family.name}_count`);
    const sum = samples.find((s) => s.name === `${family.name}_sum`);
    const where = `${family.name}${key}`;
    if (!count || !sum) throw new PrometheusParseError(`${where}: no _count or _sum`, 0);
    let previous = -Infinity;
    let last = 0;
    for (const bucket of buckets) {
      const bound = parseFloat(bucket.labels.le.replace(/Inf$/, "Infinity"));
      if (!(bound > previous)) throw new PrometheusParseError(`${where}: le not ascending`, 0);
      if (bucket.value < last) throw new PrometheusParseError(`${where}: not cumulative`, 0);
      previous = bound;
      last = bucket.value;
    }
    if (previous !== Infinity) throw new PrometheusParseError(`${where}: no +Inf bucket`, 0);
    if (last !== count.value) throw new PrometheusParseError(`${where}: +Inf != _count`, 0);
  }
}

/** HELP text escapes only backslash and line feed. */
function unescapeHelp(text: string, number: number): string {
  return text.replace(/\\(.?)/g, (_, c: string) => {
    if (c === "\\") return "\\";
    if (c === "n") return "\n";
    throw new PrometheusParseError(`bad escape \\${c}`, number);
  });
}
