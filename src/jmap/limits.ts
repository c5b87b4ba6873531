/** The JMAP limits from `[jmap]` in config.toml, named as the session resource names them. */
import type { Config } from "../config/schema.ts";

export interface JmapLimits {
  maxSizeRequest: number;
  maxCallsInRequest: number;
  maxObjectsInGet: number;
  maxObjectsInSet: number;
  maxConcurrentRequests: number;
  maxSizeUpload: number;
  maxConcurrentUpload: number;
  /** Seconds an unused upload is kept. */
  uploadTtl: number;
  maxPushConnections: number;
}

export function jmapLimits(config: Config): JmapLimits {
  const jmap = config.jmap;
  return {
    maxSizeRequest: jmap.max_size_request,
    maxCallsInRequest: jmap.max_calls_in_request,
    maxObjectsInGet: jmap.max_objects_in_get,
    maxObjectsInSet: jmap.max_objects_in_set,
    maxConcurrentRequests: jmap.max_concurrent_requests,
    maxSizeUpload: jmap.max_size_upload,
    maxConcurrentUpload: jmap.max_concurrent_upload,
    uploadTtl: jmap.upload_ttl,
    maxPushConnections: jmap.max_push_connections,
  };
}
