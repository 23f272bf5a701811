// A thin Swift layer over the C module: errors become `throw`, strings are Swift strings,
// handles are classes that close themselves. Nothing here is more than the C API says
// (fieldbook.h is the reference); it only makes it pleasant from Swift.
//
// Threading: FieldbookDatabase and FieldbookSync are safe to use from any thread (the
// library serialises). Callbacks arrive on library threads: hop to the main actor before
// touching UI.
import Fieldbook
import Foundation

public struct FieldbookError: Error, CustomStringConvertible {
  public let code: Int32
  public let domain: Int32
  public let field: String
  public let message: String

  init(_ e: fieldbook_error) {
    var copy = e
    code = e.code
    domain = e.domain
    field = withUnsafePointer(to: &copy.field) {
      $0.withMemoryRebound(to: CChar.self, capacity: Int(FIELDBOOK_ERROR_FIELD_SIZE)) { String(cString: $0) }
    }
    message = withUnsafePointer(to: &copy.message) {
      $0.withMemoryRebound(to: CChar.self, capacity: Int(FIELDBOOK_ERROR_MESSAGE_SIZE)) { String(cString: $0) }
    }
  }

  public var codeName: String { String(cString: fieldbook_error_code_name(code)) }
  /// Network failures: nothing was lost, a later sync retries.
  public var isRetryable: Bool { domain == Int32(FIELDBOOK_DOMAIN_NETWORK) }
  public var description: String { "\(codeName)\(field.isEmpty ? "" : " (\(field))"): \(message)" }
}

/// Calls a C function that reports failure through `fieldbook_error`, throwing it.
@discardableResult
func check(_ body: (UnsafeMutablePointer<fieldbook_error>) -> Bool) throws -> Bool {
  var error = fieldbook_error()
  guard body(&error) else { throw FieldbookError(error) }
  return true
}

/// Takes ownership of a `char*` returned by the library.
func takeString(_ p: UnsafeMutablePointer<CChar>?) -> String {
  guard let p = p else { return "" }
  defer { fieldbook_free(p) }
  return String(cString: p)
}

public enum FieldbookEnvironment {
  /// The app's Application Support directory: relative database paths resolve against it.
  public static func setDataDirectory(_ url: URL) throws {
    try check { fieldbook_env_set_data_directory(url.path, $0) }
  }
}

public final class FieldbookDatabase {
  let handle: OpaquePointer
  private var listener: Unmanaged<ChangeBox>?

  /// Opens (by default creating) a profile. `options`: {"create", "read_only", "agent", "team"}.
  public init(path: String, options: String? = nil) throws {
    var db: OpaquePointer?
    try check { fieldbook_db_open(path, options, &db, $0) }
    handle = db!
  }

  deinit {
    fieldbook_db_close(handle, nil)  // waits for callbacks running elsewhere
    listener?.release()
  }

  /// One operation of the method table in fieldbook.h, e.g. call("customer.add", #"{"name":"张三"}"#).
  public func call(_ method: String, _ args: String = "{}") throws -> String {
    var out: UnsafeMutablePointer<CChar>?
    try check { fieldbook_db_call(handle, method, args, &out, $0) }
    return takeString(out)
  }

  /// Told after committed writes (local: on the calling thread; remote: on the sync thread).
  public func onChange(_ handler: ((String) -> Void)?) throws {
    let box = handler.map { Unmanaged.passRetained(ChangeBox($0)) }
    do {
      try check { fieldbook_db_set_change_listener(handle, box == nil ? nil : changeTrampoline, box?.toOpaque(), $0) }
    } catch {
      box?.release()
      throw error
    }
    listener?.release()  // no longer called once the call above returned
    listener = box
  }
}

private let changeTrampoline: fieldbook_change_fn = { context, json in
  Unmanaged<ChangeBox>.fromOpaque(context!).takeUnretainedValue().handler(String(cString: json))
}

final class ChangeBox {
  let handler: (String) -> Void
  init(_ handler: @escaping (String) -> Void) { self.handler = handler }
}

/// The app's HTTP stack: perform the request against base URL + path and call `complete`
/// once (any thread) with the status and raw body, or with nil on failure.
public protocol FieldbookTransport: AnyObject {
  func send(method: String, path: String, headers: [String: String], body: Data,
            complete: @escaping (_ status: Int?, _ body: Data, _ timedOut: Bool) -> Void)
}

/// URLSession as the transport.
public final class URLSessionTransport: FieldbookTransport {
  let baseURL: URL
  let session: URLSession
  public init(baseURL: URL, session: URLSession = .shared) {
    self.baseURL = baseURL
    self.session = session
  }
  public func send(method: String, path: String, headers: [String: String], body: Data,
                   complete: @escaping (Int?, Data, Bool) -> Void) {
    var request = URLRequest(url: baseURL.appendingPathComponent(path))
    request.httpMethod = method
    request.httpBody = body
    for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
    session.dataTask(with: request) { data, response, error in
      if let http = response as? HTTPURLResponse {
        complete(http.statusCode, data ?? Data(), false)
      } else {
        complete(nil, Data(), (error as? URLError)?.code == .timedOut)
      }
    }.resume()
  }
}

public final class FieldbookSync {
  public enum State: Int32 { case idle = 0, syncing, backingOff, offline, stopped }

  final class Context {
    let transport: FieldbookTransport
    let onState: ((State, FieldbookError?) -> Void)?
    init(_ t: FieldbookTransport, _ s: ((State, FieldbookError?) -> Void)?) {
      transport = t
      onState = s
    }
  }

  let handle: OpaquePointer
  let database: FieldbookDatabase  // closed after this sync
  private let context: Unmanaged<Context>

  /// `options`: {"token", "online", "debounce_ms", "periodic_ms", "backoff_min_ms", ...}.
  public init(database: FieldbookDatabase, options: String? = nil, transport: FieldbookTransport,
              onState: ((State, FieldbookError?) -> Void)? = nil) throws {
    self.database = database
    context = Unmanaged.passRetained(Context(transport, onState))
    var callbacks = fieldbook_sync_callbacks()
    callbacks.context = context.toOpaque()
    callbacks.transport = { context, method, path, headersJSON, body, length, request in
      let ctx = Unmanaged<Context>.fromOpaque(context!).takeUnretainedValue()
      let headerData = Data(String(cString: headersJSON).utf8)
      let headers = (try? JSONSerialization.jsonObject(with: headerData)) as? [String: String] ?? [:]
      let payload = body.map { Data(bytes: $0, count: length) } ?? Data()
      let requestHandle = request
      ctx.transport.send(method: String(cString: method), path: String(cString: path), headers: headers,
                         body: payload) { status, data, timedOut in
        if let status = status {
          data.withUnsafeBytes {
            _ = fieldbook_transport_complete(requestHandle, Int32(status),
                                             $0.bindMemory(to: UInt8.self).baseAddress, data.count, nil)
          }
        } else {
          _ = fieldbook_transport_fail(requestHandle,
                                       Int32(timedOut ? FIELDBOOK_ERR_TIMEOUT : FIELDBOOK_ERR_UNREACHABLE), nil, nil)
        }
      }
    }
    callbacks.on_state = { context, state, error in
      let ctx = Unmanaged<Context>.fromOpaque(context!).takeUnretainedValue()
      ctx.onState?(State(rawValue: state) ?? .stopped, error.map { FieldbookError($0.pointee) })
    }
    var sync: OpaquePointer?
    do {
      try check { fieldbook_sync_open(database.handle, options, &callbacks, &sync, $0) }
    } catch {
      context.release()
      throw error
    }
    handle = sync!
  }

  deinit {
    fieldbook_sync_close(handle, nil)  // no callback runs after this
    context.release()
  }

  public func start() throws { try check { fieldbook_sync_start(handle, $0) } }
  public func stop() throws { try check { fieldbook_sync_stop(handle, $0) } }
  /// From NWPathMonitor: `path.status == .satisfied`.
  public func setOnline(_ online: Bool) throws { try check { fieldbook_sync_set_online(handle, online, $0) } }
  public func setToken(_ token: String) throws { try check { fieldbook_sync_set_token(handle, token, $0) } }
  public func request() throws { try check { fieldbook_sync_request(handle, $0) } }

  /// One whole sync, blocking: call it off the main thread.
  public func run() throws -> String {
    var out: UnsafeMutablePointer<CChar>?
    try check { fieldbook_sync_run(handle, &out, $0) }
    return takeString(out)
  }

  public func status() throws -> String {
    var out: UnsafeMutablePointer<CChar>?
    try check { fieldbook_sync_status(handle, &out, $0) }
    return takeString(out)
  }

  /// Writes blob `sha256` (a visit photo, an ID scan) to `path`: from the device, or downloaded
  /// through this sync's transport and kept. Blocking: call it off the main thread.
  public func fetchBlob(sha256: String, to path: String) throws -> String {
    var out: UnsafeMutablePointer<CChar>?
    try check { fieldbook_sync_fetch_blob(handle, sha256, path, &out, $0) }
    return takeString(out)
  }
}
