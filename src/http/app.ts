/**
 * The public HTTP application (Hono) served on the `http` and `https` listeners. Protocol routes
 * (JMAP, DAV, admin, autoconfig) mount here as their issues land.
 */
import { Hono } from "hono";

export interface HealthSource {
  /** True once the store is open and every listener is bound. */
  ready(): boolean;
}

export function createHttpApp(health: HealthSource): Hono {
  const app = new Hono();
  app.get("/healthz/live", (c) => c.json({ status: "ok" }));
  app.get(
    "/healthz/ready",
    (c) => health.ready() ? c.json({ status: "ready" }) : c.json({ status: "starting" }, 503),
  );
  app.notFound((c) => c.text("Not Found\n", 404));
  app.onError((_error, c) => c.text("Internal Server Error\n", 500));
  return app;
}
