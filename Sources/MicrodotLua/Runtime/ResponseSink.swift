import NIOCore

/// Where a request task sends its response; the connection handler.
protocol ResponseSink: AnyObject {
    var isWritable: Bool { get }
    var allocator: ByteBufferAllocator { get }
    var clientAddress: (host: String, port: Int) { get }
    /// The server is shutting down: the connection closes after this response.
    var isDraining: Bool { get }
    func write(_ data: IOData, flush: Bool, completion: ((Result<Void, Error>) -> Void)?)
    /// Writes `region` of `file` and flushes, keeping `file` open until it
    /// is written (the socket sends it with `sendfile`).
    func writeFile(_ file: OpenFile, _ region: FileRegion)
    /// Sends what was written without a flush.
    func flush()
    func requestFinished(keepAlive: Bool)
    /// An error stopped the response after its head was sent (the error is
    /// logged already; `requestFinished` follows).
    func responseFailed(_ message: String)
    /// Sends the 101 answer with `accept` as `Sec-WebSocket-Accept` and
    /// leaves HTTP for RFC 6455 frames; `maxMessageLength` 0 is no limit.
    /// Nil when the connection cannot be upgraded.
    func upgradeToWebSocket(accept: String, maxMessageLength: Int, session: WebSocketSession) -> WebSocketTransport?
}

extension ResponseSink {
    func writeFile(_ file: OpenFile, _ region: FileRegion) {
        write(.fileRegion(region), flush: true) { _ in withExtendedLifetime(file) {} }
    }

    /// A socket has nothing to add: its client sees the connection close.
    func responseFailed(_ message: String) {}

    func upgradeToWebSocket(accept: String, maxMessageLength: Int, session: WebSocketSession) -> WebSocketTransport? {
        nil
    }
}
