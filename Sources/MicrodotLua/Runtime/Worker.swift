import CLua
import CLuaRuntime
import Logging
import NIOCore

#if canImport(Glibc)
    import Glibc
#endif

/// One event loop's Lua state with the app loaded in it. Only that loop's
/// thread touches it, so Lua needs no lock.
///
/// `@unchecked Sendable` for that reason: a worker is built on its loop (the
/// first one before the loops run) and only its reference crosses threads,
/// to be handed to the loop.
final class Worker: @unchecked Sendable {
    let lua: LuaState
    let app: MicrodotApp
    /// At debug level when the server runs with `debug` (`--debug`).
    var logger: Logger
    /// `microdot.shared`, the same store in every worker of a server.
    let shared: SharedStore
    /// This worker's `microdot.pubsub` subscriptions, on the server's backend.
    let pubsub: WorkerPubSub
    /// Timers, `on_start` runs and spawned coroutines.
    private(set) lazy var background = BackgroundRuns(worker: self)
    /// The task whose Lua is running (nil: the script's top level).
    var runningTask: RequestTask?
    /// Tasks waiting for a key to be woken (`Worker.wake`), by key.
    var waiters: [Int: RequestTask] = [:]
    /// `microdot.worker_id`: 1 for the first worker, and so on.
    let index: Int
    var eventLoop: EventLoop! {
        // Serving now: the script's top-level Redis connections go.
        didSet { redisClients?.closeBlockingPools() }
    }
    var debug = false
    /// `--reload`: templates are compiled again when their file changes.
    var reload = false
    var onShutdown: (() -> Void)?
    /// `--trusted-proxy`: whose forwarding headers give `req.client_addr`.
    var trustedProxies = TrustedProxies()
    /// `--access-log` and `--metrics`: what each request's record goes to.
    var observer: WorkerObserver?
    /// Under TLS a file cannot go out by `sendfile`: it is read into buffers.
    var sendsFilesThroughBuffers = false
    /// `--gzip`: compress eligible responses (`GzipRules`).
    var gzip = false
    /// Requests this worker has started; the last one's number is its id.
    var requestCount = 0
    /// The id of the request whose Lua is running (0: none, the script's
    /// top level): the `request` metadata of what Lua logs.
    var currentRequest = 0
    /// The files `send_file` opened, kept for the next request (nginx's `open_file_cache`).
    let openFiles = OpenFileCache()

    /// Logs `message` with the worker's id and, while a request's Lua runs
    /// (or given `request`), the request's (`worker` and `request`
    /// metadata, and `request_id` with `--access-log`); `source` names
    /// where it came from (a Lua file:line).
    func log(_ level: Logger.Level, _ message: String, source: String? = nil, request: Int? = nil) {
        guard logger.logLevel <= level else { return }
        var metadata: Logger.Metadata = ["worker": "\(index)"]
        let request = request ?? currentRequest
        if request != 0 { metadata["request"] = "\(index)-\(request)" }
        // While logging, the request's id too (the access log's last field).
        if let task = runningTask, task.id == request, let id = task.observed?.requestID {
            metadata["request_id"] = "\(id)"
        }
        if let source { metadata["lua"] = "\(source)" }
        logger.log(level: level, "\(message)", metadata: metadata)
    }

    /// A multi-line message (an error and its traceback) as one record:
    /// the lines after the first indented, so a log reader keeps them
    /// together.
    static func oneRecord(_ message: String) -> String {
        guard message.contains("\n") else { return message }
        return message.split(separator: "\n", omittingEmptySubsequences: false)
            .enumerated()
            .map { $0.offset == 0 ? String($0.element) : "    " + $0.element.trimmingPrefix("\t") }
            .joined(separator: "\n")
    }

    /// The Swift functions of the app's modules, by the number Lua holds.
    var hostFunctions: [LuaModule.Body] = []
    /// microdot.redis's endpoints, pools and subscriptions, made on first use.
    private var redisClients: RedisClients?
    var redis: RedisClients {
        if let redisClients { return redisClients }
        let clients = RedisClients()
        redisClients = clients
        return clients
    }
    /// What to do when a request ends, by request id (a Redis subscription
    /// it made closes).
    var requestEndActions: [Int: [() -> Void]] = [:]

    func requestEnded(_ id: Int) {
        guard !requestEndActions.isEmpty, let actions = requestEndActions.removeValue(forKey: id) else { return }
        for action in actions { action() }
    }

    /// Async host calls started and not yet taken by the request waiting.
    var asyncCalls: [Int: AsyncCall] = [:]
    /// The streamed bodies of running requests, by request id (the ticket
    /// Lua reads them with: `core.body_read`).
    var bodyStreams: [Int: RequestBodyStream] = [:]
    var nextTicket = 1
    /// `microdot.pg`'s pools, made by the first query (Core+Postgres.swift).
    var postgres: PostgresClients?

    deinit {
        // A worker replaced by --reload closes its pools once its last
        // request is done and nothing holds it.
        postgres?.close()
    }
    /// The Lua test client's WebSockets still open, by the number Lua holds.
    var testWebSockets: [Int: InProcessWebSocket] = [:]
    /// Coroutines that finished a request normally, kept for the next ones:
    /// reusing one costs far less than creating a thread and its reference.
    private var idleThreads: [(thread: OpaquePointer, reference: Int32)] = []
    private static let maxIdleThreads = 256

    func acquireThread() -> (OpaquePointer, Int32) {
        if let idle = idleThreads.popLast() { return idle }
        let thread = lua_newthread(lua.L)!
        return (thread, lua.reference())
    }

    /// A coroutine that returned can start a new function; one that failed,
    /// or is suspended for good, is dropped.
    func releaseThread(_ thread: OpaquePointer, reference: Int32) {
        lua_settop(thread, 0)
        if lua_status(thread) == LUA_OK && idleThreads.count < Self.maxIdleThreads {
            idleThreads.append((thread, reference))
        } else {
            lua.release(reference)
        }
    }

    /// The buffer the last response head was encoded into. The socket has
    /// usually taken its bytes by the next response, so clearing it reuses
    /// its memory instead of allocating a new one.
    private var spareBuffer: ByteBuffer?

    func responseBuffer(_ allocator: ByteBufferAllocator) -> ByteBuffer {
        guard var buffer = spareBuffer else { return allocator.buffer(capacity: 512) }
        spareBuffer = nil
        buffer.clear()
        return buffer
    }

    /// Keeps `buffer` for the next response, unless it grew large.
    func recycle(_ buffer: ByteBuffer) {
        if buffer.capacity <= 16 * 1024 { spareBuffer = buffer }
    }

    /// What json.encode writes into, kept between calls for its memory.
    let jsonBuffer = JSONBuffer()

    /// The JSON array metatable, for arrays coming from Swift.
    var arrayMetatable: Int32 = LUA_NOREF

    let regexes = RegexTable()
    var dateHeader = DateHeaderCache()

    private(set) var serveFunction: Int32 = LUA_NOREF
    /// `microdot.background.run`, the entry of background runs.
    private(set) var backgroundFunction: Int32 = LUA_NOREF
    private(set) var appObject: Int32 = LUA_NOREF
    /// What the script asked for with `app:run{...}`.
    private(set) var runOptions = Configuration()
    /// `microdot.Request`'s limits, read once the script has run.
    private(set) var limits = RequestLimits()

    /// How far one state may go: bytes it may allocate, seconds Lua may run
    /// without yielding (0: no limit).
    struct LuaLimits {
        var memoryLimit = 0
        var handlerTimeout = 0.0
    }

    /// What the script is loaded for: an app to serve, or a script (a test
    /// using `microdot.test_client`) that is just run.
    enum LoadMode {
        case serve
        case runScript
    }

    init(
        app: MicrodotApp, logger: Logger, shared: SharedStore = SharedStore(), index: Int = 1,
        luaLimits: LuaLimits = LuaLimits(), mode: LoadMode = .serve, pubsub: PubSubHub = PubSubHub()
    ) throws {
        self.app = app
        self.logger = logger
        self.shared = shared
        self.index = index
        self.pubsub = WorkerPubSub(hub: pubsub)
        lua = LuaState(memoryLimit: luaLimits.memoryLimit, budget: luaLimits.handlerTimeout)
        lua.worker = Unmanaged.passUnretained(self).toOpaque()
        self.pubsub.worker = self
        try loadFramework()
        try registerModules()
        switch mode {
        case .serve:
            try loadScript()
        case .runScript:
            try lua.run(source: try app.loadSource(), chunkName: app.chunkName)
            lua_settop(lua.L, 0)
        }
    }

    static func from(_ L: OpaquePointer) -> Worker {
        Unmanaged<Worker>.fromOpaque(mdl_getworker(L)).takeUnretainedValue()
    }

    // MARK: Loading

    /// The framework's modules: the name `require` takes, the file in
    /// Lua/microdot/, and its source. Each file's chunk name is its path, so
    /// errors name "microdot/router.lua:12". A new module (an extension such
    /// as microdot.session) is a file there, an `.embedInCode` entry in
    /// Package.swift and a row here.
    private static let frameworkModules: [(name: String, file: String, source: [UInt8])] = [
        ("microdot", "init", PackageResources.init_lua),
        ("microdot.application", "application", PackageResources.application_lua),
        ("microdot.cookies", "cookies", PackageResources.cookies_lua),
        ("microdot.coroutine", "coroutine", PackageResources.coroutine_lua),
        ("microdot.cors", "cors", PackageResources.cors_lua),
        ("microdot.csrf", "csrf", PackageResources.csrf_lua),
        ("microdot.datastructures", "datastructures", PackageResources.datastructures_lua),
        ("microdot.dispatch", "dispatch", PackageResources.dispatch_lua),
        ("microdot.errors", "errors", PackageResources.errors_lua),
        ("microdot.log", "log", PackageResources.log_lua),
        ("microdot.helpers", "helpers", PackageResources.helpers_lua),
        ("microdot.multipart", "multipart", PackageResources.multipart_lua),
        ("microdot.request", "request", PackageResources.request_lua),
        ("microdot.request_stream", "request_stream", PackageResources.request_stream_lua),
        ("microdot.response", "response", PackageResources.response_lua),
        ("microdot.router", "router", PackageResources.router_lua),
        ("microdot.server", "server", PackageResources.server_lua),
        ("microdot.sse", "sse", PackageResources.sse_lua),
        ("microdot.static", "static", PackageResources.static_lua),
        ("microdot.template", "template", PackageResources.template_lua),
        ("microdot.test_client", "test_client", PackageResources.test_client_lua),
        ("microdot.session", "session", PackageResources.session_lua),
        ("microdot.auth", "auth", PackageResources.auth_lua),
        ("microdot.background", "background", PackageResources.background_lua),
        ("microdot.pubsub", "pubsub", PackageResources.pubsub_lua),
        ("microdot.login", "login", PackageResources.login_lua),
        ("microdot.inspect", "inspect", PackageResources.inspect_lua),
        ("microdot.http", "http", PackageResources.http_lua),
        ("microdot.pg", "pg", PackageResources.pg_lua),
        ("microdot.websocket", "websocket", PackageResources.websocket_lua),
        ("microdot.redis", "redis", PackageResources.redis_lua),
        ("microdot.shared_redis", "shared_redis", PackageResources.shared_redis_lua),
    ]

    /// Makes the framework's modules loadable with `require` (from
    /// `package.preload`; `microdot.core` is the host's table, already in
    /// `package.loaded`, as OpenResty does with `ngx`), loads `microdot`,
    /// and keeps `microdot.server`'s entry point.
    private func loadFramework() throws {
        let L = lua.L
        _ = mdl_getglobal(L, "package")
        let package = lua_gettop(L)
        lua_getfield(L, package, "loaded")
        pushCore()
        LuaStack(L).setField("microdot.core", at: -2)
        mdl_pop(L, 1)
        lua_getfield(L, package, "preload")
        for module in Self.frameworkModules {
            let chunkName = "@microdot/\(module.file).lua"
            let loaded = module.source.withUnsafeBufferPointer { buffer in
                buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) {
                    mdl_loadbuffer(L, $0, buffer.count, chunkName)
                }
            }
            guard loaded == LUA_OK else {
                defer { lua_settop(L, package - 1) }
                throw LuaError(message: LuaStack(L).string(at: -1) ?? "cannot load \(chunkName)")
            }
            LuaStack(L).setField(module.name, at: -2)
        }
        mdl_pop(L, 1)
        // The script's folder comes first on package.path, then the Lua 5.4
        // LuaRocks trees (the user's, then the system's), then Lua's own.
        lua_getfield(L, package, "path")
        let path = LuaStack(L).string(at: -1) ?? ""
        mdl_pop(L, 1)
        LuaStack(L).push(
            Self.searchPath(first: ["\(app.root)/?.lua", "\(app.root)/?/init.lua"], then: path, cpath: false))
        LuaStack(L).setField("path", at: package)
        lua_getfield(L, package, "cpath")
        let cpath = LuaStack(L).string(at: -1) ?? ""
        mdl_pop(L, 1)
        LuaStack(L).push(Self.searchPath(first: [], then: cpath, cpath: true))
        LuaStack(L).setField("cpath", at: package)
        mdl_pop(L, 1)
        try lua.run(
            source: Array(
                #"require("microdot"); return require("microdot.server").serve, require("microdot.background").run"#
                    .utf8),
            chunkName: "=microdot", results: 2)
        backgroundFunction = lua.reference()
        serveFunction = lua.reference()
    }

    /// Where `luarocks --lua-version 5.4 install` puts modules: with
    /// `--local` under ~/.luarocks, else under /usr/local.
    static func luaRocksTrees(home: String?) -> [String] {
        var trees: [String] = []
        if let home, !home.isEmpty { trees.append("\(home)/.luarocks") }
        trees.append("/usr/local")
        return trees
    }

    /// `first`, then the LuaRocks trees' templates that `existing` lacks,
    /// then `existing`: a `package.path` (or, with `cpath`, `package.cpath`).
    static func searchPath(
        first: [String], then existing: String, cpath: Bool,
        home: String? = getenv("HOME").map { String(cString: $0) }
    ) -> String {
        let present = Set(existing.split(separator: ";").map(String.init))
        var templates = first
        for tree in luaRocksTrees(home: home) {
            let candidates =
                cpath
                ? ["\(tree)/lib/lua/5.4/?.so"]
                : ["\(tree)/share/lua/5.4/?.lua", "\(tree)/share/lua/5.4/?/init.lua"]
            templates += candidates.filter { !present.contains($0) }
        }
        return (templates + [existing]).filter { !$0.isEmpty }.joined(separator: ";")
    }

    private func loadScript() throws {
        let L = lua.L
        try lua.run(source: try app.loadSource(), chunkName: app.chunkName, results: 1)
        let microdot = loadedModule()
        defer { lua_settop(L, 0) }
        let returned = lua_gettop(L) - 1
        let run = lua_gettop(L) + 1
        if LuaStack(L).rawField("_run", of: microdot) == LUA_TTABLE {
            LuaStack(L).rawField("options", of: run)
            do throws(ConfigurationError) {
                runOptions = try Configuration.fromScript(L, at: lua_gettop(L))
            } catch {
                // app:run checked them: the table changed after the call.
                throw LuaError(message: "\(app.chunkName.dropFirst()): app:run: \(error.message)")
            }
            mdl_pop(L, 1)
        }
        if isApp(at: returned) {
            lua_pushvalue(L, returned)
        } else if lua_type(L, run) == LUA_TTABLE {
            LuaStack(L).rawField("app", of: run)
        } else {
            throw LuaError(
                message: "\(app.chunkName.dropFirst()): the script neither returns an app nor calls app:run()")
        }
        appObject = lua.reference()

        limits = scriptLimits()
    }

    /// `microdot.Request`'s limits as the script has set them now.
    func scriptLimits() -> RequestLimits {
        let L = lua.L
        let microdot = loadedModule()
        defer { mdl_pop(L, 2) }
        LuaStack(L).rawField("Request", of: microdot)
        let request = lua_gettop(L)
        let defaults = RequestLimits()
        func limit(_ name: String) -> Int? {
            lua_getfield(L, request, name)
            defer { mdl_pop(L, 1) }
            var isInteger: Int32 = 0
            let value = mdl_tointegerx(L, -1, &isInteger)
            return isInteger != 0 && value >= 0 ? Int(value) : nil
        }
        return RequestLimits(
            maxContentLength: limit("max_content_length") ?? defaults.maxContentLength,
            maxBodyLength: limit("max_body_length") ?? defaults.maxBodyLength,
            maxReadline: limit("max_readline") ?? defaults.maxReadline)
    }

    /// Pushes package.loaded.microdot; returns its index.
    private func loadedModule() -> Int32 {
        let L = lua.L
        _ = mdl_getglobal(L, "package")
        lua_getfield(L, -1, "loaded")
        lua_getfield(L, -1, "microdot")
        mdl_remove(L, -2)
        mdl_remove(L, -2)
        return lua_gettop(L)
    }

    private func isApp(at index: Int32) -> Bool {
        let L = lua.L
        guard lua_type(L, index) == LUA_TTABLE, lua_getmetatable(L, index) != 0 else { return false }
        defer { mdl_pop(L, 1) }
        return LuaStack(L).rawField("__name", of: -1) == LUA_TSTRING
            && {
                defer { mdl_pop(L, 1) }
                return LuaStack(L).string(at: -1) == "microdot.Microdot"
            }()
    }

    // MARK: The core table the framework is built on

    /// The areas of `core`, one file each under Core/.
    private static let coreAreas: [CoreArea.Type] = [
        CoreServer.self, CoreCoroutines.self, CoreJSON.self, CoreRegex.self, CoreFiles.self, CoreShared.self,
        CoreModules.self, CoreTestRequest.self, CoreWire.self, CoreCrypto.self, CoreTemplates.self, CoreClock.self,
        CoreHTTP.self, CorePostgres.self, CoreWebSocket.self, CoreTestWebSocket.self, CoreBody.self,
        CoreRedis.self, CoreBackground.self, CorePubSub.self, CoreSharedRedis.self,
    ]

    /// Pushes the `core` table, the framework's only way into the host.
    private func pushCore() {
        lua_createtable(lua.L, 0, 24)
        let core = CoreTable(worker: self, L: lua.L, index: lua_gettop(lua.L))
        for area in Self.coreAreas { area.register(in: core) }
    }
}
