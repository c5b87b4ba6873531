/**
 * A client of the management API (/api) for tests: one JSON request over the real http
 * listener, with Basic, Bearer or no credentials.
 */
import { assert, assertEquals } from "./assert.ts";
import type { TestServer } from "./server.ts";

export interface Call {
  status: number;
  headers: Headers;
  body: Record<string, unknown> & { error?: { type: string; message: string } };
}

export type Credentials = { user: string; password: string } | { token: string } | null;

function authorization(credentials: Credentials): Record<string, string> {
  if (!credentials) return {};
  if ("token" in credentials) return { authorization: `Bearer ${credentials.token}` };
  return { authorization: `Basic ${btoa(`${credentials.user}:${credentials.password}`)}` };
}

/** One API request; a JSON body unless `raw` gives the bytes and content type. */
export async function api(
  server: TestServer,
  credentials: Credentials,
  method: string,
  path: string,
  options: { json?: unknown; raw?: { body: string; type: string } } = {},
  extraHeaders: Record<string, string> = {},
): Promise<Call> {
  const headers: Record<string, string> = { ...authorization(credentials), ...extraHeaders };
  let body: string | undefined;
  if (options.json !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(options.json);
  } else if (options.raw) {
    headers["content-type"] = options.raw.type;
    body = options.raw.body;
  }
  const response = await fetch(`http://127.0.0.1:${server.ports.http}${path}`, {
    method,
    headers,
    body,
  });
  const text = await response.text();
  if (text) {
    assertEquals(response.headers.get("content-type"), "application/json", text);
  }
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : {} };
}

/** The first-start administrator's credentials. */
export function admin(server: TestServer) {
  assert(server.admin, "the first start printed the admin's password");
  return { user: server.admin.address, password: server.admin.password };
}
