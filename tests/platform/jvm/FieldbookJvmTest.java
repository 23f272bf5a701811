import com.fieldbook.ChangeListener;
import com.fieldbook.Database;
import com.fieldbook.FieldbookException;
import com.fieldbook.HttpUrlConnectionTransport;
import com.fieldbook.Sync;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * The Java binding as an Android app uses it, on the desktop JVM: the real libfieldbook through JNI, a real
 * fieldbook-server process, and HTTP performed by the Java side (HttpURLConnection) through the transport
 * callback. Usage: FieldbookJvmTest SERVER_BINARY WORK_DIR. Exits non-zero on the first failed check.
 */
public final class FieldbookJvmTest {
  private static int checks = 0;

  public static void main(String[] args) throws Exception {
    String serverBinary = args[0];
    File work = new File(args[1]);
    Process server = null;
    try {
      server = startServer(serverBinary, work);
      run(serverBinary, work, server);
    } finally {
      if (server != null) {
        server.destroy();
        if (!server.waitFor(10, TimeUnit.SECONDS)) server.destroyForcibly().waitFor();
      }
    }
    System.out.println("FieldbookJvmTest: " + checks + " checks passed");
  }

  private static String baseUrl;

  private static void run(String serverBinary, File work, Process server) throws Exception {
    String token = token(serverBinary, work);
    Database.setDataDirectory(work.getAbsolutePath());
    check(Database.version().matches("\\d+\\.\\d+\\.\\d+"), "version " + Database.version());

    // Misuse reports a FieldbookException, never a crash.
    FieldbookException refused = expectFailure(() -> Database.open("bad.db", "{\"create\":\"yes\"}"));
    check(refused.code() == FieldbookException.INVALID_FIELD && refused.field().equals("create"), refused.toString());

    List<String> changesA = Collections.synchronizedList(new ArrayList<>());
    List<String> changesB = Collections.synchronizedList(new ArrayList<>());
    List<Integer> statesB = Collections.synchronizedList(new ArrayList<>());
    try (HttpUrlConnectionTransport transport = new HttpUrlConnectionTransport(baseUrl, 10000);
        Database a = Database.open("a.db", "{\"agent\":\"agent-1\",\"team\":\"team-1\"}");
        Database b = Database.open(new File(work, "b.db").getAbsolutePath(), "{\"agent\":\"agent-1\",\"team\":\"team-1\"}")) {
      a.setChangeListener(changesA::add);
      ChangeListener onB = changesB::add;
      b.setChangeListener(onB);

      // Open, add a customer (text with emoji and CJK survives the JNI boundary), read it back.
      String added = a.call("customer.add", "{\"name\":\"张三\",\"notes\":\"钓鱼 🎣\"}");
      String id = field(added, "id");
      check(changesA.size() == 1 && changesA.get(0).contains("\"origin\":\"local\""), "local change " + changesA);
      String shown = a.call("customer.show", "{\"id\":\"" + id + "\"}");
      check(shown.contains("钓鱼 🎣"), "read back " + shown);

      FieldbookException unknown = expectFailure(() -> a.call("calendar.month", "{}"));
      check(unknown.code() == FieldbookException.INVALID_ARGUMENT && unknown.getMessage().contains("calendar.month"),
          unknown.toString());
      FieldbookException badJson = expectFailure(() -> a.call("customer.add", "{\"name\":"));
      check(badJson.code() == FieldbookException.INVALID_JSON, badJson.toString());

      // A: one sync on this thread, through the Java transport, to the real server.
      try (Sync syncA = Sync.open(a, "{\"token\":\"" + token + "\"}", transport, null)) {
        String report = syncA.run();
        // The customer, and the access-audit row of reading it back.
        check(report.contains("\"pushed\":2"), "push report " + report);
        check(syncA.status().contains("\"pending_rows\":0"), "status " + syncA.status());
      }

      // B: the scheduler syncs on its own thread; the change arrives through the listener.
      Sync.Listener listener = new Sync.Listener() {
        @Override
        public void onState(int state, FieldbookException lastError) {
          statesB.add(state);
        }
      };
      try (Sync syncB = Sync.open(b, "{\"token\":\"" + token + "\",\"debounce_ms\":100}", transport, listener)) {
        syncB.start();
        waitFor(() -> {
          synchronized (changesB) {
            return changesB.stream().anyMatch(c -> c.contains("\"origin\":\"remote\"") && c.contains("customers"));
          }
        }, "remote change on B");
        check(b.call("customer.show", "{\"id\":\"" + id + "\"}").contains("钓鱼 🎣"), "B reads the customer");

        // And back: an edit on B reaches A.
        b.call("customer.set", "{\"id\":\"" + id + "\",\"value_tier\":\"high\"}");
        waitFor(() -> {
          try {
            return syncB.status().contains("\"pending_rows\":0") && statesB.contains(Sync.IDLE);
          } catch (FieldbookException e) {
            return false;
          }
        }, "B pushes its edit");
        syncB.stop();
        check(statesB.get(statesB.size() - 1) == Sync.STOPPED, "stopped last: " + statesB);
        check(statesB.contains(Sync.SYNCING), "states " + statesB);
      }
      try (Sync syncA = Sync.open(a, "{\"token\":\"" + token + "\"}", transport, null)) {
        syncA.run();
      }
      check(a.call("customer.show", "{\"id\":\"" + id + "\"}").contains("\"value_tier\":\"high\""), "A sees B's edit");
      check(a.call("export", "{}").equals(b.call("export", "{}")), "both devices hold the same data");

      // A refused token is an auth error, reported as such.
      try (Sync bad = Sync.open(a, "{\"token\":\"not-a-token\"}", transport, null)) {
        FieldbookException e = expectFailure(bad::run);
        check(e.domain() == FieldbookException.DOMAIN_AUTH, e.toString());
      }

      // A server that is gone is a retryable network error.
      server.destroy();
      server.waitFor(10, TimeUnit.SECONDS);
      try (Sync gone = Sync.open(a, "{\"token\":\"" + token + "\"}", transport, null)) {
        a.call("customer.add", "{\"name\":\"李四\"}");
        FieldbookException e = expectFailure(gone::run);
        check(e.isRetryable(), e.toString());
      }

      // The key store hook.
      Database.setKeyProvider(path -> new byte[32]);
      try (Database c = Database.open("c.db", "{\"agent\":\"agent-1\"}")) {
        check(c.call("profile.show", "{}").contains("\"has_key\":true"), "key from the provider");
      }
      Database.setKeyProvider(path -> null);
      FieldbookException locked = expectFailure(() -> Database.open("c.db", null));
      check(locked.code() == 308, locked.toString());
      Database.setKeyProvider(null);
      // The key encrypted c.db's sensitive values: without it c.db stays shut (604).
      FieldbookException shut = expectFailure(() -> Database.open("c.db", null));
      check(shut.code() == 604, shut.toString());
      try (Database c = Database.open("e.db", "{\"agent\":\"agent-1\"}")) {
        check(c.call("profile.show", "{}").contains("\"has_key\":false"), "no provider, no key");
      }

      // Use after close.
      Database d = Database.open("d.db", "{\"agent\":\"agent-1\"}");
      d.close();
      d.close();  // idempotent
      FieldbookException closed = expectFailure(() -> d.call("customer.list", "{}"));
      check(closed.code() == FieldbookException.INVALID_ARGUMENT, closed.toString());
    }
  }

  // ------------------------------------------------------------------ the server

  private static Process startServer(String binary, File work) throws Exception {
    File secret = new File(work, "secret");
    Files.write(secret.toPath(), "jvm-test-secret-0123456789abcdef\n".getBytes(StandardCharsets.UTF_8));
    ProcessBuilder pb = new ProcessBuilder(binary, "--db", new File(work, "server.db").getAbsolutePath(), "--listen",
        "127.0.0.1:0", "--secret", secret.getAbsolutePath());
    pb.redirectError(new File(work, "server.log"));
    Process p = pb.start();
    BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
    CompletableFuture<String> line = CompletableFuture.supplyAsync(() -> {
      try {
        return out.readLine();
      } catch (IOException e) {
        return null;
      }
    });
    String first = line.get(20, TimeUnit.SECONDS);
    if (first == null || !first.startsWith("listening on ")) {
      p.destroyForcibly();
      throw new AssertionError("fieldbook-server did not start: " + first + "; log: "
          + new String(Files.readAllBytes(new File(work, "server.log").toPath()), StandardCharsets.UTF_8));
    }
    baseUrl = "http://" + first.substring("listening on ".length()).trim();
    return p;
  }

  private static String token(String binary, File work) throws Exception {
    Process p = new ProcessBuilder(binary, "token", "--secret", new File(work, "secret").getAbsolutePath(), "--tenant",
        "t1", "--agent", "agent-1", "--team", "team-1", "--role", "agent", "--ttl", "3600")
        .redirectErrorStream(true).start();
    String token = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8)).readLine();
    check(p.waitFor(20, TimeUnit.SECONDS) && p.exitValue() == 0 && token != null, "token: " + token);
    return token.trim();
  }

  // ------------------------------------------------------------------ helpers

  interface Action {
    void run() throws Exception;
  }

  private static FieldbookException expectFailure(Action action) throws Exception {
    try {
      action.run();
    } catch (FieldbookException e) {
      checks++;
      return e;
    }
    throw new AssertionError("expected a FieldbookException");
  }

  private static void check(boolean ok, String what) {
    checks++;
    if (!ok) throw new AssertionError("check failed: " + what);
  }

  private static void waitFor(BooleanSupplier condition, String what) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) throw new AssertionError("timed out waiting for " + what);
      Thread.sleep(10);
    }
    checks++;
  }

  // The value of a top-level string field of a flat JSON object (enough for ids).
  private static String field(String json, String name) {
    String key = "\"" + name + "\":\"";
    int start = json.indexOf(key);
    check(start >= 0, name + " in " + json);
    start += key.length();
    return json.substring(start, json.indexOf('"', start));
  }
}
