#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A Lua app: a script file or a string of Lua source that builds a
/// `microdot.Microdot()` app and either returns it or calls `app:run{}`.
public struct MicrodotApp: Sendable {
    enum Source: Sendable {
        case file(String)
        case string(String)
    }

    let source: Source
    /// The chunk name in error messages and tracebacks.
    let chunkName: String
    /// The script's folder: on `package.path`, and where relative
    /// `send_file` paths resolve.
    public let root: String
    /// Swift functions the script can `require`.
    public var modules: [LuaModule]

    /// An app loaded from a script; `root` is the script's folder.
    public init(scriptPath: String, modules: [LuaModule] = []) {
        self.modules = modules
        let absolute = scriptPath.hasPrefix("/") ? scriptPath : MicrodotApp.currentDirectory() + "/" + scriptPath
        source = .file(absolute)
        chunkName = "@" + scriptPath
        let slash = absolute.lastIndex(of: "/")!
        root = slash == absolute.startIndex ? "/" : String(absolute[..<slash])
    }

    /// An app from Lua source; `name` appears in error messages, and `root`
    /// (the working directory by default) plays the script folder's part.
    public init(source: String, name: String = "app.lua", root: String? = nil, modules: [LuaModule] = []) {
        self.modules = modules
        self.source = .string(source)
        chunkName = "=" + name
        self.root = root ?? MicrodotApp.currentDirectory()
    }

    static func currentDirectory() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return "." }
        return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// The script's absolute path, when the app is a file.
    var scriptFile: String? {
        if case .file(let path) = source { return path }
        return nil
    }

    func loadSource() throws -> [UInt8] {
        switch source {
        case .string(let text):
            return Array(text.utf8)
        case .file(let path):
            guard let file = fopen(path, "rb") else {
                throw LuaError(message: "cannot open \(chunkName.dropFirst()): \(String(cString: strerror(errno)))")
            }
            defer { fclose(file) }
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = fread(&chunk, 1, chunk.count, file)
                if count == 0 { break }
                bytes.append(contentsOf: chunk[0..<count])
            }
            return bytes
        }
    }
}
