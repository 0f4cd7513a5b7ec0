import CLua
import CLuaRuntime

/// The app's Swift modules (`LuaModule`): `require(name)` returns a table of
/// their functions; an async one suspends the request that calls it until
/// its task is done, the way OpenResty's cosockets suspend a request.
/// `core.await_async` is the same wait outside a request.
extension Worker {
    /// Puts each of the app's modules in `package.loaded`, so that
    /// `require(name)` returns a table of its functions.
    func registerModules() throws {
        let L = lua.L
        let base = lua_gettop(L)
        defer { lua_settop(L, base) }
        _ = mdl_getglobal(L, "package")
        lua_getfield(L, -1, "loaded")
        let loaded = lua_gettop(L)
        lua_getfield(L, loaded, "microdot")
        lua_getfield(L, -1, "_async")
        let makeAsync = lua_gettop(L)
        for module in app.modules {
            lua_createtable(L, 0, Int32(module.functions.count))
            let table = lua_gettop(L)
            for (name, body) in module.functions {
                hostFunctions.append(body)
                lua_pushinteger(L, lua_Integer(hostFunctions.count - 1))
                switch body {
                case .sync:
                    LuaStack(L).pushFunction(CoreModules.callHostFunction, upvalues: 1)
                case .async:
                    lua_pushvalue(L, makeAsync)
                    mdl_insert(L, -2)
                    LuaStack(L).pushFunction(CoreModules.startAsyncHostFunction, upvalues: 1)
                    guard lua.runProtected(on: L, { mdl_pcall(L, 1, 1, 0) }) == LUA_OK else {
                        throw LuaError(
                            message: "cannot register \(module.name).\(name): \(LuaStack(L).string(at: -1) ?? "error")")
                    }
                }
                LuaStack(L).setField(name, at: table)
            }
            LuaStack(L).setField(module.name, at: loaded)
        }
    }

    /// Pushes a value that came from Swift.
    func push(_ value: LuaValue, on L: OpaquePointer) {
        lua_rawgeti(L, mdl_registryindex(), lua_Integer(arrayMetatable))
        LuaStack(L).push(value, arrayMetatable: -1)
        mdl_remove(L, -2)
    }

    /// true and the value, or false and the error's message.
    func pushResult(_ result: AsyncCall.Outcome, on L: OpaquePointer) {
        switch result {
        case .success(.value(let value)):
            lua_pushboolean(L, 1)
            push(value, on: L)
        case .success(.push(let push)):
            lua_pushboolean(L, 1)
            push(self, L)
        case .failure(let error):
            lua_pushboolean(L, 0)
            LuaStack(L).push("\(error)")
        }
    }
}

enum CoreModules: CoreArea {
    static func register(in core: CoreTable) {
        core.set("await_async", awaitAsync)
    }

    /// The arguments of the Swift function Lua called, as Swift values.
    private static func arguments(_ L: OpaquePointer) throws -> [LuaValue] {
        let count = lua_gettop(L)
        guard count > 0 else { return [] }
        return try (1...count).map { try LuaStack(L).luaValue(at: $0) }
    }

    /// A synchronous host function: upvalue 1 is its number.
    fileprivate static let callHostFunction: mdl_SwiftFunction = { L in
        let L = L!
        let worker = Worker.from(L)
        guard case .sync(let body) = worker.hostFunctions[Int(mdl_tointegerx(L, mdl_upvalueindex(1), nil))] else {
            return LuaStack(L).raise("not a synchronous host function")
        }
        do {
            let result = try body(try arguments(L))
            worker.push(result, on: L)
            return 1
        } catch {
            return LuaStack(L).raise("\(error)")
        }
    }

    /// Starts an async host function's task and returns its ticket; the Lua
    /// wrapper (`microdot._async`) then suspends the request until it is done.
    fileprivate static let startAsyncHostFunction: mdl_SwiftFunction = { L in
        let L = L!
        let worker = Worker.from(L)
        guard case .async(let body) = worker.hostFunctions[Int(mdl_tointegerx(L, mdl_upvalueindex(1), nil))] else {
            return LuaStack(L).raise("not an async host function")
        }
        let arguments: [LuaValue]
        do {
            arguments = try CoreModules.arguments(L)
        } catch {
            return LuaStack(L).raise("\(error)")
        }
        let call = AsyncCall()
        let ticket = worker.nextTicket
        worker.nextTicket += 1
        worker.asyncCalls[ticket] = call
        call.task = Task {
            do {
                call.complete(.success(try await body(arguments)))
            } catch {
                call.complete(.failure(error))
            }
        }
        lua_pushinteger(L, lua_Integer(ticket))
        return 1
    }

    /// `core.await_async(ticket)` outside a request: blocks until the call is
    /// done, then returns true and the value, or false and the error.
    private static let awaitAsync: mdl_SwiftFunction = { L in
        let L = L!
        let worker = Worker.from(L)
        guard let call = worker.asyncCalls.removeValue(forKey: Int(mdl_tointegerx(L, 1, nil))) else {
            return LuaStack(L).raise("unknown async call")
        }
        worker.pushResult(call.wait(), on: L)
        return 2
    }
}
