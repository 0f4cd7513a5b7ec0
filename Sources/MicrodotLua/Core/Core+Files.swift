import CLua
import CLuaRuntime

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `core.realpath` and `core.open_file`, for `send_file` and `app:static`.
enum CoreFiles: CoreArea {
    static func register(in core: CoreTable) {
        core.set("realpath", realPath)
        core.set("open_file", openFile)
    }

    /// `core.realpath(path)`: the path with symlinks, `.` and `..` resolved,
    /// and "file", "directory" or "other"; nil when it does not exist.
    private static let realPath: mdl_SwiftFunction = { L in
        let L = L!
        guard let path = LuaStack(L).string(at: 1) else { return LuaStack(L).raise("realpath expects a path") }
        guard !path.utf8.contains(0), let resolved = realpath(path, nil) else {
            lua_pushnil(L)
            return 1
        }
        defer { free(resolved) }
        var info = stat()
        guard stat(resolved, &info) == 0 else {
            lua_pushnil(L)
            return 1
        }
        LuaStack(L).push(String(cString: resolved))
        switch info.st_mode & S_IFMT {
        case S_IFREG: LuaStack(L).push("file")
        case S_IFDIR: LuaStack(L).push("directory")
        default: LuaStack(L).push("other")
        }
        return 2
    }

    /// `core.open_file(path)`: the size and mtime (whole seconds) of the
    /// regular file at `path`, opened (or found unchanged in the worker's
    /// cache) for the response to send; or nil and why not, as `io.open`
    /// words it ("Not a regular file" for a FIFO, a socket or a device).
    private static let openFile: mdl_SwiftFunction = { L in
        let L = L!
        let result = LuaStack(L).withBytes(at: 1) { Worker.from(L).openFiles.open($0) }
        switch result {
        case nil:
            return LuaStack(L).raise("open_file expects a path")
        case .success(let file):
            lua_pushinteger(L, lua_Integer(file.size))
            lua_pushinteger(L, lua_Integer(file.modified))
            return 2
        case .failure(let failure):
            lua_pushnil(L)
            LuaStack(L).push(failure.reason)
            return 2
        }
    }
}
