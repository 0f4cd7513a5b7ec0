import CLua
import CLuaRuntime

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `core.realpath` and `core.file_size`, for `send_file` and `app:static`.
enum CoreFiles: CoreArea {
    static func register(in core: CoreTable) {
        core.set("realpath", realPath)
        core.set("file_size", fileSize)
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

    /// `core.file_size(path)`: the size of a regular file that can be read,
    /// or nil and why not (as `io.open` words it; "Not a regular file" for a
    /// FIFO, a socket or a device).
    private static let fileSize: mdl_SwiftFunction = { L in
        let L = L!
        guard let path = LuaStack(L).string(at: 1) else { return LuaStack(L).raise("file_size expects a path") }
        var info = stat()
        let reason: String
        if path.utf8.contains(0) {
            reason = "Invalid argument"
        } else if stat(path, &info) != 0 {
            reason = String(cString: strerror(errno))
        } else if info.st_mode & S_IFMT == S_IFDIR {
            reason = "Is a directory"
        } else if info.st_mode & S_IFMT != S_IFREG {
            // A FIFO or a device: opening or reading it could block the loop.
            reason = "Not a regular file"
        } else if access(path, R_OK) != 0 {
            reason = String(cString: strerror(errno))
        } else {
            lua_pushinteger(L, lua_Integer(info.st_size))
            return 1
        }
        lua_pushnil(L)
        LuaStack(L).push(reason)
        return 2
    }
}
