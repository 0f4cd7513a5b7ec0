import XCTest

@testable import MicrodotLua

/// `--tls-cert`/`--tls-key`: HTTPS with a self-signed certificate made by
/// `openssl` for each test, spoken to by curl and Python's `ssl`; plain HTTP
/// refused; bad files exit 1 naming them; `check` checks the pair.
final class TLSTests: XCTestCase {
    private var folder = ""
    private var certificate: String { folder + "/cert.pem" }
    private var key: String { folder + "/key.pem" }
    private var otherKey: String { folder + "/other-key.pem" }
    private var file: String { folder + "/big.bin" }
    private let app = TestPaths.fixture("tls/app.lua")

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "microdot-tls-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try command(
            "/usr/bin/openssl",
            ["req", "-x509"] + ec + [
                "-keyout", key, "-out", certificate, "-days", "2", "-subj", "/CN=localhost",
                "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
            ])
        try command(
            "/usr/bin/openssl",
            ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", otherKey])
        // More than one 256 KiB part of send_file, not a multiple of it.
        let bytes = (0..<(600 * 1024 + 17)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 9) }
        try Data(bytes).write(to: URL(fileURLWithPath: file))
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// Runs a tool to its end; throws when it fails. Returns its output.
    @discardableResult
    private func command(_ path: String, _ arguments: [String]) throws -> String {
        let result = try run(path, arguments)
        guard result.status == 0 else {
            throw NSError(
                domain: "TLSTests", code: Int(result.status),
                userInfo: [
                    NSLocalizedDescriptionKey: "\(path) \(arguments) failed: \(result.output)"
                ])
        }
        return result.output
    }

    private func run(_ path: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }

    /// The server on a free port with the test's files; stopped by the caller.
    private func serve(_ extra: [String] = []) throws -> (process: Process, port: Int) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestPaths.packageRoot + "/.build/debug/microdot-lua")
        process.arguments = [app, "--port", "0", "--tls-cert", certificate, "--tls-key", key] + extra
        process.environment = ProcessInfo.processInfo.environment.merging(["MICRODOT_TLS_FILE": file]) { $1 }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        var output = ""
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline, process.isRunning {
            if let line = output.split(separator: "\n").first(where: { $0.hasPrefix("Serving on https://") }) {
                return (process, Int(line.split(separator: ":").last!)!)
            }
            output += String(decoding: pipe.fileHandleForReading.availableData, as: UTF8.self)
        }
        process.terminate()
        process.waitUntilExit()
        throw NSError(domain: "TLSTests", code: 1, userInfo: [NSLocalizedDescriptionKey: "did not serve: \(output)"])
    }

    private func curl(_ port: Int, _ arguments: [String]) throws -> String {
        try command(
            "/usr/bin/curl",
            ["-sS", "--max-time", "10", "--cacert", certificate]
                + arguments.map {
                    $0.replacingOccurrences(of: "BASE", with: "https://localhost:\(port)")
                })
    }

    func testCurlGetPostStreamAndFileOverHTTPS() throws {
        let (server, port) = try serve()
        defer {
            server.terminate()
            server.waitUntilExit()
        }
        XCTAssertEqual(try curl(port, ["BASE/scheme"]), "https")
        XCTAssertEqual(try curl(port, ["--data-binary", "hello over tls", "BASE/echo"]), "hello over tls")
        XCTAssertEqual(try curl(port, ["BASE/stream"]), (1...5).map { "part \($0)\n" }.joined())
        let copy = folder + "/copy.bin"
        try curl(port, ["-o", copy, "BASE/file"])
        XCTAssertEqual(
            try Data(contentsOf: URL(fileURLWithPath: copy)), try Data(contentsOf: URL(fileURLWithPath: file)))
        // ALPN offers http/1.1 only: curl asking for h2 gets HTTP/1.1.
        XCTAssertEqual(try curl(port, ["--http2", "-o", "/dev/null", "-w", "%{http_version}", "BASE/scheme"]), "1.1")
        // Keep-alive over one TLS connection: three requests, one handshake.
        let three = try curl(port, ["-w", "%{num_connects}\n", "BASE/scheme", "BASE/scheme", "BASE/scheme"])
        XCTAssertEqual(three, "https1\nhttps0\nhttps0\n")
    }

    func testPythonSSLNegotiatesTLS12AndHTTP11AndPlainHTTPIsDropped() throws {
        let (server, port) = try serve()
        defer {
            server.terminate()
            server.waitUntilExit()
        }
        let script = """
            import socket, ssl, sys
            port, cafile = int(sys.argv[1]), sys.argv[2]
            def fetch(maximum):
                ctx = ssl.create_default_context(cafile=cafile)
                ctx.set_alpn_protocols(["h2", "http/1.1"])
                if maximum: ctx.maximum_version = maximum
                with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
                    with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                        s.sendall(b"GET /scheme HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n")
                        data = b""
                        while True:
                            chunk = s.recv(65536)
                            if not chunk: break
                            data += chunk
                        print(s.version(), s.selected_alpn_protocol(), data.split(b"\\r\\n")[0].decode(),
                              data.endswith(b"https"))
            fetch(None)
            fetch(ssl.TLSVersion.TLSv1_2)
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                s.sendall(b"GET /scheme HTTP/1.1\\r\\nHost: localhost\\r\\n\\r\\n")
                data = b""
                try:
                    while True:
                        chunk = s.recv(65536)
                        if not chunk: break
                        data += chunk
                except (ConnectionResetError, socket.timeout) as e:
                    data += repr(e).encode()
                print("plain", b"HTTP/1.1" in data)
            fetch(None)
            """
        let output = try command("/usr/bin/python3", ["-c", script, "\(port)", certificate])
        XCTAssertEqual(
            output,
            """
            TLSv1.3 http/1.1 HTTP/1.1 200 OK True
            TLSv1.2 http/1.1 HTTP/1.1 200 OK True
            plain False
            TLSv1.3 http/1.1 HTTP/1.1 200 OK True

            """)
    }

    func testBadFilesExitOneNamingThem() throws {
        let missing = folder + "/missing.pem"
        var result = try run(
            TestPaths.packageRoot + "/.build/debug/microdot-lua", [app, "--tls-cert", missing, "--tls-key", key])
        XCTAssertEqual(result.status, 1, result.output)
        XCTAssertTrue(
            result.output.contains(
                "microdot-lua: --tls-cert: cannot load the TLS certificate \(missing): No such file or directory"),
            result.output)

        result = try run(
            TestPaths.packageRoot + "/.build/debug/microdot-lua", [app, "--tls-cert", app, "--tls-key", key])
        XCTAssertEqual(result.status, 1, result.output)
        XCTAssertTrue(
            result.output.contains("cannot load the TLS certificate \(app): not a PEM certificate"), result.output)

        result = try run(
            TestPaths.packageRoot + "/.build/debug/microdot-lua", [app, "--tls-cert", certificate, "--tls-key", folder])
        XCTAssertEqual(result.status, 1, result.output)
        XCTAssertTrue(
            result.output.contains("cannot load the TLS private key \(folder): Is a directory"), result.output)

        result = try run(
            TestPaths.packageRoot + "/.build/debug/microdot-lua",
            [app, "--tls-cert", certificate, "--tls-key", otherKey])
        XCTAssertEqual(result.status, 1, result.output)
        XCTAssertTrue(
            result.output.contains(
                "microdot-lua: --tls-key: the TLS private key \(otherKey) does not match the certificate \(certificate)"
            ),
            result.output)

        // One without the other is a usage error (64), before anything loads.
        result = try run(TestPaths.packageRoot + "/.build/debug/microdot-lua", [app, "--tls-cert", certificate])
        XCTAssertEqual(result.status, 64, result.output)
        XCTAssertTrue(result.output.contains("--tls-cert needs --tls-key"), result.output)
    }

    func testCheckReadsAndMatchesThePair() throws {
        let binary = TestPaths.packageRoot + "/.build/debug/microdot-lua"
        var result = try run(binary, ["check", app, "--tls-cert", certificate, "--tls-key", key])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(result.output.contains("app.lua: ok (4 routes)"), result.output)

        result = try run(binary, ["check", app, "--tls-cert", certificate, "--tls-key", otherKey])
        XCTAssertEqual(result.status, 1, result.output)
        XCTAssertTrue(
            result.output.contains("--tls-key: the TLS private key \(otherKey) does not match the certificate"),
            result.output)

        let missing = folder + "/nope.pem"
        result = try run(binary, ["check", app, "--tls-cert", missing, "--tls-key", key])
        XCTAssertEqual(result.status, 1, result.output)
        XCTAssertTrue(
            result.output.contains("--tls-cert: cannot load the TLS certificate \(missing): No such file or directory"),
            result.output)

        result = try run(binary, ["check", app, "--tls-key", key])
        XCTAssertEqual(result.status, 1, result.output)
        XCTAssertTrue(result.output.contains("--tls-key: needs --tls-cert"), result.output)
    }

    func testConfigurationFieldsAreValidatedAndLoaded() throws {
        XCTAssertThrowsError(try Configuration(tlsCertificatePath: certificate).validate()) { error in
            XCTAssertEqual(
                "\(error)",
                "Configuration.tlsCertificatePath needs Configuration.tlsKeyPath (the certificate's private key, a PEM file)"
            )
        }
        XCTAssertThrowsError(try Configuration(tlsCertificatePath: "", tlsKeyPath: key).validate())
        XCTAssertNoThrow(try Configuration(tlsCertificatePath: certificate, tlsKeyPath: key).validate())
        let configuration = Configuration(port: 0, tlsCertificatePath: certificate, tlsKeyPath: otherKey)
        XCTAssertThrowsError(
            try MicrodotServer.start(app: MicrodotApp(scriptPath: app), configuration: configuration)
        ) { error in
            XCTAssertEqual((error as? TLSError)?.path, otherKey, "\(error)")
        }
    }
}
