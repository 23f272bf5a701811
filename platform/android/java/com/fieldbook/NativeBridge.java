package com.fieldbook;

import java.nio.charset.StandardCharsets;

/**
 * The native methods of libfieldbook_jni and the entry points it calls back. Text crosses as UTF-8 byte
 * arrays (JNI's own string functions use "modified UTF-8", which mangles emoji and NUL).
 */
final class NativeBridge {
  private NativeBridge() {}

  static {
    String explicit = System.getProperty("fieldbook.jni.path");
    if (explicit != null && !explicit.isEmpty()) {
      System.load(explicit);
    } else {
      System.loadLibrary("fieldbook_jni");
    }
  }

  static byte[] utf8(String s) { return s == null ? null : s.getBytes(StandardCharsets.UTF_8); }

  static String string(byte[] b) { return b == null ? null : new String(b, StandardCharsets.UTF_8); }

  // Databases (0 is never a valid handle; it makes a call fail with INVALID_ARGUMENT).
  static native long dbOpen(byte[] path, byte[] optionsJson) throws FieldbookException;
  static native void dbClose(long db) throws FieldbookException;
  static native byte[] dbCall(long db, byte[] method, byte[] argsJson) throws FieldbookException;
  static native void dbSetChangeListener(long db, ChangeListener listener) throws FieldbookException;
  static native void setDataDirectory(byte[] path) throws FieldbookException;
  static native void setKeyProvider(KeyProvider provider) throws FieldbookException;
  static native byte[] version();

  // Sync.
  static native long syncOpen(long db, byte[] optionsJson, Transport transport, Sync.Listener listener)
      throws FieldbookException;
  static native void syncClose(long sync) throws FieldbookException;
  static native void syncStart(long sync) throws FieldbookException;
  static native void syncStop(long sync) throws FieldbookException;
  static native void syncSetOnline(long sync, boolean online) throws FieldbookException;
  static native void syncSetToken(long sync, byte[] token) throws FieldbookException;
  static native void syncRequest(long sync) throws FieldbookException;
  static native byte[] syncRun(long sync) throws FieldbookException;
  static native byte[] syncStatus(long sync) throws FieldbookException;
  static native byte[] syncFetchBlob(long sync, byte[] sha256, byte[] path) throws FieldbookException;
  static native boolean transportComplete(long request, int httpStatus, byte[] body);
  static native boolean transportFail(long request, int code, byte[] message);

  // Called from native code (any thread). They never let an exception escape into it.

  static FieldbookException error(int code, int domain, byte[] field, byte[] message) {
    return new FieldbookException(code, domain, string(field), string(message));
  }

  static void dispatchChange(ChangeListener listener, byte[] changes) {
    try {
      listener.onChange(string(changes));
    } catch (Throwable t) {
      uncaught(t);
    }
  }

  static void dispatchSend(Transport transport, byte[] method, byte[] path, byte[] headers, byte[] body, long request) {
    TransportRequest r = new TransportRequest(request);
    try {
      transport.send(string(method), string(path), string(headers), body, r);
    } catch (Throwable t) {
      r.fail(false, "transport threw " + t);
      uncaught(t);
    }
  }

  static void dispatchState(Sync.Listener listener, int state, int code, int domain, byte[] field, byte[] message) {
    try {
      listener.onState(state, code == 0 ? null : new FieldbookException(code, domain, string(field), string(message)));
    } catch (Throwable t) {
      uncaught(t);
    }
  }

  static void dispatchProgress(Sync.Listener listener, long pushed, long pulled, long roundTrips, boolean more) {
    try {
      listener.onProgress(pushed, pulled, roundTrips, more);
    } catch (Throwable t) {
      uncaught(t);
    }
  }

  static byte[] dispatchKey(KeyProvider provider, byte[] path) {
    try {
      return provider.databaseKey(string(path));
    } catch (Throwable t) {
      uncaught(t);
      return null;
    }
  }

  private static void uncaught(Throwable t) {
    Thread current = Thread.currentThread();
    Thread.UncaughtExceptionHandler handler = current.getUncaughtExceptionHandler();
    if (handler != null) {
      handler.uncaughtException(current, t);
    } else {
      t.printStackTrace();
    }
  }
}
