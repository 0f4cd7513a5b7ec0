import CLua
import CLuaRuntime

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension Worker {
    /// `microdot.inspect.routes(app)` for the loaded app: a Lua array of
    /// `{methods, pattern, handler}` tables.
    func inspectRoutes() throws -> LuaValue {
        let L = lua.L
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        lua_rawgeti(L, mdl_registryindex(), lua_Integer(appObject))
        try lua.run(
            source: Array(#"return require("microdot.inspect").routes(...)"#.utf8), chunkName: "=microdot.inspect",
            arguments: 1, results: 1)
        return try LuaStack(L).luaValue(at: -1)
    }

    /// The template folder as the script set it (`Template.initialize`,
    /// default "templates") and its path.
    func templateFolder() throws -> (given: String, path: String) {
        let L = lua.L
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        try lua.run(
            source: Array(#"return require("microdot.template").folder()"#.utf8), chunkName: "=microdot.template",
            results: 2)
        return (LuaStack(L).string(at: -2) ?? "templates", LuaStack(L).string(at: -1) ?? "templates")
    }

    /// Why template `name` (a path under the folder) does not compile, or nil.
    func templateProblem(_ name: String) throws -> String? {
        let L = lua.L
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        LuaStack(L).push(name)
        try lua.run(
            source: Array(#"return require("microdot.template").check(...)"#.utf8), chunkName: "=microdot.template",
            arguments: 1, results: 1)
        return LuaStack(L).string(at: -1)
    }

    /// The files under `folder`, as paths relative to it, sorted; names
    /// starting with a dot are skipped, as `app:static` hides them.
    static func files(under folder: String, prefix: String = "", depth: Int = 0) -> [String] {
        guard depth < 32, let directory = opendir(folder) else { return [] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name.hasPrefix(".") { continue }
            names.append(name)
        }
        var files: [String] = []
        for name in names.sorted() {
            let path = folder + "/" + name
            var info = stat()
            guard stat(path, &info) == 0 else { continue }
            if info.st_mode & S_IFMT == S_IFDIR {
                files += Self.files(under: path, prefix: prefix + name + "/", depth: depth + 1)
            } else if info.st_mode & S_IFMT == S_IFREG {
                files.append(prefix + name)
            }
        }
        return files
    }
}
