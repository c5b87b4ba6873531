/**
 * Settings: every config.toml key with its value and where it comes from (file, environment,
 * default); an edit is written back into the file (GET and PATCH /api/settings).
 */
import { CsrfField } from "../layout.tsx";

export interface SettingRow {
  key: string;
  value: unknown;
  default: unknown;
  source: "file" | "default" | "env";
  env?: string;
  secret: boolean;
  live: boolean;
  restart_pending: boolean;
}

/** A value as the page shows and edits it: strings bare, everything else as JSON. */
export function settingText(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value) ?? "";
}

export function SettingsPage(
  props: { file: string; problems: string[]; settings: SettingRow[]; token: string },
) {
  return (
    <>
      <p>
        Values from{" "}
        <code>{props.file}</code>. A change is written into the file with its comments kept; keys
        marked live take effect at once, the others at the next restart. Lists and numbers are
        edited as JSON, e.g. <code>["1m", "1h"]</code>.
      </p>
      {props.problems.length > 0 && (
        <div class="flash error">
          The file on disk has problems: {props.problems.join("; ")}
        </div>
      )}
      <table>
        <thead>
          <tr>
            <th>Key</th>
            <th>Value</th>
            <th>Source</th>
            <th>Default</th>
            <th>Applies</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          {props.settings.map((s) => (
            <tr data-setting={s.key} data-source={s.source}>
              <td>
                <code>{s.key}</code>
              </td>
              <td>
                <form class="inline" method="post" action="/admin/settings">
                  <CsrfField token={props.token} />
                  <input type="hidden" name="key" value={s.key} />
                  <input
                    name="value"
                    value={settingText(s.value)}
                    aria-label={s.key}
                    disabled={s.source === "env"}
                  />
                  <button type="submit" disabled={s.source === "env"}>Save</button>
                </form>
              </td>
              <td class="source">{s.source === "env" ? `environment (${s.env})` : s.source}</td>
              <td class="value">{settingText(s.default)}</td>
              <td>
                {s.live ? "live" : "restart"}
                {s.restart_pending ? " (restart pending)" : ""}
              </td>
              <td>
                {s.source === "file" && (
                  <form class="inline" method="post" action="/admin/settings">
                    <CsrfField token={props.token} />
                    <input type="hidden" name="key" value={s.key} />
                    <input type="hidden" name="reset" value="1" />
                    <button type="submit">Reset to default</button>
                  </form>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
