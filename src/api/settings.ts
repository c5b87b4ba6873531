/**
 * /api/settings: config.toml as the admin settings page shows it, and edits written back into
 * the file.
 *
 * Implementation notes:
 * - GET lists every leaf key of the schema with its value, default and source (file, env or
 *   default; src/config/settings.ts), whether the running server applies it live, and whether
 *   the file's value waits for a restart (restart_pending).
 * - PATCH {"values": {"spam.junk_threshold": 6, "log.file": null}} sets keys (null removes the
 *   key from the file, back to its default). The whole resulting file is validated with the
 *   schema before anything is written: an error is a 400 naming the key and the reason, and
 *   the file stays as it was. A key set by an environment variable is a 409: the variable
 *   would win over the file.
 * - The file is edited line by line (src/config/edit.ts), keeping its comments and layout, and
 *   replaced atomically: a temporary file in the same folder, synced, given the old file's
 *   mode, renamed over it. Edits are serialised, so two PATCHes never lose each other's change.
 * - Live keys (src/config/live.ts) take effect at once and are answered in `changed`; the
 *   others in `restart_required`, unless the running server already has that value.
 * - A secret key (SECRET_KEYS) sent back as the mask it is shown as keeps its value.
 */
import type { Hono } from "hono";
import { z } from "zod";
import { basename, dirname, join, resolve } from "node:path";
import { ConfigError, parseConfigText } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import { deepEqual, editToml, type TomlChange, TomlEditError } from "../config/edit.ts";
import {
  describeSettings,
  envVariableFor,
  SECRET_KEYS,
  SECRET_MASK,
  settingKeys,
  valueAt,
} from "../config/settings.ts";
import { applyLive, LIVE_KEYS } from "../config/live.ts";
import type { ApiEnv } from "./auth.ts";
import type { ApiDeps } from "./deps.ts";
import { ApiError, readJson } from "./respond.ts";

export const settingsChangeBody = z.object({
  values: z.record(z.string(), z.unknown()),
}).strict();

/**
 * The edit under way per config file: /api/settings and the web admin's settings page (which
 * mounts these handlers privately) must queue behind the same one.
 */
const editsInFlight = new Map<string, Promise<unknown>>();

export function mountSettings(api: Hono<ApiEnv>, deps: ApiDeps): void {
  const { app } = deps;
  const file = app.loaded.file;

  api.get("/settings", async (c) => {
    const text = await readConfigText(file);
    const env = Deno.env.toObject();
    let settings;
    try {
      settings = describeSettings(text, env);
    } catch (error) {
      throw new ApiError(409, "conflict", `${file} is not valid TOML: ${firstLine(error)}`);
    }
    let onDisk: Config | null = null;
    let problems: string[] = [];
    try {
      onDisk = parseConfigText(text, file, env);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems = error.problems;
    }
    const running = app.loaded.config;
    return c.json({
      file: resolve(file),
      problems,
      settings: settings.map((setting) => {
        const path = setting.key.split(".");
        return {
          ...setting,
          live: LIVE_KEYS.has(setting.key),
          restart_pending: onDisk !== null &&
            !deepEqual(valueAt(onDisk, path), valueAt(running, path)),
        };
      }),
    });
  });

  api.patch("/settings", async (c) => {
    const body = await readJson(c, settingsChangeBody, deps.maxRequestSize);
    const env = Deno.env.toObject();
    const known = new Map(settingKeys().map((k) => [k.key, k]));
    const changes: TomlChange[] = [];
    for (const [key, value] of Object.entries(body.values)) {
      const setting = known.get(key);
      if (!setting) throw new ApiError(400, "invalidRequest", `${key}: no such setting`);
      const variable = envVariableFor(key, env);
      if (variable) {
        throw new ApiError(
          409,
          "conflict",
          `${key}: set by the environment variable ${variable}, which wins over the file`,
        );
      }
      if (SECRET_KEYS.has(key) && value === SECRET_MASK) continue;
      changes.push({
        path: setting.path,
        value: value === null ? undefined : value as TomlChange["value"],
      });
    }
    const run = (editsInFlight.get(file) ?? Promise.resolve()).then(async () => {
      const text = await readConfigText(file);
      let edited: string;
      try {
        edited = editToml(text, changes);
      } catch (error) {
        if (error instanceof TomlEditError) {
          throw new ApiError(400, "invalidRequest", error.message);
        }
        throw error;
      }
      let next: Config;
      try {
        next = parseConfigText(edited, file, env);
      } catch (error) {
        if (error instanceof ConfigError) {
          throw new ApiError(400, "invalidRequest", error.problems.join("; "));
        }
        throw error;
      }
      if (edited !== text) await writeAtomically(file, edited);
      const changed: string[] = [];
      const restartRequired: string[] = [];
      for (const { path } of changes) {
        const key = path.join(".");
        if (LIVE_KEYS.has(key)) {
          applyLive(app, key, next);
          changed.push(key);
        } else if (deepEqual(valueAt(next, path), valueAt(app.loaded.config, path))) {
          changed.push(key);
        } else {
          restartRequired.push(key);
        }
      }
      return { changed, restart_required: restartRequired };
    });
    const settled = run.catch(() => {});
    editsInFlight.set(file, settled);
    settled.then(() => {
      if (editsInFlight.get(file) === settled) editsInFlight.delete(file);
    });
    return c.json(await run);
  });
}

async function readConfigText(file: string): Promise<string> {
  try {
    return await Deno.readTextFile(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return "";
    throw error;
  }
}

/**
 * Replaces `file` with `text`: a temporary file beside it, synced, with the old file's mode
 * (and owner, where allowed), renamed over it. A symbolic link is followed.
 */
async function writeAtomically(file: string, text: string): Promise<void> {
  let target = file;
  try {
    target = await Deno.realPath(file);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const old = await Deno.stat(target).catch(() => null);
  const suffix = crypto.getRandomValues(new Uint32Array(1))[0].toString(36);
  const temp = join(dirname(target), `.${basename(target)}.${suffix}.tmp`);
  const mode = old?.mode != null ? old.mode & 0o7777 : 0o600;
  const handle = await Deno.open(temp, { write: true, createNew: true, mode });
  try {
    try {
      const bytes = new TextEncoder().encode(text);
      for (let written = 0; written < bytes.length;) {
        written += await handle.write(bytes.subarray(written));
      }
      await handle.sync();
    } finally {
      handle.close();
    }
    await Deno.chmod(temp, mode);
    if (old && old.uid !== null && old.gid !== null) {
      // Only root may give a file away; anyone else keeps being its owner anyway.
      await Deno.chown(temp, old.uid, old.gid).catch(() => {});
    }
    await Deno.rename(temp, target);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0];
}
