import CLua
import CLuaRuntime
import NIOCore
import NIOHTTP1

/// `core.test_request`: the Lua test client's way into the server's driver.
enum CoreTestRequest: CoreArea {
    static func register(in core: CoreTable) {
        core.set("test_request", testRequest)
    }

    /// `core.test_request(app, method, url, headers, body)`: what Lua's
    /// `microdot.test_client` sends. The request runs through a `RequestTask`,
    /// as one from a socket does, into a `CollectingSink`; the bytes are
    /// parsed back by `ResponseParser` into a table: status, reason, headers
    /// (an array of {name, value}), body, and failure when an error cut the
    /// response short after its head. Returns true and that table (or false
    /// and an error) when the request ended at once, which it always does
    /// without an event loop; else nil and the ticket of an async call (taken
    /// like an async host function's) that ends with them. A body over
    /// `microdot.Request`'s limits is not kept, as from a socket.
    static let testRequest: mdl_SwiftFunction = { L in
        let L = L!
        let worker = Worker.from(L)
        guard lua_type(L, 1) == LUA_TTABLE, let method = LuaStack(L).string(at: 2), let url = LuaStack(L).string(at: 3),
            lua_type(L, 4) == LUA_TTABLE
        else {
            return LuaStack(L).raise("test_request expects an app, a method, a URL and a table of headers")
        }
        var head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: method), uri: url)
        lua_pushnil(L)
        while lua_next(L, 4) != 0 {
            if let name = LuaStack(L).string(at: -2), let value = LuaStack(L).string(at: -1) {
                head.headers.add(name: name, value: value)
            }
            mdl_pop(L, 1)
        }
        var request = ReceivedRequest(head: head)
        if lua_type(L, 5) == LUA_TSTRING {
            if Int(lua_rawlen(L, 5)) > worker.scriptLimits().bodyLimit {
                request.bodyTooLarge = true
            } else {
                request.body = LuaStack(L).withBytes(at: 5) { ByteBuffer(bytes: $0) }
            }
        }
        lua_pushvalue(L, 1)
        let app = luaL_ref(L, mdl_registryindex())

        let call = AsyncCall()
        let ticket = worker.nextTicket
        worker.nextTicket += 1
        worker.asyncCalls[ticket] = call
        let sink = CollectingSink { [unowned worker] bytes, failure in
            worker.lua.release(app)
            call.complete(
                Result {
                    let response = try ResponseParser.parse(bytes, method: method, cutShort: failure != nil)
                    return .table([
                        "status": .integer(response.status),
                        "reason": LuaValue(response.reason),
                        "headers": .array(response.headers.map { .array([LuaValue($0.name), LuaValue($0.value)]) }),
                        "body": .string(response.body),
                        "failure": failure.map { LuaValue($0) } ?? .nil,
                    ])
                }.map { .value($0) })
        }
        RequestTask(worker: worker, sink: sink, request: request, app: app).start()
        if let result = call.finishedResult {
            worker.asyncCalls[ticket] = nil
            worker.pushResult(result, on: L)
        } else {
            lua_pushnil(L)
            lua_pushinteger(L, lua_Integer(ticket))
        }
        return 2
    }
}
