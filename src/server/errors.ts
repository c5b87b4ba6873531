/**
 * Errors of the network layer. `LineTooLongError` and `ConnectionClosedError` are expected
 * events a protocol handles (answer, or stop); `BindError` is a startup failure shown to the
 * operator as is.
 */

/** A client sent a line longer than `limits.max_line_length`; the rest of it is discarded. */
export class LineTooLongError extends Error {
  constructor(readonly maxLength: number) {
    super(`line longer than ${maxLength} bytes`);
    this.name = "LineTooLongError";
  }
}

/** A write or read on a connection that is closed or closing. */
export class ConnectionClosedError extends Error {
  constructor(message = "connection closed") {
    super(message);
    this.name = "ConnectionClosedError";
  }
}

/** A listener could not bind; the message names the service, address and cause. */
export class BindError extends Error {
  constructor(
    message: string,
    readonly service: string,
    readonly host: string,
    readonly port: number,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = "BindError";
  }
}

/** The client's TLS handshake failed (bad ClientHello, no shared cipher, timeout). */
export class TlsHandshakeError extends Error {
  constructor(cause?: Error) {
    super(`TLS handshake failed: ${cause?.message ?? "connection closed"}`, { cause });
    this.name = "TlsHandshakeError";
  }
}
