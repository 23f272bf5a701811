/* A C program using only <fieldbook/fieldbook.h>: what the native layer of an app does.
 * Opens (creating) a profile, adds a customer, lists the customers and closes.
 *
 *   fieldbook_c_sample PATH/TO/profile.db
 */
#include <fieldbook/fieldbook.h>

#include <stdio.h>

static int Fail(const char* what, const fieldbook_error* e) {
  fprintf(stderr, "%s failed: %s%s%s: %s\n", what, fieldbook_error_code_name(e->code), e->field[0] ? " " : "",
          e->field, e->message);
  return 1;
}

static void OnChange(void* context, const char* changes_json) {
  (void)context;
  printf("changed: %s\n", changes_json);
}

int main(int argc, char** argv) {
  const char* path = argc > 1 ? argv[1] : "fieldbook-sample.db";
  fieldbook_error error;
  fieldbook_db* db = NULL;
  char* json = NULL;

  if (!fieldbook_db_open(path, "{\"agent\":\"agent-1\",\"team\":\"team-1\"}", &db, &error)) {
    return Fail("open", &error);
  }
  if (!fieldbook_db_set_change_listener(db, OnChange, NULL, &error)) return Fail("listen", &error);

  if (!fieldbook_db_call(db, "customer.add",
                         "{\"name\":\"张三\",\"phones\":[\"13800138000\"],\"value_tier\":\"high\"}", &json, &error)) {
    return Fail("customer.add", &error);
  }
  printf("added: %s\n", json);
  fieldbook_free(json); /* every char* the library returns is freed with fieldbook_free */

  /* A mistake is reported, naming the field; nothing is written. */
  if (!fieldbook_db_call(db, "customer.add", "{\"name\":\"李四\",\"phones\":[\"12345\"]}", &json, &error)) {
    printf("refused: %s (%s): %s\n", fieldbook_error_code_name(error.code), error.field, error.message);
  }

  if (!fieldbook_db_call(db, "customer.list", "{\"where\":{\"value_tier\":\"high\"}}", &json, &error)) {
    return Fail("customer.list", &error);
  }
  printf("customers: %s\n", json);
  fieldbook_free(json);

  if (!fieldbook_db_close(db, &error)) return Fail("close", &error);
  return 0;
}
