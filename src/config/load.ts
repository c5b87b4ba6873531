/**
 * Loads config.toml: TOML parse, environment overrides, schema validation, path resolution.
 * Every failure is a ConfigError whose message names the key, what was expected and what was
 * found; nothing here touches the data directory.
 */
import { parse as parseToml, TomlError } from "smol-toml";
import { z } from "zod";
import { type Config, configSchema } from "./schema.ts";
import { dirname, isAbsolute, join, resolve } from "node:path";

export class ConfigError extends Error {
  constructor(readonly file: string, readonly problems: string[]) {
    super(`${file}: ${problems.join("; ")}`);
    this.name = "ConfigError";
  }
}

export interface LoadedConfig {
  config: Config;
  /** The file that was read, or "(defaults)" when none exists and defaults were allowed. */
  file: string;
  /** Absolute paths derived from config, resolved relative to the config file's folder. */
  paths: {
    dataDir: string;
    database: string;
    blobDir: string;
    controlSocket: string;
    /** The config file's folder: other relative paths in the file are relative to it. */
    configDir: string;
  };
}

const ENV_PREFIX = "POSTERN__";

/**
 * Reads and validates a configuration file.
 * @example
 * const { config, paths } = await loadConfig("./config.toml");
 */
export async function loadConfig(
  file: string,
  options: { env?: Record<string, string>; allowMissing?: boolean } = {},
): Promise<LoadedConfig> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound && options.allowMissing) {
      text = "";
    } else if (error instanceof Deno.errors.NotFound) {
      throw new ConfigError(file, ["file not found (pass --config FILE)"]);
    } else {
      throw new ConfigError(file, [`cannot read: ${(error as Error).message}`]);
    }
  }
  const config = parseConfigText(text, file, options.env ?? Deno.env.toObject());
  const base = dirname(resolve(file));
  const abs = (p: string, root: string) => isAbsolute(p) ? p : join(root, p);
  const dataDir = abs(config.server.data_dir, base);
  return {
    config,
    file,
    paths: {
      dataDir,
      database: abs(config.store.sqlite_path, dataDir),
      blobDir: abs(config.store.blob_dir, dataDir),
      controlSocket: join(dataDir, "control.sock"),
      configDir: base,
    },
  };
}

/** Parses and validates TOML text; `env` entries named POSTERN__SECTION__KEY override keys. */
export function parseConfigText(
  text: string,
  file: string,
  env: Record<string, string> = {},
): Config {
  let raw: Record<string, unknown>;
  try {
    raw = parseToml(text) as Record<string, unknown>;
  } catch (error) {
    if (error instanceof TomlError) {
      throw new ConfigError(file, [
        `TOML syntax error at line ${error.line}, column ${error.column}: ${
          error.message.split("\n")[0]
        }`,
      ]);
    }
    throw new ConfigError(file, [`cannot parse: ${(error as Error).message}`]);
  }
  applyEnvOverrides(raw, env);
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    throw new ConfigError(file, result.error.issues.map((issue) => describeIssue(issue, raw)));
  }
  const problems = crossCheck(result.data);
  if (problems.length > 0) throw new ConfigError(file, problems);
  return result.data;
}

/** What each key allows but the keys together do not. */
function crossCheck(config: Config): string[] {
  const problems: string[] = [];
  const { acme, listeners } = config;
  if (acme.enabled) {
    const listener = acme.challenge === "http-01" ? "http" : "https";
    if (listeners[listener] === "") {
      problems.push(
        `acme.challenge: "${acme.challenge}" needs the ${listener} listener, which is disabled ` +
          `(listeners.${listener} = "")`,
      );
    }
  }
  return problems;
}

/** The POSTERN__SECTION__KEY entries of `env`, as [section, key], variable name and value. */
export function envOverrides(
  env: Record<string, string>,
): { path: [string, string]; name: string; value: unknown }[] {
  const found: { path: [string, string]; name: string; value: unknown }[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX)) continue;
    const path = name.slice(ENV_PREFIX.length).toLowerCase().split("__");
    if (path.length !== 2 || !path[0] || !path[1]) continue;
    found.push({ path: [path[0], path[1]], name, value: coerceEnvValue(value) });
  }
  return found;
}

function applyEnvOverrides(raw: Record<string, unknown>, env: Record<string, string>) {
  for (const { path: [section, key], value } of envOverrides(env)) {
    const table = (raw[section] ??= {}) as Record<string, unknown>;
    if (typeof table !== "object" || table === null) continue;
    table[key] = value;
  }
}

function coerceEnvValue(value: string): unknown {
  if (/^-?\d+$/.test(value)) return Number(value);
  if (value === "true" || value === "false") return value === "true";
  return value;
}

function describeIssue(issue: z.ZodIssue, raw: unknown): string {
  const key = issue.path.join(".") || "(top level)";
  const found = valueAt(raw, issue.path);
  const foundText = found === undefined ? "nothing" : describeValue(found);
  switch (issue.code) {
    case "unrecognized_keys":
      return `${key === "(top level)" ? "" : key + ": "}unknown key${
        issue.keys.length > 1 ? "s" : ""
      } ${issue.keys.map((k) => JSON.stringify(k)).join(", ")}`;
    case "invalid_type":
      return `${key}: expected ${issue.expected}, found ${
        issue.received === "undefined" ? "nothing" : foundText
      }`;
    case "invalid_enum_value":
      return `${key}: expected one of ${
        issue.options.map((o) => JSON.stringify(o)).join(", ")
      }, found ${foundText}`;
    case "invalid_literal":
      return `${key}: expected ${JSON.stringify(issue.expected)}, found ${foundText}`;
    case "too_small":
    case "too_big":
      return `${key}: ${issue.message.toLowerCase()}, found ${foundText}`;
    case "custom":
      return `${key}: ${issue.message}`;
    default:
      return `${key}: ${issue.message}, found ${foundText}`;
  }
}

function describeValue(value: unknown): string {
  if (typeof value === "string") return `string ${JSON.stringify(value)}`;
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object" && value !== null) return "a table";
  return `${typeof value} ${String(value)}`;
}

function valueAt(raw: unknown, path: (string | number)[]): unknown {
  let node = raw;
  for (const part of path) {
    if (typeof node !== "object" || node === null) return undefined;
    node = (node as Record<string | number, unknown>)[part];
  }
  return node;
}
