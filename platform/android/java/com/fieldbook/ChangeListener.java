package com.fieldbook;

/**
 * Told after writes committed through a {@link Database}: {"origin": "local"|"remote", "tables": {...}}.
 * Local changes arrive on the thread that made the call, remote ones on the sync thread: post to the UI
 * thread before touching views.
 */
public interface ChangeListener {
  void onChange(String changesJson);
}
