import NIOCore

/// Where a `WebSocketSession` sends its frames: the socket
/// (`WebSocketHandler`) or the in-process test client
/// (`InProcessWebSocket`). The transport runs the protocol (pings, the
/// closing handshake, errors) and tells the session what the client sent
/// and when the connection closed.
protocol WebSocketTransport: AnyObject {
    var isWritable: Bool { get }
    var allocator: ByteBufferAllocator { get }
    /// Sends one message, a text (valid UTF-8, checked by Lua) or binary frame.
    func send(_ data: ByteBuffer, binary: Bool)
    /// Sends a close frame (RFC 6455 section 5.5.1): an empty payload
    /// without a code, as Microdot sends; nothing when one went already.
    func sendClose(code: Int?, reason: [UInt8])
    /// The session took queued messages: reading may go on.
    func resumeReading()
    /// Closes the connection now (a close that was not answered in time).
    func closeNow()
    /// The request's handler is done: a close frame goes out unless one did
    /// (1011 when `failed`), and the connection closes once the client
    /// answers it or after `WebSocketSession.closeWait` seconds.
    func handlerFinished(failed: Bool)
}
