package com.fieldbook;

/** One exchange the library waits for. Answer it once; later answers are ignored (they return false). */
public final class TransportRequest {
  private final long handle;

  TransportRequest(long handle) { this.handle = handle; }

  /** The server's response: any HTTP status, the body bytes as received. False when no longer awaited. */
  public boolean complete(int httpStatus, byte[] body) {
    return NativeBridge.transportComplete(handle, httpStatus, body == null ? new byte[0] : body);
  }

  /** No response: {@code timedOut} distinguishes a timeout from an unreachable server. */
  public boolean fail(boolean timedOut, String message) {
    return NativeBridge.transportFail(handle, timedOut ? FieldbookException.TIMEOUT : FieldbookException.UNREACHABLE,
        NativeBridge.utf8(message == null ? "" : message));
  }
}
