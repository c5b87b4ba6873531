/**
 * The public HTTP application (Hono) served on the `http` and `https` listeners. Protocol routes
 * (JMAP, DAV, admin, autoconfig) mount here as their issues land.
 */
import { Hono } from "hono";
import { logger } from "../observability/log.ts";

const log = logger("http");

export interface HealthSource {
  /** True once the store is open and every listener is bound. */
  ready(): boolean;
}

/** Mounts a protocol's routes (JMAP, DAV, ...) on the app. */
export type Mount = (app: Hono) => void;

export function createHttpApp(health: HealthSource, mounts: Mount[] = []): Hono {
  const app = new Hono();
  app.get("/healthz/live", (c) => c.json({ status: "ok" }));
  app.get(
    "/healthz/ready",
    (c) => health.ready() ? c.json({ status: "ready" }) : c.json({ status: "starting" }, 503),
  );
  for (const mount of mounts) mount(app);
  app.notFound((c) => c.text("Not Found\n", 404));
  app.onError((error, c) => {
    log.error("request failed", { path: c.req.path, error });
    return c.text("Internal Server Error\n", 500);
  });
  return app;
}
