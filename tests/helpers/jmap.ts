// deno-lint-ignore-file no-explicit-any -- JSON from the server, checked by each test
/** A minimal JMAP client over the test server's plain HTTP listener, for integration tests. */
import type { TestServer } from "./server.ts";

export const USING = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"];

export type Invocation = [string, Record<string, any>, string];

export interface JmapTestClient {
  base: string;
  accountId: string;
  auth: string;
  /** POSTs a request; returns the parsed response body (or problem details) and status. */
  request(body: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any }>;
  /** Runs method calls with USING; returns methodResponses. */
  call(calls: Invocation[], using?: string[]): Promise<Invocation[]>;
  /** One method, one response's arguments (throws on an error response). */
  one(name: string, args: Record<string, unknown>): Promise<any>;
  fetch(path: string, init?: RequestInit): Promise<Response>;
}

export function basicAuth(user: string, password: string): string {
  return `Basic ${btoa(`${user}:${password}`)}`;
}

export async function jmapClient(
  server: TestServer,
  user = server.admin!.address,
  password = server.admin!.password,
): Promise<JmapTestClient> {
  const base = `http://127.0.0.1:${server.ports.http}`;
  const auth = basicAuth(user, password);
  const fetchWith = (path: string, init: RequestInit = {}) =>
    fetch(`${base}${path}`, {
      ...init,
      headers: { authorization: auth, ...(init.headers as Record<string, string> ?? {}) },
    });
  const sessionResponse = await fetchWith("/jmap/session");
  if (sessionResponse.status !== 200) {
    throw new Error(`session: ${sessionResponse.status} ${await sessionResponse.text()}`);
  }
  const session = await sessionResponse.json();
  const accountId = session.primaryAccounts["urn:ietf:params:jmap:mail"];
  const client: JmapTestClient = {
    base,
    accountId,
    auth,
    fetch: fetchWith,
    async request(body, headers = {}) {
      const response = await fetchWith("/jmap/api", {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: typeof body === "string" ? body : JSON.stringify(body),
      });
      const text = await response.text();
      return { status: response.status, body: text ? JSON.parse(text) : null };
    },
    async call(calls, using = USING) {
      const { status, body } = await client.request({ using, methodCalls: calls });
      if (status !== 200) throw new Error(`api: ${status} ${JSON.stringify(body)}`);
      return body.methodResponses;
    },
    async one(name, args) {
      const [[responseName, result]] = await client.call([[name, { accountId, ...args }, "0"]]);
      if (responseName === "error") throw new Error(`${name}: ${JSON.stringify(result)}`);
      return result;
    },
  };
  return client;
}
