package com.fieldbook;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.SocketTimeoutException;
import java.net.URL;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * A {@link Transport} over HttpURLConnection (available on Android and the desktop JVM). Each request runs on
 * a worker thread and is answered from there, as an OkHttp enqueue() callback would be. Apps with OkHttp
 * write the same twenty lines around it instead.
 */
public final class HttpUrlConnectionTransport implements Transport, AutoCloseable {
  private final String baseUrl;
  private final int timeoutMs;
  private final ExecutorService workers = Executors.newCachedThreadPool(r -> {
    Thread t = new Thread(r, "fieldbook-http");
    t.setDaemon(true);
    return t;
  });

  /** {@code baseUrl}: "https://sync.example.com" (no trailing slash). */
  public HttpUrlConnectionTransport(String baseUrl, int timeoutMs) {
    this.baseUrl = baseUrl;
    this.timeoutMs = timeoutMs;
  }

  @Override
  public void send(String method, String path, String headersJson, byte[] body, TransportRequest request) {
    final Map<String, String> headers;
    try {
      headers = Json.parseStringMap(headersJson);
    } catch (IllegalArgumentException e) {
      request.fail(false, "bad headers: " + e.getMessage());
      return;
    }
    workers.execute(() -> exchange(method, path, headers, body, request));
  }

  private void exchange(String method, String path, Map<String, String> headers, byte[] body, TransportRequest request) {
    HttpURLConnection c = null;
    try {
      c = (HttpURLConnection) new URL(baseUrl + path).openConnection();
      c.setRequestMethod(method);
      c.setConnectTimeout(timeoutMs);
      c.setReadTimeout(timeoutMs);
      c.setUseCaches(false);
      for (Map.Entry<String, String> h : headers.entrySet()) c.setRequestProperty(h.getKey(), h.getValue());
      if (body != null && body.length > 0) {
        c.setDoOutput(true);
        c.setFixedLengthStreamingMode(body.length);
        try (OutputStream out = c.getOutputStream()) {
          out.write(body);
        }
      }
      int status = c.getResponseCode();
      InputStream in = status >= 400 ? c.getErrorStream() : c.getInputStream();
      request.complete(status, readAll(in));
    } catch (SocketTimeoutException e) {
      request.fail(true, e.toString());
    } catch (IOException | RuntimeException e) {
      request.fail(false, e.toString());
    } finally {
      if (c != null) c.disconnect();
    }
  }

  private static byte[] readAll(InputStream in) throws IOException {
    if (in == null) return new byte[0];
    try (InputStream s = in) {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      byte[] buf = new byte[16384];
      for (int n; (n = s.read(buf)) > 0; ) out.write(buf, 0, n);
      return out.toByteArray();
    }
  }

  @Override
  public void close() { workers.shutdownNow(); }
}
