import NIOCore
import NIOHTTP1

#if DEBUG
    import NIOConcurrencyHelpers
#endif

/// One HTTP/1.x connection: collects each request (head and body), runs them
/// one at a time in arrival order (pipelined requests wait their turn, and
/// reading pauses meanwhile), and writes the responses the Lua tasks produce.
final class HTTPConnectionHandler: ChannelDuplexHandler, ResponseSink, LoopConnection {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    let loop: WorkerLoop
    /// The loop's current worker: a reload gives new requests a new one.
    var worker: Worker { loop.worker }
    /// Dropped when the handler is removed: the context holds the handler,
    /// and a connection must not outlive its channel.
    private(set) var context: ChannelHandlerContext?

    /// The request being received: until its end, also when its body
    /// streams to a route already running (`HTTPConnectionHandler+Body`).
    var receiving: ReceivedRequest?
    /// The request being received asked for 100 Continue while responses
    /// before it were due: it is sent when their turn is over.
    var continuePending = false
    /// The rest of a body that went over the limit is dropped, not kept.
    var discardingBody = false
    /// Reading paused because a streamed body's route has not taken what
    /// came (backpressure).
    var streamReadHeld = false
    var queue = RequestQueue<ReceivedRequest, RequestTask>()
    private(set) var lifecycle = ConnectionLifecycle()
    var deadlines: ConnectionDeadlines
    /// Set while `dispatch` starts requests: a task that finishes at once
    /// returns to the loop instead of recursing.
    private var dispatching = false
    private var needsFlush = false
    /// Files being sent, checked by the sweep (`HTTPConnectionHandler+Files`).
    var filesInFlight: [FileInFlight] = []
    var fileWrites = 0

    private(set) var clientAddress: (host: String, port: Int) = ("", 0)
    /// The head of a request refused unread, for its log line.
    var cutHead: HTTPRequestHead?

    init(loop: WorkerLoop) {
        self.loop = loop
        deadlines = ConnectionDeadlines(timeouts: loop.timeouts)
        #if DEBUG
            Self.liveCount.withLockedValue { $0 += 1 }
        #endif
    }

    #if DEBUG
        /// Connection handlers alive in the process, for tests: a leak shows
        /// here first. Debug builds only: it takes a lock per connection.
        static let liveCount = NIOLockedValueBox(0)

        deinit {
            Self.liveCount.withLockedValue { $0 -= 1 }
        }
    #endif

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
        loop.worker.observer?.metrics?.server.connections.increment()
        deadlines.startReading(.requestHead, now: .now())
        if loop.isDraining { drain() }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        loop.remove(self)
        loop.worker.observer?.metrics?.server.connections.decrement()
        deadlines.stopReading()
        self.context = nil
    }

    // MARK: Deadlines and closing

    /// Called by the loop's sweep.
    func checkTimeouts(now: NIODeadline) {
        if deadlines.writeExpired(now: now) || fileShrank() {
            forceClose()
            return
        }
        guard let wait = deadlines.expired(now: now) else { return }
        if wait == .lingering || wait == .bodyRest {
            forceClose()
            return
        }
        if wait == .body { streamFailed(.timedOut) }
        perform(lifecycle.readTimedOut(wait, isIdle: queue.isIdle))
    }

    /// The server is shutting down: no new requests on this connection; the
    /// one under way (and any already received) is answered first.
    func drain() {
        if lifecycle.isLingering {
            forceClose()
            return
        }
        perform(lifecycle.shutdownRequested(isIdle: queue.isIdle, isReceiving: receiving != nil))
    }

    func forceClose() {
        context?.close(promise: nil)
    }

    /// Carries out what the lifecycle decided.
    func perform(_ action: ConnectionLifecycle.Action) {
        switch action {
        case .none:
            break
        case .close:
            queue.dropWaiting()
            close()
        case .rejectAndClose(let error):
            let head = cutHead.take() ?? receiving?.head
            abandonRequestBeingRead()
            writeError(error, head: head)
        case .closeAfterRunning:
            abandonRequestBeingRead()
            queue.dropWaiting()
        case .resumeReading:
            if queue.takeHeldRead() { context?.read() }
        }
    }

    private func abandonRequestBeingRead() {
        streamFailed(.unreadable)
        receiving = nil
        deadlines.stopReading()
    }

    /// Flushes what was written, then closes, lingering first when the
    /// client may still be sending.
    private func close() {
        needsFlush = false
        guard let context else { return }
        context.writeAndFlush(wrapOutboundOut(.byteBuffer(context.channel.allocator.buffer(capacity: 0))))
            .assumeIsolated().whenComplete { [weak self] result in
                guard let self, case .success = result,
                    self.lifecycle.outputFlushed(isDraining: self.loop.isDraining, lingers: self.deadlines.lingers)
                else {
                    context.close(promise: nil)
                    return
                }
                self.linger(context)
            }
    }

    /// Lingering close: the output ends (the client reads the response, then
    /// end of stream), and what the client still sends is read and dropped
    /// before it reaches the parser, until it closes or the lingering
    /// deadlines (`ConnectionDeadlines`) run out.
    private func linger(_ context: ChannelHandlerContext) {
        do {
            try context.pipeline.syncOperations.addHandler(
                LingeringDiscard(connection: self), position: .first)
        } catch {
            context.close(promise: nil)
            return
        }
        deadlines.startReading(.lingering, now: .now())
        context.close(mode: .output, promise: nil)
        context.read()
    }

    /// `count` bytes arrived while lingering and were dropped.
    func lingered(_ count: Int) {
        if !deadlines.lingered(count, now: .now()) { forceClose() }
    }

    // MARK: Reading requests

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard lifecycle.acceptsRequests else { return }
        switch unwrapInboundIn(data) {
        case .head(var head):
            continuePending = false
            deadlines.startReading(.body, now: .now())
            if let error = lineTooLong(head) {
                cutHead = head
                perform(lifecycle.requestUnreadable(error, isIdle: queue.isIdle))
                return
            }
            let outcome = RequestRules.check(&head)
            receiving = ReceivedRequest(head: head)
            discardingBody = false
            switch outcome.verdict {
            case .serve:
                break
            case .serveThenClose:
                receiving!.closesConnection = true
            case .refuse(let error):
                refuse(error)
                return
            }
            switch worker.limits.handling(ofLength: outcome.declaredLength ?? 0) {
            case .tooLarge: bodyTooLarge()
            case .stream: startStreaming(expectsContinue: outcome.expectsContinue)
            case .whole where outcome.expectsContinue:
                continuePending = true
                sendContinueIfDue()
            case .whole: break
            }
        case .body(var part):
            continuePending = false
            if let stream = receiving?.bodyStream {
                received(&part, into: stream)
                return
            }
            deadlines.startReading(.body, now: .now())
            guard !discardingBody, receiving != nil else { return }
            if receiving!.body == nil {
                receiving!.body = part
            } else {
                receiving!.body!.writeBuffer(&part)
            }
            // A chunked body is judged as it grows.
            switch worker.limits.handling(ofLength: receiving!.body!.readableBytes) {
            case .tooLarge: bodyTooLarge()
            case .stream: startStreaming(expectsContinue: false)
            case .whole: break
            }
        case .end:
            deadlines.stopReading()
            if discardingBody {
                discardingBody = false
                return
            }
            guard let request = receiving.take() else { return }
            if let stream = request.bodyStream {
                streamEnded(stream)
                return
            }
            dispatch(arrived: request)
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

    /// A request the server does not serve (`RequestRules`): answered in
    /// its turn with `error`, without reading its body; the connection
    /// closes after it.
    private func refuse(_ error: ServerErrorResponse) {
        guard var request = receiving.take() else { return }
        discardingBody = true
        request.refusal = error
        queue.append(request)
        dispatch()
    }

    /// Runs waiting requests in order, one at a time. A loop, not recursion:
    /// a task that finishes at once returns here for the next one. `arrived`,
    /// just read, starts without a trip through the queue when nothing runs
    /// or waits (no pipelining): no copies of it, fewer accesses to `queue`.
    func dispatch(arrived: consuming ReceivedRequest? = nil) {
        if arrived != nil && (dispatching || !queue.startsAtOnce) { queue.append(arrived.take()!) }
        guard !dispatching else { return }
        dispatching = true
        while lifecycle.acceptsRequests, let request = arrived.take() ?? queue.next() {
            if let refusal = request.refusal {
                queue.dropWaiting()
                abandonRequestBeingRead()
                cutHead = request.head
                perform(lifecycle.requestUnreadable(refusal, isIdle: true))
                break
            }
            let task = RequestTask(worker: worker, sink: self, request: request)
            queue.started(task)
            task.start()
        }
        dispatching = false
        if needsFlush {
            needsFlush = false
            context?.flush()
        }
        if queue.running == nil { perform(lifecycle.queueIdle()) }
    }

    func read(context: ChannelHandlerContext) {
        if lifecycle.isLingering {
            context.read()
        } else if let stream = receiving?.bodyStream, lifecycle.acceptsRequests {
            readForStream(stream)
        } else if queue.readRequested() == .read {
            context.read()
        }
    }

    // MARK: ResponseSink

    /// The part a large write is cut into, so that its progress shows
    /// (`ConnectionDeadlines.wroteSome`): the write timeout cuts a client that
    /// takes less than this in that time, not one that takes longer than it
    /// to read a large response.
    static let progressSlice = 256 * 1024

    func write(_ data: IOData, flush: Bool, completion: ((Result<Void, Error>) -> Void)?) {
        guard let context else {
            completion?(.failure(ChannelError.ioOnClosedChannel))
            return
        }
        if data.readableBytes > Self.progressSlice {
            writeInSlices(data, context: context)
        }
        let promise: EventLoopPromise<Void>? = completion.map { completion in
            let promise = context.eventLoop.makePromise(of: Void.self)
            promise.futureResult.assumeIsolated().whenComplete(completion)
            return promise
        }
        if flush {
            context.writeAndFlush(wrapOutboundOut(data.lastSlice), promise: promise)
        } else {
            context.write(wrapOutboundOut(data.lastSlice), promise: promise)
            needsFlush = true
        }
    }

    /// Writes all but the last slice of `data`, each reporting progress when
    /// it is out. Slices share the buffer's memory or the file's handle.
    private func writeInSlices(_ data: IOData, context: ChannelHandlerContext) {
        var offset = 0
        let end = data.readableBytes - data.lastSliceLength
        while offset < end {
            let slice: IOData
            switch data {
            case .byteBuffer(let buffer):
                slice = .byteBuffer(buffer.getSlice(at: buffer.readerIndex + offset, length: Self.progressSlice)!)
            case .fileRegion(let region):
                let start = region.readerIndex + offset
                slice = .fileRegion(
                    FileRegion(fileHandle: region.fileHandle, readerIndex: start, endIndex: start + Self.progressSlice))
            }
            let promise = context.eventLoop.makePromise(of: Void.self)
            promise.futureResult.assumeIsolated().whenSuccess { [weak self] in self?.wroteSome() }
            context.write(wrapOutboundOut(slice), promise: promise)
            offset += Self.progressSlice
        }
    }

    func flush() {
        needsFlush = false
        context?.flush()
    }

    func requestFinished(keepAlive: Bool) {
        queue.finished()
        if keepAlive { dropUnreadBody() }
        let hasMore = queue.hasWaiting || receiving != nil
        if !hasMore { deadlines.startReading(.nextRequest, now: .now()) }
        let action = lifecycle.requestFinished(keepAlive: keepAlive, isDraining: loop.isDraining, hasMore: hasMore)
        if action == .none {
            dispatch()
            sendContinueIfDue()
        } else {
            perform(action)
        }
    }

    // MARK: Connection events

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        let isWritable = context.channel.isWritable
        deadlines.writabilityChanged(isWritable: isWritable, now: .now())
        queue.outputWritable(isWritable)
        if isWritable {
            if let running = queue.running {
                running.writable()
            } else if lifecycle.acceptsRequests {
                // Requests that waited for the client to take the responses.
                dispatch()
            }
        }
        context.fireChannelWritabilityChanged()
    }

    /// A part of a response went out: the client is reading.
    func wroteSome() {
        deadlines.wroteSome(now: .now())
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            perform(lifecycle.inputClosed(isIdle: queue.isIdle))
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        lifecycle.channelClosed()
        queue.dropWaiting()
        queue.running?.cancel()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if error is HTTPParserError || error is ByteToMessageDecoderError {
            // 431 when the head is past the parser's limits, else 400.
            let response: ServerErrorResponse
            switch error as? HTTPParserError {
            case .headerOverflow: response = .headerFieldsTooLarge
            // RFC 9110 section 15.6.6: llhttp takes only HTTP/1.0 and 1.1
            // (MinorVersionRequestDecoder makes 1.2 to 1.9 into 1.1 first).
            case .invalidVersion: response = .httpVersionNotSupported
            default: response = .badRequest
            }
            perform(lifecycle.requestUnreadable(response, isIdle: queue.isIdle))
            return
        }
        context.close(promise: nil)
    }

    /// An answer the app never sees: the request could not be read.
    private func writeError(_ error: ServerErrorResponse, head: HTTPRequestHead?) {
        guard let context else { return }
        var buffer = context.channel.allocator.buffer(capacity: 0)
        let date = recordCut(error, head: head, date: worker.dateHeader.current())
        PlainResponse.write(error, sendsBody: true, connection: .close, date: date, into: &buffer)
        context.write(wrapOutboundOut(.byteBuffer(buffer)), promise: nil)
        close()
    }
}
