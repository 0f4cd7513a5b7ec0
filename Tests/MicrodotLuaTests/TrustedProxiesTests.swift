import MicrodotLuaTesting
import NIOHTTP1
import XCTest

@testable import MicrodotLua

/// `--trusted-proxy`: `req.client_addr` and `req.scheme` from `Forwarded`
/// (RFC 7239), else `X-Forwarded-For` / `X-Forwarded-Proto`, from trusted
/// peers only.
final class TrustedProxiesTests: XCTestCase {
    private let proxies = TrustedProxies(
        ["127.0.0.1", "10.0.0.0/8", "::1", "fd00::/8"].map { IPNetwork($0)! })

    private struct Case {
        var peer = "127.0.0.1"
        var headers: [(String, String)]
        var host: String
        var port = 0
        var scheme = "http"
    }

    func testEachHeaderFormFromATrustedPeer() {
        let cases: [Case] = [
            // No headers: the peer.
            Case(headers: [], host: "127.0.0.1", port: 4000),
            // X-Forwarded-For, right to left, trusted hops skipped.
            Case(headers: [("X-Forwarded-For", "203.0.113.5")], host: "203.0.113.5"),
            Case(headers: [("X-Forwarded-For", "203.0.113.5, 10.1.2.3")], host: "203.0.113.5"),
            Case(headers: [("X-Forwarded-For", "198.51.100.1, 203.0.113.5, 10.1.2.3")], host: "203.0.113.5"),
            Case(headers: [("X-Forwarded-For", "10.0.0.1,10.0.0.2")], host: "10.0.0.1"),
            Case(headers: [("X-Forwarded-For", "203.0.113.5"), ("X-Forwarded-For", "10.0.0.3")], host: "203.0.113.5"),
            Case(headers: [("X-Forwarded-For", "2001:DB8::1")], host: "2001:db8::1"),
            Case(headers: [("X-Forwarded-For", "[2001:db8::1], fd00::7")], host: "2001:db8::1"),
            // A non-IP hop stops the walk at the last address reached.
            Case(headers: [("X-Forwarded-For", "198.51.100.1, unknown, 10.0.0.2")], host: "10.0.0.2"),
            Case(headers: [("X-Forwarded-For", "203.0.113.5, unknown")], host: "127.0.0.1", port: 4000),
            // Malformed: ignored.
            Case(headers: [("X-Forwarded-For", "203.0.113.5,,10.0.0.1")], host: "127.0.0.1", port: 4000),
            Case(headers: [("X-Forwarded-For", "")], host: "127.0.0.1", port: 4000),
            Case(headers: [("X-Forwarded-For", "203.0.113.5 6")], host: "127.0.0.1", port: 4000),
            // X-Forwarded-Proto: the last value, http or https only.
            Case(
                headers: [("X-Forwarded-For", "203.0.113.5"), ("X-Forwarded-Proto", "https")], host: "203.0.113.5",
                scheme: "https"),
            Case(headers: [("X-Forwarded-Proto", "https, http")], host: "127.0.0.1", port: 4000),
            Case(
                headers: [("X-Forwarded-Proto", "http"), ("X-Forwarded-Proto", "HTTPS")], host: "127.0.0.1",
                port: 4000, scheme: "https"),
            Case(headers: [("X-Forwarded-Proto", "wss")], host: "127.0.0.1", port: 4000),
            // Forwarded.
            Case(headers: [("Forwarded", "for=203.0.113.5;proto=https")], host: "203.0.113.5", scheme: "https"),
            Case(headers: [("Forwarded", #"for="[2001:db8:cafe::17]:4711""#)], host: "2001:db8:cafe::17", port: 4711),
            Case(headers: [("Forwarded", #"for="192.0.2.43:47011";proto=http"#)], host: "192.0.2.43", port: 47011),
            Case(headers: [("Forwarded", "for=192.0.2.60;proto=http;by=203.0.113.43")], host: "192.0.2.60"),
            Case(headers: [("Forwarded", "FOR=192.0.2.60; Proto=HTTPS")], host: "192.0.2.60", scheme: "https"),
            Case(
                headers: [("Forwarded", "for=198.51.100.1;proto=https, for=10.0.0.1;proto=http")],
                host: "198.51.100.1", scheme: "https"),
            Case(
                headers: [("Forwarded", "for=198.51.100.1"), ("Forwarded", "for=203.0.113.9, for=10.0.0.1")],
                host: "203.0.113.9"),
            Case(headers: [("Forwarded", #"for="[2001:db8::2]:_p""#)], host: "2001:db8::2"),
            Case(headers: [("Forwarded", "for=_hidden, for=10.0.0.5;proto=https")], host: "10.0.0.5", scheme: "https"),
            Case(
                headers: [("Forwarded", "for=unknown"), ("X-Forwarded-Proto", "https")], host: "127.0.0.1",
                port: 4000, scheme: "https"),
            Case(headers: [("Forwarded", "proto=https")], host: "127.0.0.1", port: 4000, scheme: "http"),
            Case(headers: [("Forwarded", #"for="2001:db8::1""#)], host: "127.0.0.1", port: 4000),
            Case(headers: [("Forwarded", #"for="203.0.113.5:70000""#)], host: "127.0.0.1", port: 4000),
            Case(headers: [("Forwarded", #"for="203.0.113.5";proto="http\s""#)], host: "203.0.113.5", scheme: "https"),
            // The element's proto first, then X-Forwarded-Proto.
            Case(
                headers: [("Forwarded", "for=203.0.113.5"), ("X-Forwarded-Proto", "https")], host: "203.0.113.5",
                scheme: "https"),
            // Forwarded wins over X-Forwarded-For; a malformed one is ignored.
            Case(
                headers: [("Forwarded", "for=203.0.113.7"), ("X-Forwarded-For", "203.0.113.8")], host: "203.0.113.7"),
            Case(
                headers: [("Forwarded", "for=203.0.113.5:80"), ("X-Forwarded-For", "203.0.113.8")],
                host: "203.0.113.8"),
            Case(
                headers: [("Forwarded", #"for="203.0.113.7"#), ("X-Forwarded-For", "203.0.113.8")],
                host: "203.0.113.8"),
            Case(headers: [("Forwarded", "for=203.0.113.7;for=203.0.113.6")], host: "127.0.0.1", port: 4000),
            Case(headers: [("Forwarded", "for=203.0.113.7 proto=https")], host: "127.0.0.1", port: 4000),
            Case(headers: [("Forwarded", "=203.0.113.7")], host: "127.0.0.1", port: 4000),
            // Trusted peers of every form.
            Case(peer: "::ffff:127.0.0.1", headers: [("X-Forwarded-For", "203.0.113.5")], host: "203.0.113.5"),
            Case(peer: "::1", headers: [("X-Forwarded-For", "203.0.113.5")], host: "203.0.113.5"),
            Case(peer: "10.200.0.9", headers: [("X-Forwarded-For", "203.0.113.5")], host: "203.0.113.5"),
            Case(peer: "fd12::1", headers: [("Forwarded", "for=203.0.113.5")], host: "203.0.113.5"),
            // Other peers: every header ignored.
            Case(
                peer: "192.0.2.9", headers: [("X-Forwarded-For", "203.0.113.5"), ("X-Forwarded-Proto", "https")],
                host: "192.0.2.9", port: 4000),
            Case(
                peer: "192.0.2.9", headers: [("Forwarded", "for=203.0.113.5;proto=https")], host: "192.0.2.9",
                port: 4000),
            Case(peer: "fe80::1", headers: [("X-Forwarded-For", "203.0.113.5")], host: "fe80::1", port: 4000),
        ]
        for test in cases {
            let client = proxies.client(peer: (test.peer, 4000), headers: HTTPHeaders(test.headers))
            XCTAssertEqual(
                client, TrustedProxies.Client(host: test.host, port: test.port, scheme: test.scheme),
                "\(test.peer) \(test.headers)")
        }
    }

    func testWithoutTrustedProxiesTheHeadersAreIgnored() {
        let client = TrustedProxies().client(
            peer: ("127.0.0.1", 4000),
            headers: HTTPHeaders([("Forwarded", "for=203.0.113.5;proto=https"), ("X-Forwarded-Proto", "https")]))
        XCTAssertEqual(client, TrustedProxies.Client(host: "127.0.0.1", port: 4000, scheme: "http"))
    }

    func testNetworks() {
        for (text, shown) in [
            ("10.0.0.0/8", "10.0.0.0/8"), ("127.0.0.1", "127.0.0.1/32"), ("::1", "::1/128"),
            ("FD00::/8", "fd00::/8"), ("0.0.0.0/0", "0.0.0.0/0"), ("::/0", "::/0"),
        ] {
            XCTAssertEqual(IPNetwork(text)?.description, shown, text)
        }
        for bad in [
            "", "abc", "10.0.0.0/33", "::/129", "10.0.0.0/", "/8", "10.0.0.0/8/1", "10.0.0.0/-1", " 10.0.0.1",
            "fe80::1%eth0", "10.0.0", "[::1]", "10.0.0.0/+8", "10.0.0.0/0008",
        ] {
            XCTAssertNil(IPNetwork(bad), bad)
        }
        let network = IPNetwork("192.168.4.0/22")!
        XCTAssertTrue(network.contains(IPAddress("192.168.7.255")!))
        XCTAssertFalse(network.contains(IPAddress("192.168.8.0")!))
        XCTAssertTrue(network.contains(IPAddress("::ffff:192.168.5.1")!))
        XCTAssertFalse(IPNetwork("::/0")!.contains(IPAddress("10.0.0.1")!))
        XCTAssertTrue(IPNetwork("2001:db8::/33")!.contains(IPAddress("2001:db8:7fff::1")!))
        XCTAssertFalse(IPNetwork("2001:db8::/33")!.contains(IPAddress("2001:db8:8000::1")!))
    }

    func testABadNetworkIsAConfigurationError() {
        XCTAssertThrowsError(try Configuration(trustedProxies: ["10.0.0.0/8", "10.0.0.0/99"]).validate()) { error in
            XCTAssertEqual(
                (error as? ConfigurationError)?.message,
                #"Configuration.trustedProxies must be an address or a network such as 10.0.0.0/8, 127.0.0.1 or ::1/128, got "10.0.0.0/99""#
            )
        }
    }

    // MARK: Through the server

    func testTheTestClientTrustsItsConfiguredProxies() async throws {
        let app = MicrodotApp(scriptPath: TestPaths.fixture("ops/client_app.lua"))
        let headers = [("X-Forwarded-For", "203.0.113.50"), ("X-Forwarded-Proto", "https")]
        let trusting = try await MicrodotTestClient(
            app: app, configuration: Configuration(trustedProxies: ["127.0.0.1"]))
        let forwarded = try await trusting.get("/who", headers: headers).body
        XCTAssertEqual(
            try JSONSerialization.jsonObject(with: Data(forwarded)) as? NSDictionary,
            ["host": "203.0.113.50", "port": 0, "scheme": "https"])
        let plain = try await MicrodotTestClient(app: app).get("/who", headers: headers).body
        XCTAssertEqual(
            try JSONSerialization.jsonObject(with: Data(plain)) as? NSDictionary,
            ["host": "127.0.0.1", "port": 0, "scheme": "http"])
    }

    func testClientAddrAndSchemeThroughTheServer() throws {
        let app = MicrodotApp(scriptPath: TestPaths.fixture("ops/client_app.lua"))
        let trusting = try TestServer(app: app, configuration: Configuration(trustedProxies: ["127.0.0.0/8"]))
        let forwarded = ["Forwarded": #"for="[2001:db8::5]:7001";proto=https"#]
        XCTAssertEqual(
            jsonObject(try trusting.request("/who", headers: forwarded)) as NSDictionary,
            ["host": "2001:db8::5", "port": 7001, "scheme": "https"])
        let xff = ["X-Forwarded-For": "198.51.100.7, 127.0.0.9", "X-Forwarded-Proto": "https"]
        XCTAssertEqual(
            jsonObject(try trusting.request("/who", headers: xff)) as NSDictionary,
            ["host": "198.51.100.7", "port": 0, "scheme": "https"])
        let plain = jsonObject(try trusting.request("/who"))
        XCTAssertEqual(plain["host"] as? String, "127.0.0.1")
        XCTAssertNotEqual(plain["port"] as? Int, 0, "the peer's own port")
        XCTAssertEqual(plain["scheme"] as? String, "http")

        // Not a trusted peer: the same headers change nothing.
        let other = try TestServer(app: app, configuration: Configuration(trustedProxies: ["10.0.0.0/8"]))
        for headers in [forwarded, xff] {
            let answer = jsonObject(try other.request("/who", headers: headers))
            XCTAssertEqual(answer["host"] as? String, "127.0.0.1")
            XCTAssertEqual(answer["scheme"] as? String, "http")
        }
    }
}
