import XCTest

@testable import MicrodotLua

/// `--reload`: edits to the script or a module it requires reach new
/// requests without a restart; a script that no longer loads keeps the old
/// code serving.
final class ReloadTests: XCTestCase {
    private var folder = ""

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "microdot-reload-\(getpid())-\(Int.random(in: 0..<1_000_000))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: folder)
    }

    private func write(_ name: String, _ text: String) throws {
        try text.write(toFile: folder + "/" + name, atomically: true, encoding: .utf8)
    }

    private func script(_ version: String) -> String {
        """
        local microdot = require("microdot")
        local greeting = require("greeting")
        local app = microdot.Microdot()
        app:get("/", function(req) return greeting.text .. " from \(version)" end)
        return app
        """
    }

    /// Asks until the answer is `expected` (the watcher polls twice a second).
    private func eventually(
        _ server: TestServer, _ expected: String, file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let deadline = Date().addingTimeInterval(10)
        var last = ""
        while Date() < deadline {
            last = try server.request("/").text
            if last == expected { return }
            Thread.sleep(forTimeInterval: 0.1)
        }
        XCTFail("still \(last), expected \(expected)", file: file, line: line)
    }

    func testEditsAreServedWithoutARestart() throws {
        try write("greeting.lua", "return {text = 'hello'}")
        try write("app.lua", script("v1"))
        let server = try TestServer(
            app: MicrodotApp(scriptPath: folder + "/app.lua"), configuration: Configuration(workers: 2, reload: true))
        XCTAssertEqual(try server.request("/").text, "hello from v1")

        try write("app.lua", script("v2"))
        try eventually(server, "hello from v2")

        try write("greeting.lua", "return {text = 'bonjour'}")
        try eventually(server, "bonjour from v2")

        try write("app.lua", "local broken = \n")
        let deadline = Date().addingTimeInterval(10)
        while !server.log.text.contains("reload failed"), Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        XCTAssertTrue(server.log.text.contains("reload failed"), server.log.text)
        XCTAssertTrue(server.log.text.contains("app.lua:2:"), "the error names file and line: \(server.log.text)")
        XCTAssertEqual(try server.request("/").text, "bonjour from v2", "the old code keeps serving")

        try write("app.lua", script("v3"))
        try eventually(server, "bonjour from v3")
    }

    func testWithoutReloadEditsWaitForARestart() throws {
        try write("greeting.lua", "return {text = 'hello'}")
        try write("app.lua", script("v1"))
        let server = try TestServer(app: MicrodotApp(scriptPath: folder + "/app.lua"))
        try write("app.lua", script("v2"))
        Thread.sleep(forTimeInterval: 1.2)
        XCTAssertEqual(try server.request("/").text, "hello from v1")
    }
}
