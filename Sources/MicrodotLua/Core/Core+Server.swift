import CLua
import CLuaRuntime
import Logging

/// What the framework asks of the server it runs in: `core.root` (the
/// script's folder), `core.worker_id`, `core.http_date`, `core.log_error`,
/// `core.log`, `core.shutdown`, `core.run_options_problem` and `core.request_id`.
enum CoreServer: CoreArea {
    static func register(in core: CoreTable) {
        LuaStack(core.L).push(core.worker.app.root)
        core.setTop(as: "root")
        lua_pushinteger(core.L, lua_Integer(core.worker.index))
        core.setTop(as: "worker_id")
        core.set("http_date", httpDate)
        core.set("log_error", logError)
        core.set("log", log)
        core.set("shutdown", shutdown)
        core.set("run_options_problem", runOptionsProblem)
        core.set("request_id", requestID)
    }

    /// `core.request_id(header)`: `header` (the client's `X-Request-Id`)
    /// when it is a valid id, else 32 random hex digits (`RequestID`).
    private static let requestID: mdl_SwiftFunction = { L in
        let L = L!
        let given = lua_type(L, 1) == LUA_TSTRING ? LuaStack(L).string(at: 1) : nil
        LuaStack(L).push(given.flatMap { RequestID.isValid($0) ? $0 : nil } ?? RequestID.random())
        return 1
    }

    /// `core.run_options_problem(options)`: nil when `app:run` can take the
    /// table `options` (`Configuration.fromScript`), else why not; app:run
    /// raises it at the script's line.
    private static let runOptionsProblem: mdl_SwiftFunction = { L in
        let L = L!
        do throws(ConfigurationError) {
            _ = try Configuration.fromScript(L, at: 1)
            lua_pushnil(L)
        } catch {
            LuaStack(L).push(error.message)
        }
        return 1
    }

    /// `core.http_date(seconds)`: an IMF-fixdate (RFC 9110 section 5.6.7).
    private static let httpDate: mdl_SwiftFunction = { L in
        let L = L!
        guard lua_type(L, 1) == LUA_TNUMBER else { return LuaStack(L).raise("http_date expects a number") }
        let seconds = mdl_tonumber(L, 1)
        guard HTTPDate.representable.contains(seconds) else {
            return LuaStack(L).raise("http_date expects seconds from year 1 to 9999, got \(seconds)")
        }
        LuaStack(L).push(HTTPDate.format(epochSeconds: Int(seconds)))
        return 1
    }

    /// `core.log_error(message)`: to the server's logger, as one record
    /// (a traceback's lines indented under the message).
    private static let logError: mdl_SwiftFunction = { L in
        let L = L!
        let worker = Worker.from(L)
        worker.observer?.metrics?.server.luaErrors.increment()
        worker.log(.error, Worker.oneRecord(LuaStack(L).string(at: 1) ?? "error"))
        return 0
    }

    /// `core.log(level, message)`: `microdot.log`; level is one of "debug",
    /// "info", "warning", "error".
    private static let log: mdl_SwiftFunction = { L in
        let L = L!
        let level: Logger.Level
        switch LuaStack(L).string(at: 1) {
        case "debug": level = .debug
        case "info": level = .info
        case "warning": level = .warning
        case "error": level = .error
        default: return LuaStack(L).raise("core.log expects a level: debug, info, warning or error")
        }
        Worker.from(L).log(level, Worker.oneRecord(LuaStack(L).string(at: 2) ?? ""), source: LuaStack(L).string(at: 3))
        return 0
    }

    /// `core.shutdown()`: `app:shutdown()`, a graceful stop of the server.
    private static let shutdown: mdl_SwiftFunction = { L in
        Worker.from(L!).onShutdown?()
        return 0
    }
}
