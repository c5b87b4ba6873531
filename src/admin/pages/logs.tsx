/** Logs: the recent events kept in memory, filtered by level, component and session. */
import type { LogEvent } from "../../observability/recent.ts";

export interface LogFilter {
  level: string;
  component: string;
  session: string;
}

export function LogsPage(props: { events: LogEvent[]; filter: LogFilter; error?: string }) {
  const { filter } = props;
  return (
    <>
      <form class="inline" method="get" action="/admin/logs" id="log-filter">
        <select name="level" aria-label="Level">
          {["", "debug", "info", "warn", "error"].map((level) => (
            <option value={level} selected={level === filter.level}>
              {level ? `${level} and above` : "every level"}
            </option>
          ))}
        </select>
        <input
          name="component"
          value={filter.component}
          placeholder="component"
          aria-label="Component"
        />
        <input
          name="session"
          value={filter.session}
          placeholder="session id"
          aria-label="Session"
        />
        <button type="submit">Filter</button>
      </form>
      {props.error && <div class="flash error">{props.error}</div>}
      <p id="log-count">{props.events.length} events, newest first.</p>
      <table>
        <thead>
          <tr>
            <th>Time</th>
            <th>Level</th>
            <th>Component</th>
            <th>Message</th>
            <th>Fields</th>
          </tr>
        </thead>
        <tbody>
          {props.events.map((e) => (
            <tr data-level={e.level} data-component={e.component}>
              <td>{e.time}</td>
              <td
                class={e.level === "error" ? "missing" : e.level === "warn" ? "wrong" : undefined}
              >
                {e.level}
              </td>
              <td>{e.component}</td>
              <td>{e.message}</td>
              <td class="value">{JSON.stringify(e.fields)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
