import CLua
import CLuaRuntime
import NIOHTTP1

/// The Lua test client's WebSocket (`client:websocket` in test_client.lua),
/// over an `InProcessWebSocket`. Each function returns true and a value
/// when it is done at once; nil and the ticket of an async call (taken like
/// an async host function's) when the server must run first on its event
/// loop; false and a message for a mistake.
enum CoreTestWebSocket: CoreArea {
    static func register(in core: CoreTable) {
        core.set("test_websocket", open)
        core.set("test_ws_send", send)
        core.set("test_ws_receive", receive)
        core.set("test_ws_close", close)
    }

    /// Returns true and `value` now, or nil and a ticket whose call ends
    /// with it once `ready` holds (checked at each change of `socket`).
    private static func answer(
        _ L: OpaquePointer, _ worker: Worker, _ socket: InProcessWebSocket, ready: @escaping () -> Bool,
        value: @escaping () throws -> LuaValue
    ) -> Int32 {
        if ready() || worker.eventLoop == nil {
            worker.pushResult(
                ready()
                    ? Result { .value(try value()) } : .failure(LuaError(message: "the server waits for the client")),
                on: L)
            return 2
        }
        let call = AsyncCall()
        let ticket = worker.nextTicket
        worker.nextTicket += 1
        worker.asyncCalls[ticket] = call
        socket.onChange = { [weak socket] in
            guard ready() else { return }
            socket?.onChange = nil
            call.complete(Result { try value() })
        }
        lua_pushnil(L)
        lua_pushinteger(L, lua_Integer(ticket))
        return 2
    }

    /// `core.test_websocket(app, url, headers)`: a GET with those headers
    /// (the handshake's included). Its value: `{upgraded = id, head = response}`
    /// after a 101, else the response, as `core.test_request` gives it.
    private static let open: mdl_SwiftFunction = { L in
        let L = L!
        let worker = Worker.from(L)
        guard lua_type(L, 1) == LUA_TTABLE, let url = LuaStack(L).string(at: 2), lua_type(L, 3) == LUA_TTABLE else {
            return LuaStack(L).raise("test_websocket expects an app, a URL and a table of headers")
        }
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: url)
        lua_pushnil(L)
        while lua_next(L, 3) != 0 {
            if let name = LuaStack(L).string(at: -2), let value = LuaStack(L).string(at: -1) {
                head.headers.add(name: name, value: value)
            }
            mdl_pop(L, 1)
        }
        lua_pushvalue(L, 1)
        let app = luaL_ref(L, mdl_registryindex())
        let socket = InProcessWebSocket()
        let id = worker.nextTicket
        worker.nextTicket += 1
        RequestTask(worker: worker, sink: socket, request: ReceivedRequest(head: head), app: app).start()
        let value = { [unowned worker] () throws -> LuaValue in
            worker.lua.release(app)
            let response = try CoreTestRequest.responseValue(socket.output, method: "GET", failure: nil)
            guard socket.upgraded else { return response }
            worker.testWebSockets[id] = socket
            return .table(["upgraded": .integer(id), "head": response])
        }
        return answer(L, worker, socket, ready: { socket.upgraded || socket.answered }, value: value)
    }

    private static func socket(_ L: OpaquePointer, _ worker: Worker) -> InProcessWebSocket? {
        var isInteger: Int32 = 0
        let id = Int(mdl_tointegerx(L, 1, &isInteger))
        return isInteger != 0 ? worker.testWebSockets[id] : nil
    }

    /// The close the client got: `{closed = true, code = n|nil, reason = s}`.
    private static func closeValue(code: Int?, reason: [UInt8]) -> LuaValue {
        .table(["closed": .boolean(true), "code": code.map { .integer($0) } ?? .nil, "reason": .string(reason)])
    }

    /// `core.test_ws_send(id, data, binary)`: true, or false once closed.
    private static let send: mdl_SwiftFunction = { L in
        let L = L!
        let worker = Worker.from(L)
        guard lua_type(L, 2) == LUA_TSTRING, let bytes = LuaStack(L).withBytes(at: 2, { Array($0) }) else {
            return LuaStack(L).raise("test_ws_send expects a socket and a string")
        }
        let sent = socket(L, worker)?.clientSend(bytes, binary: lua_toboolean(L, 3) != 0) ?? false
        lua_pushboolean(L, sent ? 1 : 0)
        return 1
    }

    /// `core.test_ws_receive(id)`: `{data =, binary =}`, or the close
    /// (`closeValue`) once the server closed; repeated after it.
    private static let receive: mdl_SwiftFunction = { L in
        let L = L!
        let worker = Worker.from(L)
        var isInteger: Int32 = 0
        let id = Int(mdl_tointegerx(L, 1, &isInteger))
        guard let socket = worker.testWebSockets[id] else {
            worker.pushResult(.success(.value(closeValue(code: 1006, reason: []))), on: L)
            return 2
        }
        let value = { () -> LuaValue in
            switch socket.takeEvent() {
            case .message(let bytes, let binary):
                return .table(["data": .string(bytes), "binary": .boolean(binary)])
            case .close(let code, let reason):
                forget(id, socket, worker)
                return closeValue(code: code, reason: reason)
            case nil:
                return closeValue(code: 1006, reason: [])
            }
        }
        return answer(L, worker, socket, ready: { socket.hasEvent || socket.clientClosed }, value: value)
    }

    /// `core.test_ws_close(id [, code, reason])`: the client closes; the
    /// socket is forgotten once the handler is done.
    private static let close: mdl_SwiftFunction = { L in
        let L = L!
        let worker = Worker.from(L)
        var isInteger: Int32 = 0
        let id = Int(mdl_tointegerx(L, 1, &isInteger))
        guard let socket = worker.testWebSockets[id] else { return 0 }
        let code = lua_type(L, 2) == LUA_TNUMBER ? Int(mdl_tointegerx(L, 2, nil)) : nil
        let reason = lua_type(L, 3) == LUA_TSTRING ? LuaStack(L).withBytes(at: 3, { Array($0) }) ?? [] : []
        socket.clientClose(code: code, reason: reason)
        // Kept while the server's answer waits for the client's receive.
        if !socket.hasEvent { forget(id, socket, worker) }
        return 0
    }

    /// Lets go of a socket whose close the client has: now when its handler
    /// is done, else (a handler still running on an event loop) when it is.
    private static func forget(_ id: Int, _ socket: InProcessWebSocket, _ worker: Worker) {
        if socket.handlerDone {
            worker.testWebSockets[id] = nil
        } else {
            socket.onChange = { [unowned worker, weak socket] in
                if socket?.handlerDone ?? true { worker.testWebSockets[id] = nil }
            }
        }
    }
}
