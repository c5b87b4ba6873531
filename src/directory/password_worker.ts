/// <reference lib="deno.worker" />
/** Runs password hashing off the main thread (see hasher.ts). */
import { hashPassword, verifyPassword } from "./password.ts";
import type { HasherRequest, HasherResponse } from "./hasher.ts";

self.onmessage = async (event: MessageEvent<HasherRequest>) => {
  const request = event.data;
  let response: HasherResponse;
  try {
    response = request.op === "hash"
      ? { id: request.id, ok: true, value: await hashPassword(request.password, request.params) }
      : { id: request.id, ok: true, value: await verifyPassword(request.password, request.stored) };
  } catch (error) {
    response = { id: request.id, ok: false, error: (error as Error).message };
  }
  self.postMessage(response);
};
