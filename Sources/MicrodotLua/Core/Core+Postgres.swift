import CLua
import CLuaRuntime

/// The host side of `microdot.pg` (pg.lua checks the arguments and builds
/// the error objects): each call starts an async call and returns its
/// ticket. The wait gives a table, pushed on the worker's thread:
/// `{rows =, command =, affected =}` (a row is column → value, NULL
/// `json.null`, json decoded), or `{error = {message =, sqlstate =,
/// detail =, hint =}}`.
///
/// Parameters come as a string of kinds, one letter each (`n` NULL, `b`
/// boolean, `i` integer, `f` float, `t` text, `y` bytea, `j` JSON text for
/// jsonb), and a table of the values by position.
enum CorePostgres: CoreArea {
    static func register(in core: CoreTable) {
        core.set("pg_check", check)
        core.set("pg_query", query)
        core.set("pg_begin", begin)
        core.set("pg_tx_query", transactionQuery)
        core.set("pg_end", end)
        core.set("pg_abandon", abandon)
    }

    /// `pg_check(url)`: nil and the server as errors name it
    /// (`host:port/db`), or what is wrong with the URL.
    private static let check: mdl_SwiftFunction = { L in
        let L = L!
        do {
            let target = try PostgresTarget(url: LuaStack(L).string(at: 1) ?? "")
            lua_pushnil(L)
            LuaStack(L).push(target.description)
            return 2
        } catch {
            LuaStack(L).push("\(error)")
            return 1
        }
    }

    /// `pg_query(url, pool_size, connect_timeout, timeout, sql, kinds, values)`.
    private static let query: mdl_SwiftFunction = { L in
        let L = L!
        let worker = Worker.from(L)
        let options = poolOptions(L, from: 1)
        let timeout = mdl_tonumber(L, 4)
        let sql = LuaStack(L).string(at: 5) ?? ""
        let parameters = Self.parameters(L, kinds: 6, values: 7)
        let clients = worker.postgresClients
        let ticket = worker.startCall {
            await outcome { try await clients.query(options, sql: sql, parameters: parameters, timeout: timeout) }
        }
        lua_pushinteger(L, lua_Integer(ticket))
        return 1
    }

    /// `pg_begin(url, pool_size, connect_timeout, timeout)`: the wait gives
    /// `{id =}` or `{error =}`.
    private static let begin: mdl_SwiftFunction = { L in
        let L = L!
        let worker = Worker.from(L)
        let options = poolOptions(L, from: 1)
        let timeout = mdl_tonumber(L, 4)
        let clients = worker.postgresClients
        let ticket = worker.startCall {
            do {
                let id = try await clients.begin(options, timeout: timeout)
                return .value(["id": .integer(id)])
            } catch {
                return failure(error)
            }
        }
        lua_pushinteger(L, lua_Integer(ticket))
        return 1
    }

    /// `pg_tx_query(id, timeout, sql, kinds, values)`.
    private static let transactionQuery: mdl_SwiftFunction = { L in
        let L = L!
        let worker = Worker.from(L)
        let id = Int(mdl_tointegerx(L, 1, nil))
        let timeout = mdl_tonumber(L, 2)
        let sql = LuaStack(L).string(at: 3) ?? ""
        let parameters = Self.parameters(L, kinds: 4, values: 5)
        let clients = worker.postgresClients
        let ticket = worker.startCall {
            await outcome {
                try await clients.transactionQuery(id, sql: sql, parameters: parameters, timeout: timeout)
            }
        }
        lua_pushinteger(L, lua_Integer(ticket))
        return 1
    }

    /// `pg_end(id, commit, timeout)`: the wait gives `{}` or `{error =}`.
    private static let end: mdl_SwiftFunction = { L in
        let L = L!
        let worker = Worker.from(L)
        let id = Int(mdl_tointegerx(L, 1, nil))
        let commit = lua_toboolean(L, 2) != 0
        let timeout = mdl_tonumber(L, 3)
        let clients = worker.postgresClients
        let ticket = worker.startCall {
            do {
                try await clients.end(id, commit: commit, timeout: timeout)
                return .value(.table([:]))
            } catch {
                return failure(error)
            }
        }
        lua_pushinteger(L, lua_Integer(ticket))
        return 1
    }

    /// `pg_abandon(id)`, from a transaction handle's `__gc`: never raises.
    private static let abandon: mdl_SwiftFunction = { L in
        let L = L!
        Worker.from(L).postgresClients.abandon(Int(mdl_tointegerx(L, 1, nil)))
        return 0
    }

    private static func poolOptions(_ L: OpaquePointer, from index: Int32) -> PostgresClients.Options {
        PostgresClients.Options(
            url: LuaStack(L).string(at: index) ?? "", poolSize: Int(mdl_tointegerx(L, index + 1, nil)),
            connectTimeout: mdl_tonumber(L, index + 2))
    }

    private static func parameters(_ L: OpaquePointer, kinds: Int32, values: Int32) -> [PostgresParameter] {
        let letters = Array((LuaStack(L).string(at: kinds) ?? "").utf8)
        var parameters: [PostgresParameter] = []
        parameters.reserveCapacity(letters.count)
        for (offset, letter) in letters.enumerated() {
            lua_rawgeti(L, values, lua_Integer(offset + 1))
            defer { mdl_pop(L, 1) }
            let bytes = { LuaStack(L).withBytes(at: -1) { Array($0) } ?? [] }
            switch letter {
            case UInt8(ascii: "b"): parameters.append(.boolean(lua_toboolean(L, -1) != 0))
            case UInt8(ascii: "i"): parameters.append(.integer(Int64(mdl_tointegerx(L, -1, nil))))
            case UInt8(ascii: "f"): parameters.append(.number(mdl_tonumber(L, -1)))
            case UInt8(ascii: "t"): parameters.append(.text(bytes()))
            case UInt8(ascii: "y"): parameters.append(.bytea(bytes()))
            case UInt8(ascii: "j"): parameters.append(.jsonb(bytes()))
            default: parameters.append(.null)
            }
        }
        return parameters
    }

    /// The payload of a query: its result, or its failure as a table.
    private static func outcome(_ body: () async throws -> PostgresResult) async -> AsyncCall.Payload {
        do {
            let result = try await body()
            return .push { worker, L in push(result, worker: worker, on: L) }
        } catch {
            return failure(error)
        }
    }

    private static func failure(_ error: Error) -> AsyncCall.Payload {
        let failure = PostgresFailure(error)
        var fields: [String: LuaValue] = ["message": LuaValue(failure.message)]
        if let sqlstate = failure.sqlstate { fields["sqlstate"] = LuaValue(sqlstate) }
        if let detail = failure.detail { fields["detail"] = LuaValue(detail) }
        if let hint = failure.hint { fields["hint"] = LuaValue(hint) }
        return .value(["error": .table(fields)])
    }

    private static func push(_ result: PostgresResult, worker: Worker, on L: OpaquePointer) {
        lua_rawgeti(L, mdl_registryindex(), lua_Integer(worker.arrayMetatable))
        let arrayMetatable = lua_gettop(L)
        lua_createtable(L, 0, 3)
        lua_createtable(L, Int32(result.rows.count), 0)
        lua_pushvalue(L, arrayMetatable)
        _ = lua_setmetatable(L, -2)
        for (index, row) in result.rows.enumerated() {
            lua_createtable(L, 0, Int32(row.count))
            for (column, value) in zip(result.columns, row) {
                push(value, arrayMetatable: arrayMetatable, on: L)
                LuaStack(L).setField(column, at: -2)
            }
            lua_rawseti(L, -2, lua_Integer(index + 1))
        }
        LuaStack(L).setField("rows", at: -2)
        LuaStack(L).push(result.command)
        LuaStack(L).setField("command", at: -2)
        lua_pushinteger(L, lua_Integer(result.affected ?? 0))
        LuaStack(L).setField("affected", at: -2)
        mdl_remove(L, arrayMetatable)
    }

    private static func push(_ value: PostgresValue, arrayMetatable: Int32, on L: OpaquePointer) {
        _ = lua_checkstack(L, 8)
        switch value {
        case .null: lua_pushlightuserdata(L, nil)
        case .boolean(let value): lua_pushboolean(L, value ? 1 : 0)
        case .integer(let value): lua_pushinteger(L, lua_Integer(value))
        case .number(let value): lua_pushnumber(L, value)
        case .string(let bytes): bytes.withUnsafeBytes { LuaStack(L).push(bytes: $0) }
        case .json(let bytes):
            bytes.withUnsafeBytes { buffer in
                do {
                    try LuaJSON.decode(L, buffer, arrayMetatable: arrayMetatable)
                } catch {
                    LuaStack(L).push(bytes: buffer)  // not JSON after all: the text as it came
                }
            }
        case .array(let values):
            lua_createtable(L, Int32(values.count), 0)
            lua_pushvalue(L, arrayMetatable)
            _ = lua_setmetatable(L, -2)
            for (index, element) in values.enumerated() {
                push(element, arrayMetatable: arrayMetatable, on: L)
                lua_rawseti(L, -2, lua_Integer(index + 1))
            }
        }
    }
}

extension Worker {
    /// This worker's `microdot.pg` state, made on first use.
    var postgresClients: PostgresClients {
        if let postgres { return postgres }
        let made = PostgresClients(logger: logger)
        postgres = made
        return made
    }
}
