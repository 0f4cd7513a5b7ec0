import CLua
import CLuaRuntime

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `core.body_read`, `core.temp_file` and `core.temp_rename`: how
/// `req.stream` (microdot/request_stream.lua) reads a streamed body and how
/// a streamed multipart body spools its large files (lua-api section 19).
/// A streamed body is named by its ticket, the number `serve` got as the
/// body (`Worker.bodyStreams`); it is valid while its request runs.
enum CoreBody: CoreArea {
    static func register(in core: CoreTable) {
        core.set("body_read", bodyRead)
        core.set("temp_file", tempFile)
        core.set("temp_rename", tempRename)
    }

    private static func stream(_ L: OpaquePointer) -> RequestBodyStream? {
        var isInteger: Int32 = 0
        let ticket = mdl_tointegerx(L, 1, &isInteger)
        guard isInteger != 0 else { return nil }
        return Worker.from(L).bodyStreams[Int(ticket)]
    }

    /// `core.body_read(ticket [, max])`: the next bytes of the body (at most
    /// `max`, a positive integer; without it, what came in one part), or nil
    /// and "wait" (suspend with `SUSPEND, BODY_WAIT`, then read again), "end",
    /// "too_large", "timeout", "unreadable", or "gone" (the request is over).
    private static let bodyRead: mdl_SwiftFunction = { L in
        let L = L!
        var max: Int?
        if lua_type(L, 2) != LUA_TNIL && lua_type(L, 2) != LUA_TNONE {
            var isInteger: Int32 = 0
            let value = mdl_tointegerx(L, 2, &isInteger)
            guard isInteger != 0, value > 0 else { return LuaStack(L).raise("body_read expects a positive integer") }
            max = Int(value)
        }
        guard let stream = stream(L) else {
            lua_pushnil(L)
            LuaStack(L).push("gone")
            return 2
        }
        let empty = stream.read(max: max) { LuaStack(L).push(bytes: $0) }
        guard let empty else { return 1 }
        lua_pushnil(L)
        switch empty {
        case .wait: LuaStack(L).push("wait")
        case .end: LuaStack(L).push("end")
        case .failed(.tooLarge): LuaStack(L).push("too_large")
        case .failed(.timedOut): LuaStack(L).push("timeout")
        case .failed(.unreadable): LuaStack(L).push("unreadable")
        }
        return 2
    }

    /// `core.temp_file(ticket)`: the path of a new empty file (mode 0600, in
    /// `$TMPDIR` or `/tmp`) that is removed when the request ends; nil and
    /// the error when it cannot be made.
    private static let tempFile: mdl_SwiftFunction = { L in
        let L = L!
        guard let stream = stream(L) else { return LuaStack(L).raise("the request is over") }
        switch stream.makeTempFile() {
        case .success(let path):
            LuaStack(L).push(path)
            return 1
        case .failure(let error):
            lua_pushnil(L)
            LuaStack(L).push("cannot make a temp file: \(error)")
            return 2
        }
    }

    /// `core.temp_rename(ticket, temp_path, destination)`: `rename(2)`, after
    /// which the file is no longer removed with the request; true, or nil,
    /// the error and whether the two are on different file systems (then
    /// the caller copies).
    private static let tempRename: mdl_SwiftFunction = { L in
        let L = L!
        guard let path = LuaStack(L).string(at: 2), let destination = LuaStack(L).string(at: 3) else {
            return LuaStack(L).raise("temp_rename expects two paths")
        }
        guard let stream = stream(L) else { return LuaStack(L).raise("the request is over") }
        switch stream.renameTempFile(path, to: destination) {
        case .success:
            lua_pushboolean(L, 1)
            return 1
        case .failure(let error):
            lua_pushnil(L)
            LuaStack(L).push("\(destination): \(error)")
            lua_pushboolean(L, error.code == EXDEV ? 1 : 0)
            return 3
        }
    }
}
