import CLua
import CLuaRuntime

/// `core.http_request(options)` for `microdot.http` (http.lua checks the
/// options first): starts the request as an async call and returns its
/// ticket; the wait gives `{status, headers = {{name, value}...}, body}`,
/// or fails with the message `http.request` returns as `err`.
enum CoreHTTP: CoreArea {
    static func register(in core: CoreTable) {
        core.set("http_request", request)
    }

    private static let request: mdl_SwiftFunction = { L in
        let L = L!
        let options: LuaValue
        do {
            options = try LuaStack(L).luaValue(at: 1)
        } catch {
            return LuaStack(L).raise("\(error)")
        }
        var headers: [(String, String)] = []
        if case .array(let pairs) = options["headers"] {
            for pair in pairs {
                if let name = pair[0].string, let value = pair[1].string { headers.append((name, value)) }
            }
        }
        var body: [UInt8]?
        if case .string(let bytes) = options["body"] { body = bytes }
        let request = OutboundHTTP.Request(
            method: options["method"].string ?? "GET", url: options["url"].string ?? "", headers: headers,
            body: body, timeout: options["timeout"].double ?? 30, maxBody: options["max_body"].int ?? 16 << 20,
            followRedirects: options["follow_redirects"].bool ?? false)
        let ticket = Worker.from(L).startCall {
            let response = try await OutboundHTTP.perform(request)
            return .value(
                .table([
                    "status": .integer(response.status),
                    "headers": .array(response.headers.map { .array([LuaValue($0.0), LuaValue($0.1)]) }),
                    "body": .string(response.body),
                ]))
        }
        lua_pushinteger(L, lua_Integer(ticket))
        return 1
    }
}

extension Worker {
    /// Starts `body` as a Swift task and returns the ticket Lua waits on
    /// (`microdot.coroutine.await`): the request's coroutine is resumed on
    /// this worker's loop with the payload, or with the error's message.
    func startCall(_ body: @escaping @Sendable () async throws -> AsyncCall.Payload) -> Int {
        let call = AsyncCall()
        let ticket = nextTicket
        nextTicket += 1
        asyncCalls[ticket] = call
        call.task = Task {
            do {
                call.complete(outcome: .success(try await body()))
            } catch {
                call.complete(outcome: .failure(error))
            }
        }
        return ticket
    }
}
