// LeakSanitizer suppressions built into server_tests, so that running it alone under ASan
// behaves as under cmake/test.sh, which passes cmake/lsan.supp to every test (see that
// file for the leaks, all inside third-party libraries at exit). server_tests is the only
// test binary that talks HTTPS through cpprestsdk: its pooled TLS connections keep OpenSSL
// contexts alive past exit, and as OpenSSL has no frame pointers those reports end inside
// libcrypto. Fieldbook's own OpenSSL use (HMAC for tokens) allocates nothing that outlives
// a call.
extern "C" const char* __lsan_default_suppressions() {
  return "leak:libcpprest.so\n"
         "leak:libcrypto.so\n"
         "leak:libssl.so\n";
}
