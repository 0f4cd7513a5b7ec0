import NIOCore
import NIOWebSocket

/// A connection after its upgrade to a WebSocket (RFC 6455). Whole
/// messages (NIO's aggregator joins fragments) go to the request's
/// `WebSocketSession`; pings are answered with the same payload and pongs
/// dropped (section 5.5); the closing handshake, protocol errors, the write
/// timeout (the one HTTP timeout that still applies) and shutdown (1001)
/// are handled here.
final class WebSocketHandler: ChannelDuplexHandler, WebSocketTransport, LoopConnection {
    typealias InboundIn = WebSocketFrame
    typealias OutboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let loop: WorkerLoop
    private let session: WebSocketSession
    private var context: ChannelHandlerContext?
    private var deadlines: ConnectionDeadlines
    private var closeSent = false
    private var closeReceived = false
    private var readHeld = false
    private var closeTimer: Scheduled<Void>?

    init(loop: WorkerLoop, session: WebSocketSession) {
        self.loop = loop
        self.session = session
        deadlines = ConnectionDeadlines(timeouts: loop.timeouts)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        loop.add(self)
        loop.worker.observer?.metrics?.server.webSockets.increment()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        closeTimer?.cancel()
        loop.remove(self)
        loop.worker.observer?.metrics?.server.webSockets.decrement()
        self.context = nil
    }

    /// The pipeline is ready: read what the client sends.
    func start() {
        context?.read()
        if loop.isDraining { drain() }
    }

    // MARK: WebSocketTransport

    /// A closed connection takes anything (and drops it): a send never waits on it.
    var isWritable: Bool { context?.channel.isWritable ?? true }
    var allocator: ByteBufferAllocator { context?.channel.allocator ?? ByteBufferAllocator() }

    func send(_ data: ByteBuffer, binary: Bool) {
        guard let context, !closeSent else { return }
        let frame = WebSocketFrame(fin: true, opcode: binary ? .binary : .text, data: data)
        context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
    }

    func sendClose(code: Int?, reason: [UInt8]) {
        guard let written = writeCloseFrame(code: code, reason: reason) else { return }
        if closeReceived { closeOnceWritten(written) }
    }

    /// Writes a close frame (once per connection); completes when it is out.
    private func writeCloseFrame(code: Int?, reason: [UInt8]) -> EventLoopFuture<Void>? {
        guard let context, !closeSent else { return nil }
        closeSent = true
        var payload = context.channel.allocator.buffer(capacity: 2 + reason.count)
        if let code {
            payload.writeInteger(UInt16(truncatingIfNeeded: code))
            payload.writeBytes(reason)
        }
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(
            wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: payload)), promise: promise)
        return promise.futureResult
    }

    /// Closes the connection once `written` is out; now without it.
    private func closeOnceWritten(_ written: EventLoopFuture<Void>?) {
        guard let context else { return }
        guard let written else {
            context.close(promise: nil)
            return
        }
        written.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    func resumeReading() {
        guard readHeld else { return }
        readHeld = false
        context?.read()
    }

    func closeNow() {
        context?.close(promise: nil)
    }

    func handlerFinished(failed: Bool) {
        sendClose(code: failed ? 1011 : nil, reason: [])
        guard !closeReceived, let context, closeTimer == nil else { return }
        closeTimer = context.eventLoop.assumeIsolated().scheduleTask(in: WebSocketSession.closeWait) { [weak self] in
            self?.closeNow()
        }
    }

    // MARK: Frames

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        guard !closeReceived else { return }
        switch frame.opcode {
        case .text:
            let text = frame.unmaskedData
            guard String(validating: text.readableBytesView, as: UTF8.self) != nil else {
                fail(1007, "a text message is not valid UTF-8")
                return
            }
            session.received(text, binary: false)
        case .binary:
            session.received(frame.unmaskedData, binary: true)
        case .ping:
            guard !closeSent else { return }
            context.writeAndFlush(
                wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)), promise: nil)
        case .connectionClose:
            receivedClose(frame.unmaskedData)
        default:
            break
        }
    }

    /// RFC 6455 section 5.5.1: the client's close is answered at once with
    /// its code (an empty close for an empty one), then the server closes
    /// the connection (section 7.1.1); a close answering the server's own
    /// closes it now.
    private func receivedClose(_ payload: ByteBuffer) {
        var payload = payload
        var code = 1005
        var reason = ""
        if payload.readableBytes == 1 {
            fail(1002, "a close frame with a 1-byte payload")
            return
        }
        if let received = payload.readInteger(as: UInt16.self) {
            code = Int(received)
            guard Self.isValidCloseCode(code) else {
                fail(1002, "the close code \(code) is not one a client may send")
                return
            }
            guard let text = String(validating: payload.readableBytesView, as: UTF8.self) else {
                fail(1007, "a close reason is not valid UTF-8")
                return
            }
            reason = text
        }
        closeReceived = true
        // The answer goes first (a handler the session wakes may end and
        // send its own); the session before the connection closes, which
        // would report a drop.
        let answer = closeSent ? nil : writeCloseFrame(code: code == 1005 ? nil : code, reason: [])
        session.closed(code: code, reason: reason, byClient: true)
        closeOnceWritten(answer)
    }

    /// Close codes a close frame may carry (RFC 6455 section 7.4, and the
    /// IANA registry's 1012-1014).
    static func isValidCloseCode(_ code: Int) -> Bool {
        (1000...1003).contains(code) || (1007...1014).contains(code) || (3000...4999).contains(code)
    }

    /// Fails the connection (RFC 6455 section 7.1.7): a close with `code`,
    /// then the connection closes; the handler sees a WebSocketError.
    private func fail(_ code: Int, _ message: String) {
        closeReceived = true
        let written = closeSent ? nil : writeCloseFrame(code: code, reason: [])
        session.closed(code: code, reason: message, byClient: true)
        closeOnceWritten(written)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        switch error {
        case NIOWebSocketError.invalidFrameLength,
            NIOWebSocketFrameAggregator.Error.accumulatedFrameSizeIsTooLarge,
            NIOWebSocketFrameAggregator.Error.tooManyFragments:
            fail(1009, "a message is longer than max_message_length")
        case is NIOWebSocketError, is NIOWebSocketFrameAggregator.Error, is WebSocketFrameRules.Violation:
            fail(1002, "protocol error: \(error)")
        default:
            context.close(promise: nil)
        }
    }

    // MARK: Connection events

    func channelInactive(context: ChannelHandlerContext) {
        closeTimer?.cancel()
        session.closed(code: 1006, reason: "connection lost", byClient: true)
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        let isWritable = context.channel.isWritable
        deadlines.writabilityChanged(isWritable: isWritable, now: .now())
        if isWritable { session.writable() }
        context.fireChannelWritabilityChanged()
    }

    /// Reading pauses while the handler has not taken what came.
    func read(context: ChannelHandlerContext) {
        if session.isBacklogged {
            readHeld = true
        } else {
            context.read()
        }
    }

    // MARK: LoopConnection

    func checkTimeouts(now: NIODeadline) {
        if deadlines.writeExpired(now: now) { forceClose() }
    }

    /// Shutdown: a close with 1001 (going away); the handler's waits end
    /// with it, and the connection closes when the client answers (or the
    /// shutdown timeout runs out).
    func drain() {
        guard !closeSent else { return }
        sendClose(code: 1001, reason: [])
        session.closed(code: 1001, reason: "the server is shutting down", byClient: false)
    }

    func forceClose() {
        context?.close(promise: nil)
    }
}
