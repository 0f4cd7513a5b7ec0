// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "microdot-lua",
    products: [
        .library(name: "MicrodotLua", targets: ["MicrodotLua"]),
        // The in-process test client, for an embedding program's tests.
        .library(name: "MicrodotLuaTesting", targets: ["MicrodotLuaTesting"]),
        .executable(name: "microdot-lua", targets: ["microdot-lua"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/adam-fowler/compress-nio", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // The system's Lua 5.4, with Lua's API macros as functions Swift can call.
        .systemLibrary(
            name: "CLua",
            pkgConfig: "lua5.4",
            providers: [.apt(["liblua5.4-dev"])]
        ),
        // The C side of a worker's Lua state: memory limit, time budget, the
        // bridge for Swift functions called from Lua.
        .target(name: "CLuaRuntime", dependencies: ["CLua"]),
        // RE2 (Debian's libre2-dev) behind a C interface: matching in time
        // linear in the path, for <re:...> segments and the like.
        .target(name: "CRE2", linkerSettings: [.linkedLibrary("re2")]),
        // Debian's hiredis: its reader parses RESP replies for microdot.redis
        // (the socket is NIO's); CRedis turns the replies into Lua values.
        .systemLibrary(
            name: "CHiredis",
            pkgConfig: "hiredis",
            providers: [.apt(["libhiredis-dev"])]
        ),
        .target(name: "CRedis", dependencies: ["CLua", "CHiredis"]),
        .target(
            name: "MicrodotLua",
            dependencies: [
                "CLua",
                "CLuaRuntime",
                "CRE2",
                "CRedis",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            resources: [
                .embedInCode("Lua/microdot/init.lua"),
                .embedInCode("Lua/microdot/background.lua"),
                .embedInCode("Lua/microdot/pubsub.lua"),
                .embedInCode("Lua/microdot/shared_redis.lua"),
                .embedInCode("Lua/microdot/application.lua"),
                .embedInCode("Lua/microdot/cookies.lua"),
                .embedInCode("Lua/microdot/coroutine.lua"),
                .embedInCode("Lua/microdot/cors.lua"),
                .embedInCode("Lua/microdot/csrf.lua"),
                .embedInCode("Lua/microdot/datastructures.lua"),
                .embedInCode("Lua/microdot/dispatch.lua"),
                .embedInCode("Lua/microdot/errors.lua"),
                .embedInCode("Lua/microdot/log.lua"),
                .embedInCode("Lua/microdot/helpers.lua"),
                .embedInCode("Lua/microdot/multipart.lua"),
                .embedInCode("Lua/microdot/request.lua"),
                .embedInCode("Lua/microdot/request_stream.lua"),
                .embedInCode("Lua/microdot/response.lua"),
                .embedInCode("Lua/microdot/router.lua"),
                .embedInCode("Lua/microdot/server.lua"),
                .embedInCode("Lua/microdot/sse.lua"),
                .embedInCode("Lua/microdot/static.lua"),
                .embedInCode("Lua/microdot/template.lua"),
                .embedInCode("Lua/microdot/test_client.lua"),
                .embedInCode("Lua/microdot/session.lua"),
                .embedInCode("Lua/microdot/auth.lua"),
                .embedInCode("Lua/microdot/login.lua"),
                .embedInCode("Lua/microdot/inspect.lua"),
                .embedInCode("Lua/microdot/http.lua"),
                .embedInCode("Lua/microdot/pg.lua"),
                .embedInCode("Lua/microdot/websocket.lua"),
                .embedInCode("Lua/microdot/redis.lua"),
            ]
        ),
        .target(
            name: "MicrodotLuaTesting",
            dependencies: [
                "MicrodotLua",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "microdot-lua",
            dependencies: [
                "MicrodotLua",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // scripts/bench's baseline: hello world on NIO's stock HTTP/1 handlers.
        .executableTarget(
            name: "nio-baseline",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "MicrodotLuaTests",
            dependencies: [
                "MicrodotLua",
                "MicrodotLuaTesting",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "CompressNIO", package: "compress-nio"),
            ],
            exclude: ["Fixtures"]
        ),
    ],
    swiftLanguageModes: [.v6],
    cxxLanguageStandard: .cxx17
)
