package com.fieldbook;

/**
 * The sync of one {@link Database} with the server, through the app's {@link Transport}. A scheduler thread
 * syncs after local writes (debounced), when connectivity returns, periodically, and retries failures with
 * backoff. Close it before its database.
 */
public final class Sync implements AutoCloseable {
  public static final int IDLE = 0;
  public static final int SYNCING = 1;
  public static final int BACKING_OFF = 2;
  public static final int OFFLINE = 3;
  public static final int STOPPED = 4;

  /** Scheduler events, on the sync thread (progress: on the thread running the sync). */
  public interface Listener {
    /** {@code lastError} is the latest sync's failure, or null when it succeeded. */
    default void onState(int state, FieldbookException lastError) {}

    default void onProgress(long pushed, long pulled, long roundTrips, boolean more) {}
  }

  private volatile long handle;

  private Sync(long handle) { this.handle = handle; }

  /**
   * {@code optionsJson} may be null: {"token", "online", "debounce_ms", "periodic_ms", "backoff_min_ms",
   * "backoff_max_ms", "request_timeout_ms", "page_limit"} (fieldbook.h). {@code listener} may be null.
   */
  public static Sync open(Database db, String optionsJson, Transport transport, Listener listener)
      throws FieldbookException {
    if (transport == null) throw new IllegalArgumentException("transport is null");
    return new Sync(NativeBridge.syncOpen(db.handle(), NativeBridge.utf8(optionsJson), transport, listener));
  }

  public void start() throws FieldbookException { NativeBridge.syncStart(handle); }

  /** Cancels a sync in flight (nothing is lost) and stops the scheduler; it can start again. */
  public void stop() throws FieldbookException { NativeBridge.syncStop(handle); }

  /** Connectivity hint (ConnectivityManager.NetworkCallback). */
  public void setOnline(boolean online) throws FieldbookException { NativeBridge.syncSetOnline(handle, online); }

  public void setToken(String token) throws FieldbookException {
    NativeBridge.syncSetToken(handle, NativeBridge.utf8(token));
  }

  /** Sync as soon as possible (pull to refresh). */
  public void request() throws FieldbookException { NativeBridge.syncRequest(handle); }

  /** One whole sync on this thread (never the UI thread); returns the report JSON. */
  public String run() throws FieldbookException { return NativeBridge.string(NativeBridge.syncRun(handle)); }

  /** {"state", "online", "failures", "next_sync_in_ms", "pending_rows", "last_error", "last_report"}. */
  public String status() throws FieldbookException { return NativeBridge.string(NativeBridge.syncStatus(handle)); }

  /**
   * Writes blob {@code sha256} (a visit photo, an ID scan) to {@code path}: from the device, or
   * downloaded through this sync's transport and kept. Blocking (never the UI thread); returns
   * {"sha256", "size", "source"}. Blobs are put with the database method "blob.put".
   */
  public String fetchBlob(String sha256, String path) throws FieldbookException {
    return NativeBridge.string(NativeBridge.syncFetchBlob(handle, NativeBridge.utf8(sha256), NativeBridge.utf8(path)));
  }

  /** Stops the sync and releases it; afterwards no callback runs. Idempotent. */
  @Override
  public synchronized void close() throws FieldbookException {
    long h = handle;
    if (h == 0) return;
    NativeBridge.syncClose(h);
    handle = 0;
  }
}
