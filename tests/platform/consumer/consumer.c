/* Opens a profile through the installed libfieldbook and adds a customer. */
#include <fieldbook/fieldbook.h>

#include <stdio.h>
#include <string.h>

int main(int argc, char** argv) {
  fieldbook_error error;
  fieldbook_db* db = NULL;
  char* out = NULL;
  char path[4096];
  if (argc < 2) return 2;
  snprintf(path, sizeof path, "%s/consumer.db", argv[1]);
  if (!fieldbook_db_open(path, "{\"agent\":\"agent-1\"}", &db, &error) ||
      !fieldbook_db_call(db, "customer.add", "{\"name\":\"consumer\"}", &out, &error)) {
    fprintf(stderr, "%s: %s\n", fieldbook_error_code_name(error.code), error.message);
    return 1;
  }
  printf("fieldbook %s added %s\n", fieldbook_version(), out);
  fieldbook_free(out);
  return fieldbook_db_close(db, &error) && fieldbook_handle_count() == 0 ? 0 : 1;
}
