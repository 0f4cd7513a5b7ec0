import MicrodotLuaTesting
import XCTest

@testable import MicrodotLua

/// Issue 12: Debian's Lua 5.4 libraries and LuaRocks' trees are found by
/// `require` without any set-up.
final class LuaLibrariesTests: XCTestCase {
    func testDebiansCjsonAndLpegLoad() async throws {
        let client = try await MicrodotTestClient(
            app: MicrodotApp(
                source: """
                    local cjson = require("cjson")
                    local lpeg = require("lpeg")
                    local microdot = require("microdot")
                    local app = microdot.Microdot()
                    local word = lpeg.C(lpeg.R("az") ^ 1)
                    app:get("/", function(req)
                      return cjson.encode({word = word:match(req.args.q or "")})
                    end)
                    return app
                    """))
        let response = try await client.get("/?q=abc123")
        XCTAssertEqual(response.text, #"{"word":"abc"}"#)
    }

    func testTheLuaRocksTreesComeAfterTheScriptsFolder() {
        let path = Worker.searchPath(
            first: ["/app/?.lua"], then: "/usr/local/share/lua/5.4/?.lua;./?.lua", cpath: false, home: "/home/u")
        XCTAssertEqual(
            path,
            "/app/?.lua;/home/u/.luarocks/share/lua/5.4/?.lua;/home/u/.luarocks/share/lua/5.4/?/init.lua;"
                + "/usr/local/share/lua/5.4/?/init.lua;/usr/local/share/lua/5.4/?.lua;./?.lua")
        let cpath = Worker.searchPath(first: [], then: "./?.so", cpath: true, home: nil)
        XCTAssertEqual(cpath, "/usr/local/lib/lua/5.4/?.so;./?.so")
    }

    func testARockInstalledWithLocalIsFoundThroughHOME() throws {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("rocks-\(UUID().uuidString)")
        let tree = home.appendingPathComponent(".luarocks/share/lua/5.4")
        try FileManager.default.createDirectory(at: tree, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: home) }
        try "return { answer = 42 }".write(
            to: tree.appendingPathComponent("myrock.lua"), atomically: true, encoding: .utf8)
        let script = home.appendingPathComponent("test.lua")
        try """
        assert(require("myrock").answer == 42)
        print("found the rock")
        """.write(to: script, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestPaths.packageRoot + "/.build/debug/microdot-lua")
        process.arguments = ["--test", script.path]
        process.environment = ["HOME": home.path, "PATH": "/usr/bin:/bin"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, output)
        XCTAssertTrue(output.contains("found the rock"), output)
    }
}
