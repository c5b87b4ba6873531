/**
 * Sub-applications built at their first request: /api, /admin and /account import their modules
 * (the OpenAPI document, JSX pages, the QR encoder) only when someone uses them, so a server whose
 * pages nobody opens does not hold them: ~3 MB less anonymous memory at idle after a restart
 * (42–43 MB instead of 46 MB, three runs each), out of ~92 MB RSS.
 *
 * Implementation notes:
 * - The sub-application is given the request unchanged (full path), exactly as `route()` would;
 *   its own onError and catch-all routes apply.
 * - A failed load (an import error) is not kept: the request gets a 500 from the caller's onError
 *   and the next request tries again.
 *
 * @example
 * mountLazily(http, "/admin", async () => (await import("../admin/mod.ts")).adminRoutes(o).routes);
 */
import { Hono } from "hono";

type Routes = { fetch(request: Request, env?: unknown): Response | Promise<Response> };

export function mountLazily(http: Hono, prefix: string, load: () => Promise<Routes>): void {
  let loading: Promise<Hono> | null = null;
  const loaded = () =>
    loading ??= load().then((routes) => new Hono().route(prefix, routes as unknown as Hono))
      .catch((error) => {
        loading = null;
        throw error;
      });
  const handler = async (c: { req: { raw: Request }; env: unknown }) =>
    (await loaded()).fetch(c.req.raw, c.env);
  http.all(prefix, handler);
  http.all(`${prefix}/*`, handler);
}
