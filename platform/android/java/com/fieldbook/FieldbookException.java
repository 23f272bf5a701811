package com.fieldbook;

/** A failure reported by the library: the code and domain of fieldbook.h, the offending field (may be empty) and a message naming the input. */
public final class FieldbookException extends Exception {
  private static final long serialVersionUID = 1L;

  public static final int DOMAIN_VALIDATION = 1;
  public static final int DOMAIN_NOT_FOUND = 2;
  public static final int DOMAIN_STORE = 3;
  public static final int DOMAIN_SQLITE = 4;
  public static final int DOMAIN_PROTOCOL = 5;
  public static final int DOMAIN_NETWORK = 6;
  public static final int DOMAIN_AUTH = 7;
  public static final int DOMAIN_INTERNAL = 8;

  public static final int INVALID_ARGUMENT = 100;
  public static final int INVALID_JSON = 101;
  public static final int UNKNOWN_FIELD = 102;
  public static final int MISSING_FIELD = 103;
  public static final int INVALID_FIELD = 104;
  public static final int NOT_FOUND = 200;
  public static final int NOT_INITIALIZED = 309;
  public static final int ALREADY_INITIALIZED = 310;
  public static final int UNREACHABLE = 500;
  public static final int TIMEOUT = 501;
  public static final int SERVER_ERROR = 502;
  public static final int CANCELLED = 503;
  public static final int UNAUTHORIZED = 600;
  public static final int INTERNAL = 900;

  private final int code;
  private final int domain;
  private final String field;

  public FieldbookException(int code, int domain, String field, String message) {
    super(message);
    this.code = code;
    this.domain = domain;
    this.field = field == null ? "" : field;
  }

  /** One of the codes of fieldbook.h (the constants above name the common ones). */
  public int code() { return code; }

  public int domain() { return domain; }

  /** The offending input field ("phones[1]"), or "". */
  public String field() { return field; }

  /** Network failures: nothing was lost, a later sync retries. */
  public boolean isRetryable() { return domain == DOMAIN_NETWORK; }

  @Override
  public String toString() {
    return "FieldbookException(" + code + (field.isEmpty() ? "" : ", " + field) + "): " + getMessage();
  }
}
