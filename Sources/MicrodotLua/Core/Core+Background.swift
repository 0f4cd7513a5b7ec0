import CLua
import CLuaRuntime

/// `core.new_id`, `core.timer_start`, `core.timer_cancel` and
/// `core.spawn_cancel`, behind `microdot.timer`, `on_start` and `spawn`
/// (background.lua): thin functions over the worker's `BackgroundRuns`.
enum CoreBackground: CoreArea {
    static func register(in core: CoreTable) {
        core.set("new_id", newID)
        core.set("timer_start", timerStart)
        core.set("timer_cancel", timerCancel)
        core.set("spawn_cancel", spawnCancel)
    }

    /// `core.new_id()`: a number no other job, subscription or async call
    /// of this worker has.
    private static let newID: mdl_SwiftFunction = { L in
        let worker = Worker.from(L!)
        lua_pushinteger(L, lua_Integer(worker.nextTicket))
        worker.nextTicket += 1
        return 1
    }

    /// `core.timer_start(id, delay, interval_or_nil, label)`: nil, or the
    /// error to raise (no serving worker, too many pending timers).
    private static let timerStart: mdl_SwiftFunction = { L in
        let L = L!
        let interval = lua_type(L, 3) == LUA_TNUMBER ? mdl_tonumber(L, 3) : nil
        let worker = Worker.from(L)
        let problem = worker.background.startTimer(
            Int(mdl_tointegerx(L, 1, nil)), delay: mdl_tonumber(L, 2), interval: interval,
            label: LuaStack(L).string(at: 4) ?? "timer")
        if let problem {
            LuaStack(L).push(problem)
        } else {
            lua_pushnil(L)
        }
        return 1
    }

    /// `core.timer_cancel(id)`: whether a run was left to stop.
    private static let timerCancel: mdl_SwiftFunction = { L in
        let L = L!
        let worker = Worker.from(L)
        let stopped = worker.background.cancelTimer(Int(mdl_tointegerx(L, 1, nil)), from: worker.runningTask)
        lua_pushboolean(L, stopped ? 1 : 0)
        return 1
    }

    /// `core.spawn_cancel(id)`: whether the spawned coroutine was running.
    private static let spawnCancel: mdl_SwiftFunction = { L in
        let L = L!
        let worker = Worker.from(L)
        let stopped = worker.background.cancelSpawned(Int(mdl_tointegerx(L, 1, nil)), from: worker.runningTask)
        lua_pushboolean(L, stopped ? 1 : 0)
        return 1
    }
}
