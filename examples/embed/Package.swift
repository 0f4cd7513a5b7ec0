// swift-tools-version:6.0
// A Swift program that serves Lua routes and gives them an async Swift
// function: `swift run embed-example` in this folder, then
// `curl localhost:8080/stock/apple`.
import PackageDescription

let package = Package(
    name: "embed-example",
    dependencies: [
        // Named, because a path dependency is otherwise known by its folder name.
        .package(name: "microdot-lua", path: "../..")
    ],
    targets: [
        .executableTarget(
            name: "embed-example",
            dependencies: [.product(name: "MicrodotLua", package: "microdot-lua")]
        )
    ]
)
