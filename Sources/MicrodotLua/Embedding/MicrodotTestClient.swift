import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// A response as the test client read it off the bytes the server wrote.
public struct TestResponse: Sendable {
    /// The status code, e.g. 200.
    public let status: Int
    /// The reason phrase of the status line, e.g. "OK".
    public let reason: String
    /// The header fields in the order written, names as the app spelled them.
    public let headers: [(name: String, value: String)]
    /// The body bytes, de-chunked for a streamed response; empty for HEAD.
    public let body: [UInt8]

    /// The first value of a header, whatever its case.
    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// Every value of a header (`Set-Cookie` may come several times).
    public func headers(named name: String) -> [String] {
        headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
    }

    /// The body as UTF-8 text (invalid bytes are repaired).
    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// Dispatches requests to an app in process, with no socket: the request
/// runs in a coroutine of a real worker (on its own event loop, so
/// `microdot.sleep` and async Swift functions work) and goes through the
/// same code as a request from the network, down to the bytes of the
/// response, which are parsed back.
public final class MicrodotTestClient: @unchecked Sendable {
    /// `microdot.shared` as the app sees it.
    public let shared: SharedStore
    private let group: MultiThreadedEventLoopGroup
    private let loop: WorkerLoop

    /// Loads `app` in a worker of its own; `configuration` gives the handler
    /// timeout and memory limit. Throws `LuaError` when the app cannot start.
    public init(
        app: MicrodotApp, configuration: Configuration = Configuration(),
        logger: Logger = Logger(label: "microdot-lua")
    ) throws {
        let luaLimits = configuration.luaLimits
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let shared = SharedStore()
        self.shared = shared
        let eventLoop = group.next()
        do {
            let worker = try eventLoop.submit {
                try Worker(app: app, logger: logger, shared: shared, luaLimits: luaLimits)
            }.wait()
            loop = WorkerLoop(eventLoop: eventLoop, worker: worker)
        } catch {
            try? group.syncShutdownGracefully()
            throw error
        }
    }

    deinit {
        try? group.syncShutdownGracefully()
    }

    /// A GET of `path` (with its query string, if any) with extra `headers`.
    /// Throws when the worker fails to produce a response that parses.
    public func get(_ path: String, headers: [(String, String)] = []) async throws -> TestResponse {
        try await request("GET", path, headers: headers)
    }

    /// A POST of `body`, with a `Content-Length` added.
    public func post(_ path: String, headers: [(String, String)] = [], body: [UInt8] = []) async throws -> TestResponse
    {
        try await request("POST", path, headers: headers, body: body)
    }

    /// A JSON body, sent with `Content-Type: application/json`.
    public func post(_ path: String, json: String) async throws -> TestResponse {
        try await request("POST", path, headers: [("Content-Type", "application/json")], body: Array(json.utf8))
    }

    /// A request as a client would send it over HTTP/1.1: a `Host` header is
    /// added when `headers` has none, and `Content-Length` when there is a
    /// body. A body over the app's `Request.max_content_length` gets the 413 a
    /// socket client would get. Throws when the response cannot be parsed.
    public func request(
        _ method: String, _ path: String, headers: [(String, String)] = [],
        body: [UInt8] = []
    ) async throws -> TestResponse {
        let loop = self.loop
        let bytes = try await loop.eventLoop.flatSubmit { () -> EventLoopFuture<[UInt8]> in
            var head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: method), uri: path)
            head.headers.add(contentsOf: headers)
            if !head.headers.contains(name: "host") { head.headers.add(name: "Host", value: "localhost") }
            if !body.isEmpty { head.headers.replaceOrAdd(name: "Content-Length", value: String(body.count)) }
            var request = ReceivedRequest(head: head)
            if body.count > loop.worker.limits.bodyLimit {
                request.bodyTooLarge = true
            } else if !body.isEmpty {
                request.body = ByteBuffer(bytes: body)
            }
            let sink = CollectingSink(eventLoop: loop.eventLoop)
            RequestTask(worker: loop.worker, sink: sink, request: request).start()
            return sink.finished.futureResult
        }.get()
        return try ResponseParser.parse(bytes, method: method)
    }
}

/// A connection that keeps what is written to it.
private final class CollectingSink: ResponseSink {
    let finished: EventLoopPromise<[UInt8]>
    private var output: [UInt8] = []

    init(eventLoop: EventLoop) {
        finished = eventLoop.makePromise()
    }

    var isWritable: Bool { true }
    var allocator: ByteBufferAllocator { ByteBufferAllocator() }
    var clientAddress: (host: String, port: Int) { ("127.0.0.1", 0) }
    var isDraining: Bool { false }

    func write(_ data: IOData, flush: Bool, completion: ((Result<Void, Error>) -> Void)?) {
        switch data {
        case .byteBuffer(let buffer):
            output.append(contentsOf: buffer.readableBytesView)
        case .fileRegion(let region):
            do {
                try region.fileHandle.withUnsafeFileDescriptor { descriptor in
                    var chunk = [UInt8](repeating: 0, count: 65536)
                    var offset = region.readerIndex
                    while offset < region.endIndex {
                        let wanted = min(chunk.count, region.endIndex - offset)
                        let count = chunk.withUnsafeMutableBytes {
                            pread(descriptor, $0.baseAddress, wanted, off_t(offset))
                        }
                        guard count > 0 else { break }
                        output.append(contentsOf: chunk[0..<count])
                        offset += count
                    }
                }
            } catch {
                completion?(.failure(error))
                return
            }
        }
        completion?(.success(()))
    }

    func flush() {}

    func requestFinished(keepAlive: Bool) {
        finished.succeed(output)
    }
}

/// Reads an HTTP/1.1 response: status line, headers, and a body framed by
/// Content-Length, chunked encoding, or the end of the bytes.
enum ResponseParser {
    struct Malformed: Error, CustomStringConvertible {
        let description: String
    }

    static func parse(_ bytes: [UInt8], method: String) throws -> TestResponse {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let headEnd = bytes.indices.first(where: { bytes[$0...].starts(with: separator) }) else {
            throw Malformed(description: "no complete response head in \(bytes.count) bytes")
        }
        let lines = String(decoding: bytes[..<headEnd], as: UTF8.self)
            .split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
        let statusParts = lines[0].split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else {
            throw Malformed(description: "bad status line \(lines[0])")
        }
        var headers: [(name: String, value: String)] = []
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { throw Malformed(description: "bad header line \(line)") }
            headers.append((String(line[..<colon]), String(line[line.index(after: colon)...].drop { $0 == " " })))
        }
        let rest = Array(bytes[(headEnd + 4)...])
        let response = { (body: [UInt8]) in
            TestResponse(
                status: status, reason: statusParts.count > 2 ? String(statusParts[2]) : "",
                headers: headers, body: body)
        }
        let isChunked = headers.contains { $0.name.lowercased() == "transfer-encoding" && $0.value == "chunked" }
        if method == "HEAD" || !isChunked { return response(rest) }
        return response(try dechunk(rest))
    }

    private static func dechunk(_ bytes: [UInt8]) throws -> [UInt8] {
        var body: [UInt8] = []
        var position = 0
        while true {
            guard let lineEnd = bytes[position...].firstIndex(of: 13),
                let size = Int(
                    String(decoding: bytes[position..<lineEnd], as: UTF8.self), radix: 16)
            else {
                throw Malformed(description: "bad chunk size")
            }
            position = lineEnd + 2
            if size == 0 { return body }
            guard position + size <= bytes.count else { throw Malformed(description: "truncated chunk") }
            body.append(contentsOf: bytes[position..<(position + size)])
            position += size + 2
        }
    }
}
