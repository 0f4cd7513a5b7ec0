import CLua
import CLuaRuntime

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `core.file_mtime` and `core.reloading`, for `microdot.template`: a
/// template compiled once is compiled again, under `--reload`, when its
/// file changed.
enum CoreTemplates: CoreArea {
    static func register(in core: CoreTable) {
        core.set("file_mtime", fileModificationTime)
        core.set("reloading", reloading)
    }

    /// `core.file_mtime(path)`: the file's modification time in seconds
    /// (with its fraction), or nil when it cannot be read.
    private static let fileModificationTime: mdl_SwiftFunction = { L in
        let L = L!
        guard let path = LuaStack(L).string(at: 1) else { return LuaStack(L).raise("file_mtime expects a path") }
        var info = stat()
        guard !path.utf8.contains(0), stat(path, &info) == 0 else {
            lua_pushnil(L)
            return 1
        }
        #if canImport(Darwin)
            let time = info.st_mtimespec
        #else
            let time = info.st_mtim
        #endif
        lua_pushnumber(L, lua_Number(time.tv_sec) + lua_Number(time.tv_nsec) / 1e9)
        return 1
    }

    /// `core.reloading()`: whether the server runs with `--reload`.
    private static let reloading: mdl_SwiftFunction = { L in
        lua_pushboolean(L!, Worker.from(L!).reload ? 1 : 0)
        return 1
    }
}
