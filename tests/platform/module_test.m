// Objective-C importing the C API as the clang module that Swift also imports
// (platform/apple/module.modulemap), then using it.
@import Fieldbook;

#include <stdio.h>
#include <string.h>

static int g_changes = 0;

static void OnChange(void* _Nullable context, const char* _Nonnull json) {
  (void)context;
  if (strstr(json, "\"customers\"") != NULL) ++g_changes;
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  char path[4096];
  snprintf(path, sizeof path, "%s/module.db", argv[1]);
  fieldbook_error error;
  fieldbook_db* db = NULL;
  char* out = NULL;
  if (!fieldbook_db_open(path, "{\"agent\":\"agent-ios\"}", &db, &error)) goto fail;
  if (!fieldbook_db_set_change_listener(db, OnChange, NULL, &error)) goto fail;
  if (!fieldbook_db_call(db, "customer.add", "{\"name\":\"Swift 客户\"}", &out, &error)) goto fail;
  printf("added %s\n", out);
  fieldbook_free(out);
  if (g_changes != 1) {
    fprintf(stderr, "expected one change notification, got %d\n", g_changes);
    return 1;
  }
  if (fieldbook_db_call(db, "kanban.board", NULL, &out, &error) || error.code != FIELDBOOK_ERR_INVALID_ARGUMENT) {
    fprintf(stderr, "an unknown method did not fail as documented\n");
    return 1;
  }
  if (!fieldbook_db_close(db, &error)) goto fail;
  printf("fieldbook %s through the clang module: ok\n", fieldbook_version());
  return 0;
fail:
  fprintf(stderr, "%s: %s\n", fieldbook_error_code_name(error.code), error.message);
  return 1;
}
