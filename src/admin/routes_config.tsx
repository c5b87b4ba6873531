/**
 * The settings and logs pages: the management API's own handlers for GET/PATCH /api/settings
 * and GET /api/logs, called in process (internal_api.ts), so the file is validated, edited and
 * applied exactly as through the API.
 */
import type { Hono } from "hono";
import type { App } from "../app.ts";
import { settingKeys } from "../config/settings.ts";
import type { LogEvent } from "../observability/recent.ts";
import { internalApi } from "./internal_api.ts";
import type { AdminEnv } from "./mod.ts";
import { act, type Ctx, FormError, render } from "./respond.tsx";
import { type SettingRow, SettingsPage } from "./pages/settings.tsx";
import { LogsPage } from "./pages/logs.tsx";

export function mountConfigPages(admin: Hono<AdminEnv>, app: App): void {
  const callApi = internalApi(app);
  /** The signed-in account, for the API handlers called in process. */
  const signedIn = async (c: Ctx) => {
    const account = await app.store.getAccountById(c.get("session").accountId);
    if (!account) throw new FormError("the signed-in account no longer exists");
    return account;
  };
  const settingDefaults = new Map(settingKeys().map((k) => [k.key, k.default]));
  admin.get("/settings", async (c) => {
    const { status, body } = await callApi(await signedIn(c), c.get("ip"), "GET", "/settings");
    if (status !== 200) {
      c.get("session").flash = { kind: "error", text: body.error?.message ?? "unavailable" };
      return render(c, "Settings", <p>The settings cannot be shown.</p>);
    }
    return render(
      c,
      "Settings",
      <SettingsPage
        file={String(body.file)}
        problems={body.problems as string[]}
        settings={body.settings as SettingRow[]}
        token={c.get("session").csrfToken}
      />,
    );
  });
  admin.post("/settings", (c) =>
    act(c, "/admin/settings", async (form) => {
      const key = form.get("key") ?? "";
      if (!settingDefaults.has(key)) throw new FormError(`${key}: no such setting`);
      const value = form.get("reset")
        ? null
        : settingValue(settingDefaults.get(key), form.get("value") ?? "");
      const { body } = await callApi(await signedIn(c), c.get("ip"), "PATCH", "/settings", {
        values: { [key]: value },
      });
      if (body.error) throw new FormError(body.error.message);
      const restart = (body.restart_required as string[]).includes(key);
      return restart
        ? `Saved ${key} in the file; it takes effect at the next restart.`
        : `Saved ${key}; it is in effect now.`;
    }));
  admin.get("/logs", async (c) => {
    const filter = {
      level: c.req.query("level") ?? "",
      component: c.req.query("component") ?? "",
      session: c.req.query("session") ?? "",
    };
    const query = new URLSearchParams(Object.entries(filter).filter(([, v]) => v !== ""));
    const { body } = await callApi(await signedIn(c), c.get("ip"), "GET", `/logs?${query}`);
    return render(
      c,
      "Logs",
      <LogsPage
        events={(body.events ?? []) as LogEvent[]}
        filter={filter}
        error={body.error?.message}
      />,
    );
  });
}

/**
 * A form's text as the value of a setting: text for string settings, JSON for the rest (numbers,
 * booleans, lists), or the text itself when it is not JSON (the schema then says what is wrong).
 */
function settingValue(defaultValue: unknown, text: string): unknown {
  if (typeof defaultValue === "string") return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
