package com.fieldbook;

/**
 * The app's HTTP stack (OkHttp, HttpURLConnection). For each request, perform the exchange against the
 * server's base URL + {@code path}, sending the headers and body bytes unchanged, and answer {@code request}
 * exactly once, from any thread: {@link TransportRequest#complete} with any HTTP status and the raw body
 * bytes (do not decompress), or {@link TransportRequest#fail} when no response came. Called on the sync
 * thread; do not block it longer than needed.
 */
public interface Transport {
  void send(String method, String path, String headersJson, byte[] body, TransportRequest request);
}
