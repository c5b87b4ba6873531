/**
 * `postern serve`: load config, start, wait for a signal, shut down gracefully (SIGTERM, SIGINT);
 * SIGHUP reloads the certificate files.
 */
import { loadConfig } from "../config/load.ts";
import { configureLogging, fileSink, logger } from "../observability/log.ts";
import { startServer } from "../serve.ts";
import { VERSION } from "../version.ts";

export async function runServe(configFile: string): Promise<number> {
  const loaded = await loadConfig(configFile);
  const { log: logConfig } = loaded.config;
  configureLogging({ level: logConfig.level, format: logConfig.format });
  if (logConfig.file) configureLogging({ sink: fileSink(logConfig.file) });
  const log = logger("server");
  log.info("starting", { version: VERSION, config: loaded.file, data_dir: loaded.paths.dataDir });
  // Signals are caught from the start: one that arrives while listeners are still opening stops
  // the server as soon as it is up, instead of killing it half-started.
  let stopRequested = false;
  let server: Awaited<ReturnType<typeof startServer>> | null = null;
  const stop = () => {
    stopRequested = true;
    server?.shutdown();
  };
  // SIGHUP: read the certificate files again (after certbot or another tool renewed them).
  const reload = () => server?.reloadCertificates();
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGHUP", reload);
  try {
    server = await startServer(loaded);
    if (stopRequested) server.shutdown();
    await server.finished;
  } finally {
    Deno.removeSignalListener("SIGTERM", stop);
    Deno.removeSignalListener("SIGINT", stop);
    Deno.removeSignalListener("SIGHUP", reload);
  }
  return 0;
}
