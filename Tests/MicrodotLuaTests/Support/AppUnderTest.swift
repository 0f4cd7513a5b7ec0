import MicrodotLuaTesting
import XCTest

@testable import MicrodotLua

/// How a test reaches the app it defines.
enum AppMode: String, CaseIterable {
    /// Through `MicrodotTestClient`: the real request task, no socket.
    case inProcess = "in process"
    /// Through a `TestServer` on a loopback socket.
    case live
}

/// An app under test with one interface whichever way it is reached, so a
/// test's assertions are written once and hold in process and over a socket.
final class AppClient {
    /// What the app logged (tracebacks, the debug request log).
    let log = LogCapture()
    private let transport: Transport

    private enum Transport {
        case inProcess(MicrodotTestClient)
        case live(TestServer)
    }

    init(app: MicrodotApp, mode: AppMode, debug: Bool = false) async throws {
        switch mode {
        case .inProcess:
            transport = .inProcess(
                try await MicrodotTestClient(
                    app: app, configuration: Configuration(debug: debug ? true : nil), logger: log.logger))
        case .live:
            transport = .live(try TestServer(app: app, debug: debug, log: log))
        }
    }

    /// One request; over a socket, on a new connection.
    func request(
        _ target: String, method: String = "GET", headers: [String: String] = [:], body: [UInt8] = []
    ) async throws -> RawResponse {
        switch transport {
        case .live(let server):
            return try server.request(target, method: method, headers: headers, body: body)
        case .inProcess(let client):
            let response = try await client.request(
                method, target, headers: headers.map { ($0.key, $0.value) }, body: body)
            return RawResponse(
                version: "HTTP/1.1", status: response.status, reason: response.reason, headers: response.headers,
                body: response.body)
        }
    }

    func get(_ target: String, headers: [String: String] = [:]) async throws -> RawResponse {
        try await request(target, headers: headers)
    }

    func post(_ target: String, headers: [String: String] = [:], body: String) async throws -> RawResponse {
        try await request(target, method: "POST", headers: headers, body: Array(body.utf8))
    }

    /// A connection of its own, for tests of the wire itself; live mode only.
    func connection() throws -> RawHTTPClient {
        guard case .live(let server) = transport else { throw RawHTTPClient.ClientError("no socket in process") }
        return try server.client()
    }
}

/// A test case whose failures say which mode of `withApp` they happened in.
class AppTestCase: XCTestCase {
    private var currentMode: AppMode?

    /// Loads `lua` as an app (its folder is Fixtures, for `send_file` and
    /// modules) and runs `body` against it once per mode.
    func withApp(
        _ lua: String, modes: [AppMode] = AppMode.allCases, debug: Bool = false,
        _ body: (AppClient) async throws -> Void
    ) async throws {
        for mode in modes {
            currentMode = mode
            defer { currentMode = nil }
            let app = MicrodotApp(source: lua, name: "app.lua", root: TestPaths.fixture(""))
            do {
                try await body(try await AppClient(app: app, mode: mode, debug: debug))
            } catch {
                throw ModeError(mode: mode, error: error)
            }
        }
    }

    override func recordFailure(
        withDescription description: String, inFile filePath: String, atLine lineNumber: Int, expected: Bool
    ) {
        let prefix = currentMode.map { "[\($0.rawValue)] " } ?? ""
        super.recordFailure(
            withDescription: prefix + description, inFile: filePath, atLine: lineNumber, expected: expected)
    }
}

/// An error thrown while testing in one mode, so the report names the mode.
struct ModeError: Error, CustomStringConvertible {
    let mode: AppMode
    let error: Error
    var description: String { "[\(mode.rawValue)] \(error)" }
}

/// The body of a response as a JSON object, or a failure.
func jsonObject(_ response: RawResponse, file: StaticString = #filePath, line: UInt = #line) -> [String: Any] {
    guard let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any] else {
        XCTFail("not a JSON object: \(response.text)", file: file, line: line)
        return [:]
    }
    return object
}
