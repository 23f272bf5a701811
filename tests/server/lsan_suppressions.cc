// LeakSanitizer suppressions for server_tests, the only test binary that talks HTTPS through
// cpprestsdk. cpprestsdk keeps the OpenSSL contexts of its pooled TLS connections alive past
// process exit; OpenSSL is built without frame pointers, so the leak reports end inside
// libcrypto and cannot be matched on cpprestsdk itself. Fieldbook's own OpenSSL use (HMAC
// for tokens) allocates nothing that outlives a call.
extern "C" const char* __lsan_default_suppressions() {
  return "leak:libcrypto.so\n"
         "leak:libssl.so\n";
}
