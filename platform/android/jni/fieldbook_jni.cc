// JNI glue for com.fieldbook (platform/android/java): NativeBridge's native methods, over
// the public C API only (fieldbook.h).
//
// Rules this file keeps:
//  1. Text crosses as UTF-8 byte arrays; the Java side converts (JNI's modified UTF-8
//     would mangle emoji and NUL).
//  2. Java objects the library calls back (listeners, transports, the key provider) are
//     held as global references and deleted only once the C API guarantees no further
//     call: after fieldbook_db_set_change_listener / _db_close / _sync_close returned.
//  3. Library threads that call into Java are attached on first use and detached when
//     they exit. Java exceptions never propagate into native code: the NativeBridge
//     dispatch methods catch them, and any left pending are cleared here.
//  4. No C++ exception reaches the JVM: failures become FieldbookException.
#include <jni.h>

#include <cstdint>
#include <cstdio>
#include <map>
#include <mutex>
#include <new>
#include <string>

#include "fieldbook/fieldbook.h"

namespace {

JavaVM* g_vm = nullptr;

struct JavaRefs {
  jclass bridge = nullptr;  // com.fieldbook.NativeBridge
  jclass error_class = nullptr;
  jmethodID error_ctor = nullptr;
  jmethodID dispatch_change = nullptr;
  jmethodID dispatch_send = nullptr;
  jmethodID dispatch_state = nullptr;
  jmethodID dispatch_progress = nullptr;
  jmethodID dispatch_key = nullptr;
} g;

// Detaches, at thread exit, a library thread this file attached to the JVM.
struct ThreadAttachment {
  bool attached = false;
  ~ThreadAttachment() {
    if (attached && g_vm != nullptr) g_vm->DetachCurrentThread();
  }
};
thread_local ThreadAttachment t_attachment;

JNIEnv* CallbackEnv() {
  JNIEnv* env = nullptr;
  if (g_vm == nullptr) return nullptr;
  if (g_vm->GetEnv(reinterpret_cast<void**>(&env), JNI_VERSION_1_6) == JNI_OK) return env;
  JavaVMAttachArgs args{JNI_VERSION_1_6, const_cast<char*>("fieldbook-sync"), nullptr};
#ifdef __ANDROID__
  const jint rc = g_vm->AttachCurrentThreadAsDaemon(&env, &args);
#else
  const jint rc = g_vm->AttachCurrentThreadAsDaemon(reinterpret_cast<void**>(&env), &args);
#endif
  if (rc != JNI_OK) return nullptr;
  t_attachment.attached = true;
  return env;
}

void ClearPending(JNIEnv* env) {
  if (env->ExceptionCheck()) {
    env->ExceptionDescribe();
    env->ExceptionClear();
  }
}

// A local frame released on scope exit (callbacks on long-lived threads must not pile up
// local references).
struct LocalFrame {
  JNIEnv* env;
  bool ok;
  explicit LocalFrame(JNIEnv* e, jint capacity = 16) : env(e), ok(e->PushLocalFrame(capacity) == 0) {}
  ~LocalFrame() {
    if (ok) env->PopLocalFrame(nullptr);
  }
};

jbyteArray ToJava(JNIEnv* env, const char* data, size_t n) {
  jbyteArray out = env->NewByteArray(static_cast<jsize>(n));
  if (out != nullptr && n > 0) env->SetByteArrayRegion(out, 0, static_cast<jsize>(n), reinterpret_cast<const jbyte*>(data));
  return out;
}
jbyteArray ToJava(JNIEnv* env, const char* text) { return ToJava(env, text, text ? std::char_traits<char>::length(text) : 0); }

// A Java byte[] as a NUL-terminated string; `present` is false for a null array.
struct Utf8 {
  std::string text;
  bool present = false;
  Utf8(JNIEnv* env, jbyteArray bytes) {
    if (bytes == nullptr) return;
    present = true;
    const jsize n = env->GetArrayLength(bytes);
    text.resize(static_cast<size_t>(n));
    if (n > 0) env->GetByteArrayRegion(bytes, 0, n, reinterpret_cast<jbyte*>(&text[0]));
  }
  const char* c_str_or_null() const { return present ? text.c_str() : nullptr; }
};

void Throw(JNIEnv* env, const fieldbook_error& e) {
  if (env->ExceptionCheck()) return;  // a Java exception is already on its way
  LocalFrame frame(env);
  jbyteArray field = ToJava(env, e.field);
  jbyteArray message = ToJava(env, e.message);
  auto error = static_cast<jthrowable>(
      env->CallStaticObjectMethod(g.bridge, g.error_ctor, e.code, e.domain, field, message));
  if (error != nullptr && !env->ExceptionCheck()) env->Throw(error);
}

void ThrowInternal(JNIEnv* env, const char* what) {
  fieldbook_error e{};
  e.code = FIELDBOOK_ERR_INTERNAL;
  e.domain = FIELDBOOK_DOMAIN_INTERNAL;
  std::snprintf(e.message, sizeof e.message, "%s", what);
  Throw(env, e);
}

// Runs a native method body; a C++ exception becomes a FieldbookException.
template <typename R, typename Fn>
R Run(JNIEnv* env, R fallback, Fn&& fn) {
  try {
    return fn();
  } catch (const std::bad_alloc&) {
    ThrowInternal(env, "out of memory");
  } catch (const std::exception& e) {
    ThrowInternal(env, e.what());
  } catch (...) {
    ThrowInternal(env, "unknown exception");
  }
  return fallback;
}

template <typename Handle>
Handle* FromJava(jlong value) {
  return reinterpret_cast<Handle*>(static_cast<uintptr_t>(value));
}
template <typename Handle>
jlong ToJavaHandle(Handle* handle) {
  return static_cast<jlong>(reinterpret_cast<uintptr_t>(handle));
}

jbyteArray TakeJson(JNIEnv* env, char* json) {
  jbyteArray out = ToJava(env, json);
  fieldbook_free(json);
  return out;
}

// ------------------------------------------------------------------ callbacks

std::mutex g_refs_mu;
std::map<jlong, jobject> g_change_listeners;  // db handle -> global ref

void OnChange(void* context, const char* changes_json) {
  JNIEnv* env = CallbackEnv();
  if (env == nullptr) return;
  LocalFrame frame(env);
  env->CallStaticVoidMethod(g.bridge, g.dispatch_change, static_cast<jobject>(context), ToJava(env, changes_json));
  ClearPending(env);
}

struct SyncContext {
  jobject transport = nullptr;  // global refs
  jobject listener = nullptr;
};
std::map<jlong, SyncContext*> g_sync_contexts;  // sync handle -> context

void OnTransport(void* context, const char* method, const char* path, const char* headers_json, const uint8_t* body,
                 size_t body_len, fieldbook_transport_request* request) {
  auto* sync = static_cast<SyncContext*>(context);
  JNIEnv* env = CallbackEnv();
  if (env == nullptr) {
    fieldbook_transport_fail(request, FIELDBOOK_ERR_UNREACHABLE, "cannot attach the sync thread to the JVM", nullptr);
    return;
  }
  LocalFrame frame(env);
  env->CallStaticVoidMethod(g.bridge, g.dispatch_send, sync->transport, ToJava(env, method), ToJava(env, path),
                            ToJava(env, headers_json), ToJava(env, reinterpret_cast<const char*>(body), body_len),
                            ToJavaHandle(request));
  if (env->ExceptionCheck()) {
    ClearPending(env);
    fieldbook_transport_fail(request, FIELDBOOK_ERR_UNREACHABLE, "the Java transport failed", nullptr);
  }
}

void OnState(void* context, int32_t state, const fieldbook_error* last_error) {
  auto* sync = static_cast<SyncContext*>(context);
  if (sync->listener == nullptr) return;
  JNIEnv* env = CallbackEnv();
  if (env == nullptr) return;
  LocalFrame frame(env);
  env->CallStaticVoidMethod(g.bridge, g.dispatch_state, sync->listener, state, last_error ? last_error->code : 0,
                            last_error ? last_error->domain : 0, ToJava(env, last_error ? last_error->field : ""),
                            ToJava(env, last_error ? last_error->message : ""));
  ClearPending(env);
}

void OnProgress(void* context, int64_t pushed, int64_t pulled, int64_t round_trips, bool more) {
  auto* sync = static_cast<SyncContext*>(context);
  if (sync->listener == nullptr) return;
  JNIEnv* env = CallbackEnv();
  if (env == nullptr) return;
  env->CallStaticVoidMethod(g.bridge, g.dispatch_progress, sync->listener, static_cast<jlong>(pushed),
                            static_cast<jlong>(pulled), static_cast<jlong>(round_trips), static_cast<jboolean>(more));
  ClearPending(env);
}

jobject g_key_provider = nullptr;  // global ref, guarded by g_refs_mu

bool OnKey(void*, const char* db_path, uint8_t* key, size_t capacity, size_t* key_len) {
  JNIEnv* env = CallbackEnv();
  if (env == nullptr) return false;
  LocalFrame frame(env);
  jobject provider;
  {
    std::lock_guard<std::mutex> lock(g_refs_mu);
    provider = g_key_provider ? env->NewLocalRef(g_key_provider) : nullptr;
  }
  if (provider == nullptr) {  // removed meanwhile: no key, as without a provider
    *key_len = 0;
    return true;
  }
  auto bytes = static_cast<jbyteArray>(
      env->CallStaticObjectMethod(g.bridge, g.dispatch_key, provider, ToJava(env, db_path)));
  if (env->ExceptionCheck() || bytes == nullptr) {
    ClearPending(env);
    return false;
  }
  const jsize n = env->GetArrayLength(bytes);
  if (static_cast<size_t>(n) > capacity) return false;
  env->GetByteArrayRegion(bytes, 0, n, reinterpret_cast<jbyte*>(key));
  *key_len = static_cast<size_t>(n);
  // Leave no copy of the key in the Java array.
  const jbyte zeros[FIELDBOOK_KEY_CAPACITY] = {};
  env->SetByteArrayRegion(bytes, 0, n, zeros);
  return true;
}

}  // namespace

extern "C" {

JNIEXPORT jint JNICALL JNI_OnLoad(JavaVM* vm, void*) {
  g_vm = vm;
  JNIEnv* env = nullptr;
  if (vm->GetEnv(reinterpret_cast<void**>(&env), JNI_VERSION_1_6) != JNI_OK) return JNI_ERR;
  // Classes are looked up here, on a thread whose class loader sees the app's classes
  // (FindClass from a library thread would only see the system loader).
  jclass bridge = env->FindClass("com/fieldbook/NativeBridge");
  if (bridge == nullptr) return JNI_ERR;
  g.bridge = static_cast<jclass>(env->NewGlobalRef(bridge));
  struct Method {
    jmethodID* id;
    const char* name;
    const char* signature;
  };
  const Method methods[] = {
      {&g.dispatch_change, "dispatchChange", "(Lcom/fieldbook/ChangeListener;[B)V"},
      {&g.dispatch_send, "dispatchSend", "(Lcom/fieldbook/Transport;[B[B[B[BJ)V"},
      {&g.dispatch_state, "dispatchState", "(Lcom/fieldbook/Sync$Listener;III[B[B)V"},
      {&g.dispatch_progress, "dispatchProgress", "(Lcom/fieldbook/Sync$Listener;JJJZ)V"},
      {&g.dispatch_key, "dispatchKey", "(Lcom/fieldbook/KeyProvider;[B)[B"},
      {&g.error_ctor, "error", "(II[B[B)Lcom/fieldbook/FieldbookException;"},
  };
  for (const Method& m : methods) {
    *m.id = env->GetStaticMethodID(bridge, m.name, m.signature);
    if (*m.id == nullptr) return JNI_ERR;  // NoSuchMethodError is pending for the loader
  }
  return JNI_VERSION_1_6;
}

// ------------------------------------------------------------------ databases

JNIEXPORT jlong JNICALL Java_com_fieldbook_NativeBridge_dbOpen(JNIEnv* env, jclass, jbyteArray path,
                                                               jbyteArray options) {
  return Run<jlong>(env, 0, [&]() -> jlong {
    Utf8 p(env, path), o(env, options);
    fieldbook_db* db = nullptr;
    fieldbook_error e;
    if (!p.present) {
      if (!fieldbook_db_open(nullptr, o.c_str_or_null(), &db, &e)) Throw(env, e);
      return 0;
    }
    if (!fieldbook_db_open(p.text.c_str(), o.c_str_or_null(), &db, &e)) {
      Throw(env, e);
      return 0;
    }
    return ToJavaHandle(db);
  });
}

JNIEXPORT void JNICALL Java_com_fieldbook_NativeBridge_dbClose(JNIEnv* env, jclass, jlong db) {
  Run<int>(env, 0, [&] {
    fieldbook_error e;
    if (!fieldbook_db_close(FromJava<fieldbook_db>(db), &e)) {
      Throw(env, e);
      return 0;
    }
    std::lock_guard<std::mutex> lock(g_refs_mu);
    auto it = g_change_listeners.find(db);
    if (it != g_change_listeners.end()) {
      env->DeleteGlobalRef(it->second);
      g_change_listeners.erase(it);
    }
    return 0;
  });
}

JNIEXPORT jbyteArray JNICALL Java_com_fieldbook_NativeBridge_dbCall(JNIEnv* env, jclass, jlong db, jbyteArray method,
                                                                    jbyteArray args) {
  return Run<jbyteArray>(env, nullptr, [&]() -> jbyteArray {
    Utf8 m(env, method), a(env, args);
    char* out = nullptr;
    fieldbook_error e;
    if (!fieldbook_db_call(FromJava<fieldbook_db>(db), m.present ? m.text.c_str() : nullptr, a.c_str_or_null(), &out,
                           &e)) {
      Throw(env, e);
      return nullptr;
    }
    return TakeJson(env, out);
  });
}

JNIEXPORT void JNICALL Java_com_fieldbook_NativeBridge_dbSetChangeListener(JNIEnv* env, jclass, jlong db,
                                                                           jobject listener) {
  Run<int>(env, 0, [&] {
    jobject ref = listener ? env->NewGlobalRef(listener) : nullptr;
    fieldbook_error e;
    if (!fieldbook_db_set_change_listener(FromJava<fieldbook_db>(db), ref ? OnChange : nullptr, ref, &e)) {
      if (ref) env->DeleteGlobalRef(ref);
      Throw(env, e);
      return 0;
    }
    // The previous listener is no longer called: its reference can go.
    std::lock_guard<std::mutex> lock(g_refs_mu);
    jobject& slot = g_change_listeners[db];
    if (slot) env->DeleteGlobalRef(slot);
    slot = ref;
    if (!ref) g_change_listeners.erase(db);
    return 0;
  });
}

JNIEXPORT void JNICALL Java_com_fieldbook_NativeBridge_setDataDirectory(JNIEnv* env, jclass, jbyteArray path) {
  Run<int>(env, 0, [&] {
    Utf8 p(env, path);
    fieldbook_error e;
    if (!fieldbook_env_set_data_directory(p.c_str_or_null(), &e)) Throw(env, e);
    return 0;
  });
}

JNIEXPORT void JNICALL Java_com_fieldbook_NativeBridge_setKeyProvider(JNIEnv* env, jclass, jobject provider) {
  Run<int>(env, 0, [&] {
    jobject ref = provider ? env->NewGlobalRef(provider) : nullptr;
    jobject old;
    {
      std::lock_guard<std::mutex> lock(g_refs_mu);
      old = g_key_provider;
      g_key_provider = ref;
    }
    if (old) env->DeleteGlobalRef(old);
    // Without a Java provider, databases open without a key (instead of being refused).
    fieldbook_error e;
    if (!fieldbook_env_set_key_provider(ref ? OnKey : nullptr, nullptr, &e)) Throw(env, e);
    return 0;
  });
}

JNIEXPORT jbyteArray JNICALL Java_com_fieldbook_NativeBridge_version(JNIEnv* env, jclass) {
  return ToJava(env, fieldbook_version());
}

// ------------------------------------------------------------------ sync

JNIEXPORT jlong JNICALL Java_com_fieldbook_NativeBridge_syncOpen(JNIEnv* env, jclass, jlong db, jbyteArray options,
                                                                 jobject transport, jobject listener) {
  return Run<jlong>(env, 0, [&]() -> jlong {
    Utf8 o(env, options);
    auto* context = new SyncContext();
    context->transport = transport ? env->NewGlobalRef(transport) : nullptr;
    context->listener = listener ? env->NewGlobalRef(listener) : nullptr;
    fieldbook_sync_callbacks callbacks{};
    callbacks.context = context;
    callbacks.transport = context->transport ? OnTransport : nullptr;
    callbacks.on_state = OnState;
    callbacks.on_progress = OnProgress;
    fieldbook_sync* sync = nullptr;
    fieldbook_error e;
    if (!fieldbook_sync_open(FromJava<fieldbook_db>(db), o.c_str_or_null(), &callbacks, &sync, &e)) {
      if (context->transport) env->DeleteGlobalRef(context->transport);
      if (context->listener) env->DeleteGlobalRef(context->listener);
      delete context;
      Throw(env, e);
      return 0;
    }
    std::lock_guard<std::mutex> lock(g_refs_mu);
    g_sync_contexts[ToJavaHandle(sync)] = context;
    return ToJavaHandle(sync);
  });
}

JNIEXPORT void JNICALL Java_com_fieldbook_NativeBridge_syncClose(JNIEnv* env, jclass, jlong sync) {
  Run<int>(env, 0, [&] {
    fieldbook_error e;
    if (!fieldbook_sync_close(FromJava<fieldbook_sync>(sync), &e)) {
      Throw(env, e);
      return 0;
    }
    SyncContext* context = nullptr;
    {
      std::lock_guard<std::mutex> lock(g_refs_mu);
      auto it = g_sync_contexts.find(sync);
      if (it != g_sync_contexts.end()) {
        context = it->second;
        g_sync_contexts.erase(it);
      }
    }
    if (context) {
      if (context->transport) env->DeleteGlobalRef(context->transport);
      if (context->listener) env->DeleteGlobalRef(context->listener);
      delete context;
    }
    return 0;
  });
}

// The sync calls that only return success or throw.
#define FIELDBOOK_JNI_SYNC_CALL(name, call)                                                 \
  JNIEXPORT void JNICALL Java_com_fieldbook_NativeBridge_##name(JNIEnv* env, jclass, jlong sync) { \
    fieldbook_error e;                                                                       \
    if (!call(FromJava<fieldbook_sync>(sync), &e)) Throw(env, e);                            \
  }
FIELDBOOK_JNI_SYNC_CALL(syncStart, fieldbook_sync_start)
FIELDBOOK_JNI_SYNC_CALL(syncStop, fieldbook_sync_stop)
FIELDBOOK_JNI_SYNC_CALL(syncRequest, fieldbook_sync_request)
#undef FIELDBOOK_JNI_SYNC_CALL

JNIEXPORT void JNICALL Java_com_fieldbook_NativeBridge_syncSetOnline(JNIEnv* env, jclass, jlong sync,
                                                                     jboolean online) {
  fieldbook_error e;
  if (!fieldbook_sync_set_online(FromJava<fieldbook_sync>(sync), online == JNI_TRUE, &e)) Throw(env, e);
}

JNIEXPORT void JNICALL Java_com_fieldbook_NativeBridge_syncSetToken(JNIEnv* env, jclass, jlong sync,
                                                                    jbyteArray token) {
  Run<int>(env, 0, [&] {
    Utf8 t(env, token);
    fieldbook_error e;
    if (!fieldbook_sync_set_token(FromJava<fieldbook_sync>(sync), t.present ? t.text.c_str() : nullptr, &e)) {
      Throw(env, e);
    }
    return 0;
  });
}

JNIEXPORT jbyteArray JNICALL Java_com_fieldbook_NativeBridge_syncRun(JNIEnv* env, jclass, jlong sync) {
  char* out = nullptr;
  fieldbook_error e;
  if (!fieldbook_sync_run(FromJava<fieldbook_sync>(sync), &out, &e)) {
    Throw(env, e);
    return nullptr;
  }
  return TakeJson(env, out);
}

JNIEXPORT jbyteArray JNICALL Java_com_fieldbook_NativeBridge_syncStatus(JNIEnv* env, jclass, jlong sync) {
  char* out = nullptr;
  fieldbook_error e;
  if (!fieldbook_sync_status(FromJava<fieldbook_sync>(sync), &out, &e)) {
    Throw(env, e);
    return nullptr;
  }
  return TakeJson(env, out);
}

JNIEXPORT jbyteArray JNICALL Java_com_fieldbook_NativeBridge_syncFetchBlob(JNIEnv* env, jclass, jlong sync,
                                                                        jbyteArray sha256, jbyteArray path) {
  return Run<jbyteArray>(env, nullptr, [&]() -> jbyteArray {
    Utf8 h(env, sha256);
    Utf8 p(env, path);
    char* out = nullptr;
    fieldbook_error e;
    if (!fieldbook_sync_fetch_blob(FromJava<fieldbook_sync>(sync), h.present ? h.text.c_str() : nullptr,
                                   p.present ? p.text.c_str() : nullptr, &out, &e)) {
      Throw(env, e);
      return nullptr;
    }
    return TakeJson(env, out);
  });
}

JNIEXPORT jboolean JNICALL Java_com_fieldbook_NativeBridge_transportComplete(JNIEnv* env, jclass, jlong request,
                                                                             jint status, jbyteArray body) {
  return Run<jboolean>(env, JNI_FALSE, [&]() -> jboolean {
    Utf8 b(env, body);
    return fieldbook_transport_complete(FromJava<fieldbook_transport_request>(request), status,
                                        reinterpret_cast<const uint8_t*>(b.text.data()), b.text.size(), nullptr)
               ? JNI_TRUE
               : JNI_FALSE;
  });
}

JNIEXPORT jboolean JNICALL Java_com_fieldbook_NativeBridge_transportFail(JNIEnv* env, jclass, jlong request,
                                                                         jint code, jbyteArray message) {
  return Run<jboolean>(env, JNI_FALSE, [&]() -> jboolean {
    Utf8 m(env, message);
    return fieldbook_transport_fail(FromJava<fieldbook_transport_request>(request), code, m.c_str_or_null(), nullptr)
               ? JNI_TRUE
               : JNI_FALSE;
  });
}

}  // extern "C"
