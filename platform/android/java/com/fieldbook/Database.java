package com.fieldbook;

/**
 * One agent profile: a database file on the device. Thread-safe: calls are serialised by the library.
 * Close it when done (try-with-resources); a closed Database throws {@link FieldbookException} on use.
 */
public final class Database implements AutoCloseable {
  private volatile long handle;

  private Database(long handle) { this.handle = handle; }

  /**
   * Opens (by default creating) the database at {@code path}, resolved against {@link #setDataDirectory}
   * when relative. {@code optionsJson} may be null: {"create", "read_only", "agent", "team"} (fieldbook.h).
   */
  public static Database open(String path, String optionsJson) throws FieldbookException {
    return new Database(NativeBridge.dbOpen(NativeBridge.utf8(path), NativeBridge.utf8(optionsJson)));
  }

  /** The app's private data directory (Context.getFilesDir()), for relative database paths. */
  public static void setDataDirectory(String absolutePath) throws FieldbookException {
    NativeBridge.setDataDirectory(NativeBridge.utf8(absolutePath));
  }

  /** Where database keys come from (null removes the provider). */
  public static void setKeyProvider(KeyProvider provider) throws FieldbookException {
    NativeBridge.setKeyProvider(provider);
  }

  public static String version() { return NativeBridge.string(NativeBridge.version()); }

  /** Runs one domain operation of the method table in fieldbook.h, e.g. call("customer.add", "{...}"). */
  public String call(String method, String argsJson) throws FieldbookException {
    return NativeBridge.string(NativeBridge.dbCall(handle, NativeBridge.utf8(method), NativeBridge.utf8(argsJson)));
  }

  /** Replaces the change listener (null removes it); when this returns the old one is no longer called. */
  public void setChangeListener(ChangeListener listener) throws FieldbookException {
    NativeBridge.dbSetChangeListener(handle, listener);
  }

  long handle() { return handle; }

  /** Stops this database's sync and closes it. Idempotent. */
  @Override
  public synchronized void close() throws FieldbookException {
    long h = handle;
    if (h == 0) return;
    NativeBridge.dbClose(h);
    handle = 0;
  }
}
