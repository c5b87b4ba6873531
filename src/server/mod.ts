/**
 * The network layer: listeners, connections, limits and STARTTLS for the raw protocols.
 *
 * @example
 * import { ListenerGroup, type SessionHandler } from "../server/mod.ts";
 */
export {
  Connection,
  type ConnectionLimits,
  type ConnectionOptions,
  normalizeAddress,
  type TlsContextSource,
} from "./connection.ts";
export { BindError, ConnectionClosedError, LineTooLongError, TlsHandshakeError } from "./errors.ts";
export {
  type BoundListener,
  describeBindError,
  ListenerGroup,
  type ListenerGroupOptions,
  type ListenerSpec,
  type SessionHandler,
} from "./listeners.ts";
export { findPortHolder } from "./port_holder.ts";
export { connectionLimits } from "./limits.ts";
