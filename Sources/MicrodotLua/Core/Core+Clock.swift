import CLua
import CLuaRuntime

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `core.monotonic()`: seconds on a clock that only goes forward, for
/// measuring how long a wait took (`microdot.sse` tells a real sleep from
/// one that ends at once, as in a test script).
enum CoreClock: CoreArea {
    static func register(in core: CoreTable) {
        core.set("monotonic", monotonic)
    }

    private static let monotonic: mdl_SwiftFunction = { L in
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        lua_pushnumber(L!, lua_Number(now.tv_sec) + lua_Number(now.tv_nsec) / 1e9)
        return 1
    }
}
