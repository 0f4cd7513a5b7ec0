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
    private var context: ChannelHandlerContext!

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

    init(loop: WorkerLoop) {
        self.loop = loop
    }

    var isWritable: Bool { context.channel.isWritable }
    var allocator: ByteBufferAllocator { context.channel.allocator }
    var isDraining: Bool { loop.isDraining }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if let address = context.channel.remoteAddress {
            clientAddress = (address.ipAddress ?? "", address.port ?? 0)
        }
        loop.add(self)
        if loop.isDraining { drain() }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        loop.remove(self)
    }

    /// The server is shutting down: no new requests on this connection; the
    /// one under way (and any already received) is answered first.
    func drain() {
        if active == nil && waiting.isEmpty && receiving == nil && !closing { close() }
    }

    func forceClose() {
        context.close(promise: nil)
    }

    // MARK: Reading requests

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        switch unwrapInboundIn(data) {
        case .head(let head):
            receiving = ReceivedRequest(head: head)
            discardingBody = false
            if let declared = head.headers.first(name: "content-length").flatMap(Int.init),
               declared > worker.limits.bodyLimit {
                bodyTooLarge()
            } else if head.headers.first(name: "expect")?.lowercased() == "100-continue",
                      active == nil, waiting.isEmpty {
                var buffer = context.channel.allocator.buffer(capacity: 25)
                buffer.writeStaticString("HTTP/1.1 100 Continue\r\n\r\n")
                context.writeAndFlush(wrapOutboundOut(.byteBuffer(buffer)), promise: nil)
            }
        case .body(var part):
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
            if discardingBody {
                discardingBody = false
                return
            }
            guard let request = receiving else { return }
            receiving = nil
            waiting.append(request)
            dispatch()
        }
    }

    /// Answers 413 through the app now and closes afterwards: the unread
    /// body cannot be skipped on a kept-alive connection.
    private func bodyTooLarge() {
        guard var request = receiving else { return }
        receiving = nil
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
            context.flush()
        }
        if active == nil, !closing {
            if inputClosed {
                close()
            } else if readPending {
                readPending = false
                context.read()
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

    func requestFinished(keepAlive: Bool) {
        active = nil
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
        context.writeAndFlush(wrapOutboundOut(.byteBuffer(context.channel.allocator.buffer(capacity: 0))))
            .whenComplete { [context] _ in context!.close(promise: nil) }
    }

    // MARK: Connection events

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { active?.writable() }
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
        loop.remove(self)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if error is HTTPParserError || error is ByteToMessageDecoderError {
            // A request that cannot be parsed: 400 (431 for a line over
            // max_readline or too many headers) when no response is under
            // way, and the connection ends either way.
            if active == nil && waiting.isEmpty && !closing {
                if let parserError = error as? HTTPParserError, parserError == .headerOverflow {
                    writeError(status: "431 Request Header Fields Too Large", body: "Request header fields too large")
                } else {
                    writeError(status: "400 Bad Request", body: "Bad request")
                }
            } else {
                waiting.removeAll()
                closing = true
            }
            return
        }
        context.close(promise: nil)
    }

    /// An answer the app never sees: the request could not be read.
    private func writeError(status: String, body: String) {
        var buffer = context.channel.allocator.buffer(capacity: 200)
        buffer.writeString("HTTP/1.1 \(status)\r\n")
        buffer.writeBytes(worker.dateHeader.current())
        buffer.writeString("Content-Type: text/plain; charset=UTF-8\r\nContent-Length: \(body.utf8.count)\r\n")
        buffer.writeStaticString("Connection: close\r\n\r\n")
        buffer.writeString(body)
        context.write(wrapOutboundOut(.byteBuffer(buffer)), promise: nil)
        close()
    }
}
