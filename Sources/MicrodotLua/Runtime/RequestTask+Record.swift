import CLua
import NIOCore

/// A running request's side of its `RequestRecord`.
struct ObservedRequest {
    let started: NIODeadline
    /// The request's id when the access log is on (else Lua makes one
    /// only if `req.request_id` is read).
    let requestID: String?
    /// `X-Request-Id: <id>\r\n` for the response head, while logging.
    let requestHeader: [UInt8]?
    let client: String
    /// 499 (nginx's "client closed request") until a response starts.
    var status = 499
    var bytes = 0
    var route = ""
}

extension RequestTask {
    /// `--debug`'s line per request: `METHOD PATH STATUS`.
    func logRequest(status: Int) {
        guard worker.debug else { return }
        let uri = request.head.uri
        let path = uri.firstIndex(of: "?").map { uri[..<$0] } ?? uri[...]
        worker.log(.info, "\(request.head.method.rawValue) \(path) \(status)", request: id)
    }

    func observeStart(_ observer: WorkerObserver, client: String) {
        let id = observer.logs ? RequestID.make(request.head.headers) : nil
        observed = ObservedRequest(
            started: .now(), requestID: id, requestHeader: id.map(RequestID.headerLine), client: client)
        observer.started()
    }

    /// The head of `encoded` went out; Lua gave the route's pattern after
    /// the response (`server.lua`): third after a returned one, next to a
    /// stream's head.
    func noteResponse(_ encoded: EncodedResponse, at index: Int32, streaming: Bool) {
        observed?.status = encoded.status
        observed?.bytes = encoded.bodyBytes
        let at = lua_absindex(thread, index) + (streaming ? 1 : 3)
        guard at <= lua_gettop(thread), lua_type(thread, at) == LUA_TSTRING, let observer = worker.observer else {
            return
        }
        var length = 0
        guard let pointer = mdl_tolstring(thread, at, &length) else { return }
        let key = UnsafeRawPointer(pointer)
        if let name = observer.routeNames[key], name.utf8.count == length {
            observed?.route = name
        } else {
            let name = String(decoding: UnsafeRawBufferPointer(start: pointer, count: length), as: UTF8.self)
            observer.routeNames[key] = name
            observed?.route = name
        }
    }

    /// The response has ended (or the request was cut): its record goes out.
    func recordFinished() {
        guard let observed, let observer = worker.observer else { return }
        let elapsed = NIODeadline.now() - observed.started
        observer.finished(
            RequestRecord(
                head: request.head, route: observed.route, status: observed.status, bytes: observed.bytes,
                duration: Double(elapsed.nanoseconds) / 1e9, requestID: observed.requestID, client: observed.client))
    }
}
