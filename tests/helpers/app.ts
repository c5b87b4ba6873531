/**
 * The app (store, directory, message path) in a temporary data directory, without listeners:
 * for unit tests that need the real parts but no sockets.
 */
import { parseConfigText } from "../../src/config/load.ts";
import { type App, openApp } from "../../src/app.ts";

/** Cheap password hashing unless `configText` says otherwise. */
const FAST_AUTH = '[auth]\nargon2_memory = "1M"\nargon2_iterations = 1\n';

/**
 * Runs `work` with an app opened on `configText` (TOML; default: cheap Argon2id) in a fresh
 * directory, then closes it and removes the directory.
 */
export async function withApp(
  work: (app: App, dir: string) => Promise<void>,
  configText = FAST_AUTH,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "postern-app-" });
  const app = await openApp({
    config: parseConfigText(configText, "x.toml"),
    file: `${dir}/config.toml`,
    paths: {
      dataDir: dir,
      database: `${dir}/postern.db`,
      blobDir: `${dir}/blobs`,
      controlSocket: `${dir}/control.sock`,
      configDir: dir,
    },
  });
  try {
    await work(app, dir);
  } finally {
    await app.close();
    await Deno.remove(dir, { recursive: true });
  }
}
