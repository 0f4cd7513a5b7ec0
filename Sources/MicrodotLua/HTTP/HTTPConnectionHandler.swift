import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// One HTTP/1.x connection: collects each request (head and body), runs them
/// one at a time in arrival order (pipelined requests wait their turn, and
/// reading pauses meanwhile), and writes the responses the Lua tasks produce.
final class HTTPConnectionHandler: ChannelDuplexHandler, ResponseSink {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    private let loop: WorkerLoop
    /// The loop's current worker: a reload gives new requests a new one.
    private var worker: Worker { loop.worker }
    /// Dropped when the handler is removed: the context holds the handler,
    /// and a connection must not outlive its channel.
    private var context: ChannelHandlerContext?

    private var receiving: ReceivedRequest?
    /// The rest of a body that went over the limit is dropped, not kept.
    private var discardingBody = false
    private var waiting = CircularBuffer<ReceivedRequest>()
    private var active: RequestTask?
    private var dispatching = false
    private var needsFlush = false
    private var readPending = false
    /// No more requests are taken: the connection closes once the current
    /// response is out.
    private var closing = false
    private var inputClosed = false

    private(set) var clientAddress: (host: String, port: Int) = ("", 0)

    /// Connection handlers alive in the process: a leak shows here first.
    static let liveCount = NIOLockedValueBox(0)

    init(loop: WorkerLoop) {
        self.loop = loop
        Self.liveCount.withLockedValue { $0 += 1 }
    }

    deinit {
        Self.liveCount.withLockedValue { $0 -= 1 }
    }

    var isWritable: Bool { context?.channel.isWritable ?? false }
    private(set) var allocator = ByteBufferAllocator()
    var isDraining: Bool { loop.isDraining }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        allocator = context.channel.allocator
        if let address = context.channel.remoteAddress {
            clientAddress = (address.ipAddress ?? "", address.port ?? 0)
        }
        loop.add(self)
        armReadTimer(.requestHead)
        if loop.isDraining { drain() }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        loop.remove(self)
        readTimeout = nil
        writeTimer?.cancel()
        self.context = nil
    }

    // MARK: Timeouts

    private enum ReadTimeout {
        case requestHead, idle, body
    }

    /// What the connection waits for from the client, and until when. A
    /// deadline, not a scheduled task: arming one per request would cost more
    /// than the request; the loop's timeout sweep checks it.
    private var readTimeout: ReadTimeout?
    private var readDeadline = NIODeadline.distantFuture
    /// Armed while the connection cannot take more of a response.
    private var writeTimer: Scheduled<Void>?

    private func armReadTimer(_ kind: ReadTimeout) {
        let timeouts = loop.timeouts
        let seconds: Double
        switch kind {
        case .requestHead: seconds = timeouts.requestHead
        case .idle: seconds = timeouts.idle
        case .body: seconds = timeouts.body
        }
        guard seconds > 0 else {
            disarmReadTimer()
            return
        }
        readTimeout = kind
        readDeadline = .now() + .nanoseconds(Int64(seconds * 1e9))
    }

    private func disarmReadTimer() {
        readTimeout = nil
    }

    /// Called by the loop's sweep.
    func checkTimeouts(now: NIODeadline) {
        if let kind = readTimeout, now >= readDeadline {
            readTimeout = nil
            readTimedOut(kind)
        }
    }

    private func readTimedOut(_ kind: ReadTimeout) {
        guard !closing else { return }
        switch kind {
        case .idle:
            close()
        case .requestHead, .body:
            rejectUnreadable(.requestTimeout)
        }
    }

    /// The server is shutting down: no new requests on this connection; the
    /// one under way (and any already received) is answered first.
    func drain() {
        if active == nil && waiting.isEmpty && receiving == nil && !closing { close() }
    }

    func forceClose() {
        context?.close(promise: nil)
    }

    // MARK: Reading requests

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        switch unwrapInboundIn(data) {
        case .head(let head):
            armReadTimer(.body)
            if let error = lineTooLong(head) {
                rejectUnreadable(error)
                return
            }
            receiving = ReceivedRequest(head: head)
            discardingBody = false
            if let declared = head.headers.first(name: "content-length").flatMap(Int.init),
                declared > worker.limits.bodyLimit
            {
                bodyTooLarge()
            } else if head.headers.first(name: "expect")?.lowercased() == "100-continue",
                active == nil, waiting.isEmpty
            {
                var buffer = context.channel.allocator.buffer(capacity: 25)
                buffer.writeStaticString("HTTP/1.1 100 Continue\r\n\r\n")
                context.writeAndFlush(wrapOutboundOut(.byteBuffer(buffer)), promise: nil)
            }
        case .body(var part):
            armReadTimer(.body)
            guard !discardingBody, receiving != nil else { return }
            if receiving!.body == nil {
                receiving!.body = part
            } else {
                receiving!.body!.writeBuffer(&part)
            }
            if receiving!.body!.readableBytes > worker.limits.bodyLimit {
                bodyTooLarge()
            }
        case .end:
            disarmReadTimer()
            if discardingBody {
                discardingBody = false
                return
            }
            guard let request = receiving.take() else { return }
            waiting.append(request)
            dispatch()
        }
    }

    /// A request line or header line over `max_readline`: 414 or 431. (The
    /// parser's own limits are wider, up to the whole head's limit.)
    private func lineTooLong(_ head: HTTPRequestHead) -> ServerErrorResponse? {
        let limit = worker.limits.maxReadline
        if head.uri.utf8.count > limit { return .uriTooLong }
        for (name, value) in head.headers where name.utf8.count + value.utf8.count > limit {
            return .headerFieldsTooLarge
        }
        return nil
    }

    /// A request that cannot be read whole (malformed, too long, too slow):
    /// answered at once when nothing is in flight, and the connection ends
    /// either way.
    private func rejectUnreadable(_ error: ServerErrorResponse) {
        receiving = nil
        disarmReadTimer()
        if active == nil && waiting.isEmpty && !closing {
            writeError(error)
        } else {
            waiting.removeAll()
            closing = true
        }
    }

    /// Answers 413 through the app now and closes afterwards: the unread
    /// body cannot be skipped on a kept-alive connection.
    private func bodyTooLarge() {
        guard var request = receiving.take() else { return }
        discardingBody = true
        request.body = nil
        request.bodyTooLarge = true
        request.head.headers.replaceOrAdd(name: "connection", value: "close")
        waiting.append(request)
        dispatch()
    }

    /// Runs waiting requests in order, one at a time. A loop, not recursion:
    /// a task that finishes at once returns here for the next one.
    private func dispatch() {
        guard !dispatching else { return }
        dispatching = true
        while active == nil, !closing, let request = waiting.popFirst() {
            let task = RequestTask(worker: worker, sink: self, request: request)
            active = task
            task.start()
        }
        dispatching = false
        if needsFlush {
            needsFlush = false
            context?.flush()
        }
        if active == nil, !closing {
            if inputClosed {
                close()
            } else if readPending {
                readPending = false
                context?.read()
            }
        }
    }

    func read(context: ChannelHandlerContext) {
        if active != nil || !waiting.isEmpty {
            readPending = true
        } else {
            context.read()
        }
    }

    // MARK: ResponseSink

    func write(_ data: IOData, flush: Bool, completion: ((Result<Void, Error>) -> Void)?) {
        guard let context else {
            completion?(.failure(ChannelError.ioOnClosedChannel))
            return
        }
        let promise: EventLoopPromise<Void>? = completion.map { completion in
            let promise = context.eventLoop.makePromise(of: Void.self)
            promise.futureResult.whenComplete(completion)
            return promise
        }
        if flush {
            context.writeAndFlush(wrapOutboundOut(data), promise: promise)
        } else {
            context.write(wrapOutboundOut(data), promise: promise)
            needsFlush = true
        }
    }

    func flush() {
        needsFlush = false
        context?.flush()
    }

    func requestFinished(keepAlive: Bool) {
        active = nil
        if waiting.isEmpty && receiving == nil { armReadTimer(.idle) }
        if !keepAlive || closing || (loop.isDraining && waiting.isEmpty && receiving == nil) {
            closing = true
            waiting.removeAll()
            close()
            return
        }
        dispatch()
    }

    private func close() {
        closing = true
        needsFlush = false
        guard let context else { return }
        context.writeAndFlush(wrapOutboundOut(.byteBuffer(context.channel.allocator.buffer(capacity: 0))))
            .whenComplete { _ in context.close(promise: nil) }
    }

    // MARK: Connection events

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            writeTimer?.cancel()
            writeTimer = nil
            active?.writable()
        } else if writeTimer == nil, loop.timeouts.write > 0 {
            // A client that stops reading does not hold the response forever.
            writeTimer = context.eventLoop.scheduleTask(in: .nanoseconds(Int64(loop.timeouts.write * 1e9))) {
                [weak self] in self?.forceClose()
            }
        }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            // The client sent all it will send; answer what was asked, then close.
            inputClosed = true
            if active == nil && waiting.isEmpty && !closing { close() }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        closing = true
        waiting.removeAll()
        active?.cancel()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if error is HTTPParserError || error is ByteToMessageDecoderError {
            // 431 when the head is past the parser's limits, else 400.
            let isHeadTooLarge = (error as? HTTPParserError) == .headerOverflow
            rejectUnreadable(isHeadTooLarge ? .headerFieldsTooLarge : .badRequest)
            return
        }
        context.close(promise: nil)
    }

    /// An answer the app never sees: the request could not be read.
    private func writeError(_ error: ServerErrorResponse) {
        guard let context else { return }
        var buffer = context.channel.allocator.buffer(capacity: 0)
        PlainResponse.write(
            error, sendsBody: true, connection: .close, date: worker.dateHeader.current(), into: &buffer)
        context.write(wrapOutboundOut(.byteBuffer(buffer)), promise: nil)
        close()
    }
}
