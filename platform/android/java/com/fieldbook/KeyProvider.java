package com.fieldbook;

/**
 * The database key from the platform key store (Android Keystore), asked for on every open. Return null
 * to refuse (the open then fails), e.g. while the device is locked. At most 64 bytes.
 */
public interface KeyProvider {
  byte[] databaseKey(String databasePath);
}
