import NIOCore

/// The Lua test client's WebSocket (`client:websocket`): the request runs
/// through the server's own `RequestTask`, as from a socket. This is its
/// sink (what it writes when it answers without upgrading) and, after the
/// 101, its transport: what the handler sends waits in `events` for the
/// client's receive, and what the client sends goes to the handler's
/// `WebSocketSession`. The protocol is the socket's, frames aside: text is
/// checked as UTF-8 (1007), a close is answered with its code, the end of
/// the handler sends a close (1011 after an error).
final class InProcessWebSocket: ResponseSink, WebSocketTransport {
    /// What the server sent the client.
    enum Event {
        case message([UInt8], binary: Bool)
        /// A close frame: its code (nil for an empty one) and reason.
        case close(code: Int?, reason: [UInt8])
    }

    private(set) var output: [UInt8] = []
    private(set) var session: WebSocketSession?
    private var events: [Event] = []
    private var nextEvent = 0
    /// The request ended without an upgrade (its response is `output`).
    private(set) var answered = false
    private(set) var handlerDone = false
    private var closeSent = false
    private(set) var clientClosed = false
    /// Called whenever something changed that a waiting client may want.
    var onChange: (() -> Void)?

    var upgraded: Bool { session != nil }

    // MARK: ResponseSink

    var isWritable: Bool { true }
    var allocator: ByteBufferAllocator { ByteBufferAllocator() }
    var clientAddress: (host: String, port: Int) { ("127.0.0.1", 0) }
    var isDraining: Bool { false }

    func write(_ data: IOData, flush: Bool, completion: ((Result<Void, Error>) -> Void)?) {
        if case .byteBuffer(let buffer) = data { output.append(contentsOf: buffer.readableBytesView) }
        completion?(.success(()))
    }

    func flush() {}

    func requestFinished(keepAlive: Bool) {
        answered = true
        onChange?()
    }

    func upgradeToWebSocket(accept: String, maxMessageLength: Int, session: WebSocketSession) -> WebSocketTransport? {
        output.append(
            contentsOf: Array(
                ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Accept: \(accept)\r\n\r\n").utf8))
        self.session = session
        onChange?()
        return self
    }

    // MARK: WebSocketTransport

    func send(_ data: ByteBuffer, binary: Bool) {
        guard !closeSent else { return }
        events.append(.message(Array(data.readableBytesView), binary: binary))
        onChange?()
    }

    func sendClose(code: Int?, reason: [UInt8]) {
        guard !closeSent else { return }
        closeSent = true
        events.append(.close(code: code, reason: reason))
        onChange?()
    }

    func resumeReading() {}

    func closeNow() {
        clientClosed = true
        session?.closed(code: 1006, reason: "connection lost", byClient: true)
        onChange?()
    }

    func handlerFinished(failed: Bool) {
        sendClose(code: failed ? 1011 : nil, reason: [])
        handlerDone = true
        onChange?()
    }

    // MARK: The client's side

    /// The next thing the server sent, if any.
    func takeEvent() -> Event? {
        guard nextEvent < events.count else { return nil }
        defer { nextEvent += 1 }
        return events[nextEvent]
    }

    /// Whether the client would wait for the server now.
    var hasEvent: Bool { nextEvent < events.count }

    /// The client sends a message; false once the connection is closed.
    func clientSend(_ bytes: [UInt8], binary: Bool) -> Bool {
        guard let session, !clientClosed, !closeSent else { return false }
        if !binary && String(validating: bytes, as: UTF8.self) == nil {
            sendClose(code: 1007, reason: [])
            session.closed(code: 1007, reason: "a text message is not valid UTF-8", byClient: true)
            return true
        }
        var buffer = allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        session.received(buffer, binary: binary)
        return true
    }

    /// The client closes: answered at once with its code when the server
    /// had not closed; the handler's waits end with WebSocketError.
    func clientClose(code: Int?, reason: [UInt8]) {
        guard let session, !clientClosed else { return }
        clientClosed = true
        sendClose(code: code, reason: [])
        session.closed(code: code ?? 1005, reason: String(decoding: reason, as: UTF8.self), byClient: true)
    }
}
