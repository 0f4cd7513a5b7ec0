import AsyncHTTPClient
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// `microdot.http`'s client side: one `HTTPClient` (swift-server's
/// async-http-client) for the whole process, made on first use on NIO's
/// shared event loops (never a worker's: a script's top level blocks its
/// worker's loop while it waits) and shut down with the last server.
enum OutboundHTTP {
    /// The `User-Agent` sent unless the request sets one.
    static let userAgent = "microdot-lua/\(MicrodotVersion.string)"
    /// How many redirects `follow_redirects` follows, as the spec says.
    static let maxRedirects = 5

    private static let state = NIOLockedValueBox<(client: HTTPClient?, servers: Int)>((nil, 0))

    /// The process's client, made now if there is none.
    static var client: HTTPClient {
        state.withLockedValue { state in
            if let client = state.client { return client }
            var configuration = HTTPClient.Configuration()
            configuration.redirectConfiguration = .disallow  // followed here, per request
            configuration.decompression = .disabled
            // Fail a request when its connection cannot be made, rather than
            // retry until the timeout: `connection refused` comes at once.
            configuration.connectionPool.retryConnectionEstablishment = false
            // A worker's requests may all wait on one host at once (the soft
            // limit queues the rest, 8 by default).
            configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 1024
            let client = HTTPClient(
                eventLoopGroupProvider: .shared(MultiThreadedEventLoopGroup.singleton), configuration: configuration)
            state.client = client
            return client
        }
    }

    /// A server started: the client stays until every server has stopped.
    static func serverStarted() {
        state.withLockedValue { $0.servers += 1 }
    }

    /// A server stopped; the last one shuts the client down (a later call
    /// makes a new one).
    static func serverStopped() {
        let client = state.withLockedValue { state -> HTTPClient? in
            state.servers = max(0, state.servers - 1)
            guard state.servers == 0 else { return nil }
            defer { state.client = nil }
            return state.client
        }
        try? client?.syncShutdown()
    }

    /// One `http.request` as the Lua side checked it.
    struct Request: Sendable {
        var method: String
        var url: String
        var headers: [(String, String)]
        var body: [UInt8]?
        /// Seconds for the whole exchange, redirects and body included.
        var timeout: Double
        var maxBody: Int
        var followRedirects: Bool
    }

    /// A response of any status.
    struct Response: Sendable {
        var status: Int
        var headers: [(String, String)]
        var body: [UInt8]
    }

    /// What went wrong; `description` is `http.request`'s `err`.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Runs `request`, following redirects when asked.
    static func perform(_ request: Request) async throws -> Response {
        let deadline = NIODeadline.now() + .nanoseconds(Int64(min(request.timeout, 1e9) * 1e9))
        var method = request.method
        var url = request.url
        var body = request.body
        var redirects = 0
        while true {
            let response = try await exchange(request, method: method, url: url, body: body, deadline: deadline)
            guard request.followRedirects, [301, 302, 303, 307, 308].contains(response.status),
                let location = response.headers.first(where: { $0.0.lowercased() == "location" })?.1,
                let next = URL(string: location, relativeTo: URL(string: url))?.absoluteString
            else { return response }
            redirects += 1
            if redirects > maxRedirects {
                throw Failure(description: "more than \(maxRedirects) redirects: \(hostPort(url))")
            }
            // RFC 9110 15.4: 303 turns into GET, and so do 301/302 after a
            // POST, as every client does; 307 and 308 repeat the request.
            if response.status == 303 || (response.status <= 302 && method == "POST") {
                if method != "HEAD" { method = "GET" }
                body = nil
            }
            url = next
        }
    }

    private static func exchange(
        _ original: Request, method: String, url: String, body: [UInt8]?, deadline: NIODeadline
    ) async throws -> Response {
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(),
            scheme == "http" || scheme == "https", let host = parsed.host, !host.isEmpty
        else { throw Failure(description: "invalid URL: \(url)") }
        var request = HTTPClientRequest(url: url)
        request.method = HTTPMethod(rawValue: method)
        for (name, value) in original.headers where !(body == nil && name.lowercased() == "content-type") {
            request.headers.add(name: name, value: value)
        }
        if !request.headers.contains(name: "user-agent") { request.headers.add(name: "User-Agent", value: userAgent) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let place = hostPort(url)
        do {
            let response = try await client.execute(request, deadline: deadline)
            var bytes: [UInt8] = []
            for try await part in response.body {
                guard bytes.count + part.readableBytes <= original.maxBody else {
                    throw Failure(description: "response body over \(original.maxBody) bytes: \(place)")
                }
                bytes.append(contentsOf: part.readableBytesView)
            }
            return Response(
                status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) }, body: bytes)
        } catch let failure as Failure {
            throw failure
        } catch {
            throw Failure(description: describe(error, place: place, timeout: original.timeout))
        }
    }

    /// `host:port` of `url`, the port filled in from the scheme.
    static func hostPort(_ url: String) -> String {
        guard let parsed = URL(string: url), let host = parsed.host else { return url }
        let port = parsed.port ?? (parsed.scheme?.lowercased() == "https" ? 443 : 80)
        return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    private static func describe(_ error: Error, place: String, timeout: Double) -> String {
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout, .writeTimeout, .connectTimeout:
                return "timeout after \(Seconds(timeout)) s: \(place)"
            case .remoteConnectionClosed:
                return "connection closed by the server: \(place)"
            default:
                return "\(error): \(place)"
            }
        }
        if connectionErrno(of: error) == ECONNREFUSED { return "connection refused: \(place)" }
        if error is CancellationError { return "request cancelled: \(place)" }
        if error is NIOConnectionError || error is IOError || error is SocketAddressError {
            return "cannot connect (\(error)): \(place)"
        }
        return "\(error): \(place)"
    }
}

/// Seconds as a person writes them: `5`, `0.5`.
struct Seconds: CustomStringConvertible {
    let value: Double
    init(_ value: Double) { self.value = value }
    var description: String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }
}
