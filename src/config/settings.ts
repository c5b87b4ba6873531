/**
 * config.toml as a list of settings: every leaf key of the schema with its value, its default and
 * where the value comes from (the file, a POSTERN__SECTION__KEY environment variable, or the
 * default). What the admin settings page and GET /api/settings show.
 *
 * Implementation notes:
 * - Values are shown as written (the TOML value, `"30s"` rather than 30), so they can be sent
 *   back unchanged; defaults likewise in the form the schema declares them.
 * - Secrets (SECRET_KEYS) are never shown: a set secret reads "********".
 * - The environment names only [section] keys (src/config/load.ts envOverrides); keys of
 *   sub-tables ([spam.greylist]) come from the file or the default.
 */
import { parse as parseToml } from "smol-toml";
import { z } from "zod";
import { configSchema } from "./schema.ts";
import { envOverrides } from "./load.ts";

export type SettingSource = "file" | "default" | "env";

export interface SettingKey {
  /** Dotted: "spam.junk_threshold", "spam.greylist.enabled". */
  key: string;
  path: string[];
  default: unknown;
  schema: z.ZodTypeAny;
}

export interface Setting {
  key: string;
  value: unknown;
  default: unknown;
  source: SettingSource;
  /** The environment variable that sets it, when source is "env". */
  env?: string;
  secret: boolean;
}

/** Keys whose values are credentials: shown only as set or unset. */
export const SECRET_KEYS: ReadonlySet<string> = new Set([
  "queue.relay_password",
  "metrics.token",
  "spam.llm.api_key",
]);

export const SECRET_MASK = "********";

let keys: SettingKey[] | null = null;

/**
 * Every leaf key of the config schema, in schema order.
 *
 * @example
 * settingKeys().find((k) => k.key === "spam.junk_threshold")?.default; // 5
 */
export function settingKeys(): SettingKey[] {
  if (keys) return keys;
  const found: SettingKey[] = [];
  const walk = (shape: Record<string, z.ZodTypeAny>, path: string[]) => {
    for (const [name, field] of Object.entries(shape)) {
      const inner = field instanceof z.ZodDefault ? field._def.innerType : field;
      if (inner instanceof z.ZodObject) {
        walk(inner.shape, [...path, name]);
        continue;
      }
      found.push({
        key: [...path, name].join("."),
        path: [...path, name],
        default: field instanceof z.ZodDefault ? field._def.defaultValue() : undefined,
        schema: field,
      });
    }
  };
  walk(configSchema.shape, []);
  return keys = found;
}

/** The value at `path` in a parsed document, or undefined. */
export function valueAt(node: unknown, path: string[]): unknown {
  for (const part of path) {
    if (typeof node !== "object" || node === null || Array.isArray(node)) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

/** The environment variable that sets `key`, if any. */
export function envVariableFor(key: string, env: Record<string, string>): string | null {
  const hit = envOverrides(env).find((o) => o.path.join(".") === key);
  return hit?.name ?? null;
}

/**
 * Every setting as `text` (config.toml's content) and `env` give it.
 *
 * @example
 * describeSettings('[spam]\njunk_threshold = 6\n', {})
 *   .find((s) => s.key === "spam.junk_threshold"); // { value: 6, default: 5, source: "file", ... }
 */
export function describeSettings(text: string, env: Record<string, string>): Setting[] {
  const raw = parseToml(text) as Record<string, unknown>;
  const overrides = new Map(envOverrides(env).map((o) => [o.path.join("."), o]));
  return settingKeys().map(({ key, path, default: defaultValue }) => {
    const override = overrides.get(key);
    const inFile = valueAt(raw, path);
    const source: SettingSource = override ? "env" : inFile !== undefined ? "file" : "default";
    const value = override ? override.value : inFile !== undefined ? inFile : defaultValue;
    const secret = SECRET_KEYS.has(key);
    return {
      key,
      value: secret && value !== "" ? SECRET_MASK : value,
      default: defaultValue,
      source,
      ...(override ? { env: override.name } : {}),
      secret,
    };
  });
}
