import CLua

/// What `microdot.websocket` asks of the host: the yield
/// `SUSPEND, WEBSOCKET, op, ...` of a request coroutine (the header of
/// `websocket.lua` lists the answers). Decoded by `HostProtocol`, carried
/// out by `RequestTask+WebSocket.swift` and `WebSocketSession`.
enum WebSocketOperation {
    /// `UPGRADE, accept, max_message_length`: send the 101 with this
    /// `Sec-WebSocket-Accept` and leave HTTP; 0 is no message limit.
    case upgrade(accept: String, maxMessageLength: Int)
    /// `RECEIVE [, timeout]`: the next message, waiting at most `timeout` seconds.
    case receive(timeout: Double?)
    /// `SEND, data, binary`: the data is at this index of the coroutine's stack.
    case send(at: Int32, binary: Bool)
    /// `CLOSE, code, reason, wait`: a close frame (empty without a code);
    /// `wait` waits for the client's close (`WebSocketSession.closeWait`).
    case close(code: Int?, reason: [UInt8], wait: Bool)

    private enum Code: lua_Integer {
        case upgrade = 1
        case receive = 2
        case send = 3
        case close = 4
    }

    /// Sets `WS_UPGRADE`, `WS_RECEIVE`, `WS_SEND` and `WS_CLOSE` in the table at `core`.
    static func publish(_ L: OpaquePointer, into core: Int32) {
        let core = lua_absindex(L, core)
        for (name, code) in [
            ("WS_UPGRADE", Code.upgrade), ("WS_RECEIVE", .receive), ("WS_SEND", .send), ("WS_CLOSE", .close),
        ] {
            lua_pushinteger(L, code.rawValue)
            LuaStack(L).setField(name, at: core)
        }
    }

    /// The operation whose code is at `index` of `co` (its arguments after
    /// it); nil when it is not one.
    static func decode(_ co: OpaquePointer, at index: Int32) -> WebSocketOperation? {
        var isInteger: Int32 = 0
        let raw = mdl_tointegerx(co, index, &isInteger)
        guard isInteger != 0, let code = Code(rawValue: raw) else { return nil }
        let stack = LuaStack(co)
        switch code {
        case .upgrade:
            guard let accept = stack.string(at: index + 1) else { return nil }
            return .upgrade(accept: accept, maxMessageLength: Int(mdl_tointegerx(co, index + 2, nil)))
        case .receive:
            return .receive(timeout: lua_type(co, index + 1) == LUA_TNUMBER ? mdl_tonumber(co, index + 1) : nil)
        case .send:
            guard lua_type(co, index + 1) == LUA_TSTRING else { return nil }
            return .send(at: index + 1, binary: lua_toboolean(co, index + 2) != 0)
        case .close:
            let code = lua_type(co, index + 1) == LUA_TNUMBER ? Int(mdl_tointegerx(co, index + 1, nil)) : nil
            let reason =
                lua_type(co, index + 2) == LUA_TSTRING ? stack.withBytes(at: index + 2) { Array($0) } ?? [] : []
            return .close(code: code, reason: reason, wait: lua_toboolean(co, index + 3) != 0)
        }
    }
}
