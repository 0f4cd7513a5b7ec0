// swift-tools-version:6.0
// A Swift program that serves Lua routes and gives them an async Swift
// function, running the server in a swift-service-lifecycle ServiceGroup:
// `swift run embed-example` in this folder, then
// `curl localhost:8080/stock/apple`.
import PackageDescription

let package = Package(
    name: "embed-example",
    dependencies: [
        // Named, because a path dependency is otherwise known by its folder name.
        .package(name: "microdot-lua", path: "../.."),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .executableTarget(
            name: "embed-example",
            dependencies: [
                .product(name: "MicrodotLua", package: "microdot-lua"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        )
    ]
)
