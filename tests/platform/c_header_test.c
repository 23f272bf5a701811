/* Compiled as C (not C++): proves fieldbook.h is a valid C header and that a C program
 * can use the library with nothing else. c_api_test.cc calls this function. */
#include "fieldbook/fieldbook.h"

#include <stdio.h>
#include <string.h>

/* Returns 0 when everything worked, else the line that failed. */
int fieldbook_c_smoke(const char* path) {
  fieldbook_error error;
  fieldbook_db* db = NULL;
  char* out = NULL;
  memset(&error, 0, sizeof error);

  if (!fieldbook_db_open(path, "{\"agent\":\"agent-c\"}", &db, &error)) return __LINE__;
  if (!fieldbook_db_call(db, "customer.add", "{\"name\":\"C 语言\"}", &out, &error)) return __LINE__;
  if (strstr(out, "\"id\"") == NULL) return __LINE__;
  fieldbook_free(out);
  out = NULL;

  /* A failure fills the error, names the offending input, and leaves *out NULL. */
  if (fieldbook_db_call(db, "calendar.month", NULL, &out, &error)) return __LINE__;
  if (error.code != FIELDBOOK_ERR_INVALID_ARGUMENT || error.domain != FIELDBOOK_DOMAIN_VALIDATION) return __LINE__;
  if (strstr(error.message, "calendar.month") == NULL) return __LINE__;
  if (out != NULL) return __LINE__;
  if (strcmp(fieldbook_error_code_name(error.code), "invalid_argument") != 0) return __LINE__;

  /* out_error may be NULL. */
  if (fieldbook_db_call(NULL, "methods", NULL, &out, NULL)) return __LINE__;

  if (!fieldbook_db_call(db, "customer.list", "{\"search\":\"语言\"}", &out, &error)) return __LINE__;
  if (strstr(out, "C 语言") == NULL) return __LINE__;
  fieldbook_free(out);

  if (!fieldbook_db_close(db, &error)) return __LINE__;
  if (fieldbook_db_close(db, &error)) return __LINE__; /* closed: an error, not a crash */
  {
    fieldbook_sync_callbacks callbacks = {NULL, NULL, NULL, NULL};
    fieldbook_sync* sync = NULL;
    if (fieldbook_sync_open(db, NULL, &callbacks, &sync, &error)) return __LINE__;
  }
  return 0;
}
