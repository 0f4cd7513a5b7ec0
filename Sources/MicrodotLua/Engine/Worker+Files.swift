import CLua

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Worker {
    /// `core.realpath(path)`: the path with symlinks, `.` and `..` resolved,
    /// and "file", "directory" or "other"; nil when it does not exist.
    static let realPath: mdl_SwiftFunction = { L in
        let L = L!
        guard let path = L.string(at: 1) else { return L.raise("realpath expects a path") }
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
        L.push(String(cString: resolved))
        switch info.st_mode & S_IFMT {
        case S_IFREG: L.push("file")
        case S_IFDIR: L.push("directory")
        default: L.push("other")
        }
        return 2
    }
}
