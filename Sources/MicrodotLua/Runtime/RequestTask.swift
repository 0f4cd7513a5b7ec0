import CLua
import NIOCore
import NIOHTTP1

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One request running in its own Lua coroutine: started, resumed after a
/// sleep or when the connection can take the next chunk, and finished. The
/// same driver runs background work (timers, `on_start`, `microdot.spawn`:
/// `background` set, RequestTask+Background.swift) with a `BackgroundSink`.
/// Members without `private` are used by the extensions in
/// RequestTask+Waits.swift and RequestTask+Background.swift.
final class RequestTask {
    let worker: Worker
    let sink: ResponseSink
    let request: ReceivedRequest
    private var framing: RequestFraming
    let thread: OpaquePointer
    private let threadReference: Int32
    /// The registry reference of the app to dispatch to.
    private let app: Int32

    enum State {
        case running
        case waitingForWritable
        /// Sending a file through buffers (under TLS), part by part; the
        /// next part once the client takes what was written.
        case sendingFile(FileBody)
        case sleeping(Scheduled<Void>)
        case awaiting(AsyncCall)
        /// Waiting on the WebSocket (`WebSocketSession` resumes it).
        case webSocket
        /// Waiting for more of the streamed request body.
        case waitingForBody(RequestBodyStream)
        /// Waiting for `key` to be woken (`Worker.wake`), until `timeout`.
        case waiting(key: Int, timeout: Scheduled<Void>?)
        case finished
    }
    var state = State.running
    /// Set once the head is on the wire: an error after it can only close.
    var headSent = false
    var chunked = false
    /// `--gzip` compresses this request's streamed body (RequestTask+Gzip.swift).
    var gzip: GzipStream?
    private(set) var cancelled = false
    /// What runs in the background instead of a request (nil: a request).
    let background: BackgroundRun?
    /// For a coroutine spawned in a request: that request.
    var spawnedIn: RequestTask?
    /// The request whose end closes what this task opened (its pub/sub
    /// subscriptions, the coroutines it spawned): itself for a request, its
    /// request for a coroutine spawned there, nil for a timer's run.
    var scope: RequestTask? { background == nil ? self : spawnedIn }
    /// Spawned coroutines and pub/sub subscriptions closed when this ends.
    var children: [ObjectIdentifier: RequestTask] = [:]
    var subscriptions: Set<Int> = []
    /// Stream bytes written but not flushed: chunks a generator gives one
    /// after the other leave in one write, flushed before the request waits
    /// for anything (a sleep, an async call, the client) or past 64 KiB.
    var unflushedBytes = 0
    /// Set once the connection became a WebSocket (`RequestTask+WebSocket.swift`).
    var webSocket: WebSocketSession?
    /// This request's number in its worker (the `request` log metadata),
    /// and its streamed body's ticket in `Worker.bodyStreams`.
    let id: Int
    /// What the access log and the metrics learn of this request; nil
    /// when neither is on (RequestTask+Record.swift).
    var observed: ObservedRequest?

    /// `app` is a registry reference to the app; by default the worker's.
    init(
        worker: Worker, sink: ResponseSink, request: ReceivedRequest, app: Int32? = nil,
        background: BackgroundRun? = nil
    ) {
        self.worker = worker
        self.sink = sink
        self.request = request
        self.background = background
        self.app = app ?? worker.appObject
        // Pattern matches, not ==, which compares HTTPMethod's raw strings;
        // fields read in place, not from a copy of the head (a retain each).
        var isGet = false
        var isHead = false
        switch request.head.method {
        case .GET: isGet = true
        case .HEAD: isHead = true
        default: break
        }
        framing = RequestFraming(
            isHead: isHead, isGet: isGet,
            isHTTP10: request.head.version.major == 1 && request.head.version.minor == 0,
            keepAlive: request.head.isKeepAlive && !request.closesConnection)
        (thread, threadReference) = worker.acquireThread()
        // Background runs take no request number (the log's `request=`).
        if background == nil { worker.requestCount &+= 1 }
        id = background == nil ? worker.requestCount : 0
    }

    func start() {
        if let background {
            startBackground(background)
            return
        }
        let co = thread
        let stack = LuaStack(co)
        lua_rawgeti(co, mdl_registryindex(), lua_Integer(worker.serveFunction))
        lua_rawgeti(co, mdl_registryindex(), lua_Integer(app))
        let head = request.head
        stack.push(head.method.rawValue)
        stack.push(head.uri)
        switch (head.version.major, head.version.minor) {
        case (1, 1): stack.push("1.1")
        case (1, 0): stack.push("1.0")
        default: stack.push("\(head.version.major).\(head.version.minor)")
        }
        LuaStack(thread).pushHeaders(head.headers)
        if request.bodyTooLarge {
            HostProtocol.pushBodyTooLarge(co)
        } else if let stream = request.bodyStream {
            worker.bodyStreams[id] = stream
            lua_pushinteger(co, lua_Integer(id))
        } else if let body = request.body {
            body.withUnsafeReadableBytes { stack.push(bytes: $0) }
        } else {
            lua_pushnil(co)
        }
        let client = worker.trustedProxies.client(peer: sink.clientAddress, headers: head.headers)
        stack.push(client.host)
        lua_pushinteger(co, lua_Integer(client.port))
        stack.push(client.scheme)
        if let observer = worker.observer { observeStart(observer, client: client.host) }
        if let requestID = observed?.requestID { stack.push(requestID) } else { lua_pushnil(co) }
        resume(arguments: 10)
    }

    // MARK: Driving the coroutine

    func resume(arguments: Int32) {
        let co = thread
        let L = worker.lua.L
        var arguments = arguments
        let outer = worker.runningTask
        worker.runningTask = self
        defer { worker.runningTask = outer }
        while true {
            state = .running
            let resumeArguments = arguments
            worker.currentRequest = id
            defer { worker.currentRequest = 0 }
            let (status, results) = worker.lua.runProtected(on: co) { () -> (Int32, Int32) in
                var results: Int32 = 0
                let status = lua_resume(co, L, resumeArguments, &results)
                return (status, results)
            }
            arguments = 0
            if worker.lua.lastSliceAbandoned {
                fail(
                    "handler timeout: Lua ran for more than \(worker.lua.context.pointee.budget) seconds "
                        + "without yielding and kept running after the error; the request was discarded")
                return
            }
            switch HostProtocol.decode(co, status: status, results: results) {
            case .response(let index):
                respond(at: index, streaming: false)
                if case .sendingFile = state { return }
                finish()
                return
            case .streamEnded:
                endStream()
                finish()
                return
            case .streamHead(let index):
                let sendsChunks = respond(at: index, streaming: true)
                lua_settop(co, 0)
                lua_pushboolean(co, sendsChunks && !cancelled ? 1 : 0)
                arguments = 1
            case .chunk(let index):
                writeChunk(at: index)
                lua_settop(co, 0)
                if cancelled {
                    lua_pushboolean(co, 0)
                    arguments = 1
                } else if sink.isWritable {
                    lua_pushboolean(co, 1)
                    arguments = 1
                } else {
                    flushStream()
                    state = .waitingForWritable
                    return
                }
            case .sleep(let seconds):
                guard let answered = sleep(seconds) else { return }
                arguments = answered
            case .await(let ticket):
                guard let answered = awaitCall(ticket) else { return }
                arguments = answered
            case .webSocket(let operation):
                guard let answered = webSocketOperation(operation) else { return }
                arguments = answered
            case .bodyWait:
                guard let answered = waitForBody() else { return }
                arguments = answered
            case .wait(let key, let timeout):
                guard let answered = wait(for: key, timeout: timeout) else { return }
                arguments = answered
            case .spawn(let id):
                lua_settop(co, 0)
                spawn(id)
                lua_pushboolean(co, 1)
                arguments = 1
            case .unknownSuspension:
                lua_settop(co, 0)
                lua_pushboolean(co, 0)
                LuaStack(co).push("unknown suspension")
                arguments = 2
            case .unknownYield:
                fail(
                    "a request coroutine yielded a value the server does not understand; "
                        + "use coroutine.wrap or coroutine.create for generators")
                return
            case .failed:
                let message = LuaStack(co).string(at: -1) ?? "(error object is not a string)"
                if message.contains("stack traceback:") {
                    fail(message)
                } else {
                    luaL_traceback(L, co, message, 0)
                    fail(LuaStack(L).string(at: -1) ?? message)
                    mdl_pop(L, 1)
                }
                return
            }
        }
    }

    /// The connection can take more: send the next chunk, or the next part
    /// of a file.
    func writable() {
        if case .sendingFile(let file) = state {
            sendFile(file)
            return
        }
        guard case .waitingForWritable = state else { return }
        lua_pushboolean(thread, 1)
        resume(arguments: 1)
    }

    /// The client went away: stop the stream or the sleep now.
    func cancel() {
        cancelled = true
        switch state {
        case .waitingForWritable:
            lua_pushboolean(thread, 0)
            resume(arguments: 1)
        case .sleeping(let scheduled):
            scheduled.cancel()
            resumeCancelled()
        case .awaiting(let call):
            call.cancel()
            resumeCancelled()
        case .waitingForBody(let stream):
            stream.onAvailable = nil
            resumeCancelled()
        case .waiting(let key, let timeout):
            timeout?.cancel()
            worker.unregisterWaiter(key, self)
            resumeCancelled()
        case .sendingFile:
            finish()
        case .running, .webSocket, .finished:
            break
        }
    }

    /// Wakes a suspended request with `false, "request cancelled"`: the
    /// wait raises, so the Lua code unwinds (to-be-closed variables run).
    func resumeCancelled() {
        state = .running
        lua_pushboolean(thread, 0)
        LuaStack(thread).push("request cancelled")
        resume(arguments: 2)
    }

    // MARK: Writing

    /// Writes the head (and a complete body); returns whether chunks follow.
    @discardableResult
    private func respond(at index: Int32, streaming: Bool) -> Bool {
        guard !cancelled, webSocket == nil else { return false }
        if sink.isDraining { framing.keepAlive = false }
        headStarts()
        var buffer = worker.responseBuffer(sink.allocator)
        defer { worker.recycle(buffer) }
        let encoded: EncodedResponse
        do {
            encoded = try ResponseEncoder.encode(
                thread, at: index, request: framing, date: worker.dateHeader.current(), into: &buffer,
                files: worker.openFiles, requestHeaders: request.head.headers, gzip: worker.gzip,
                extra: observed?.requestHeader ?? [])
        } catch {
            worker.currentRequest = id
            worker.log(.error, "invalid response to \(request.head.method) \(request.head.uri): \(error)")
            writeInternalError()
            return false
        }
        framing.keepAlive = encoded.keepAlive
        chunked = encoded.chunked
        gzip = encoded.gzip
        headSent = true
        logRequest(status: encoded.status)
        if observed != nil { noteResponse(encoded, at: index, streaming: streaming) }
        switch encoded.body {
        case .complete:
            sink.write(.byteBuffer(buffer), flush: streaming, completion: nil)
            return false
        case .file(let file, let region):
            if worker.sendsFilesThroughBuffers || gzip != nil {
                sendFile(
                    FileBody(file: file, offset: region.readerIndex, end: region.endIndex, gzip: gzip), after: buffer)
                return false
            }
            sink.write(.byteBuffer(buffer), flush: false, completion: nil)
            sink.writeFile(file, region)
            return false
        case .stream:
            sink.write(.byteBuffer(buffer), flush: false, completion: nil)
            unflushedBytes += buffer.readableBytes
            return true
        }
    }

    private func writeChunk(at index: Int32) {
        guard !cancelled, headSent else { return }
        if let gzip {
            writeCompressedChunk(gzip, at: index)
            return
        }
        let length = Int(lua_rawlen(thread, index))
        var buffer = sink.allocator.buffer(capacity: length + 16)
        if chunked {
            buffer.writeString(String(length, radix: 16))
            buffer.writeStaticString("\r\n")
        }
        LuaStack(thread).withBytes(at: index) { buffer.writeBytes($0) }
        if chunked { buffer.writeStaticString("\r\n") }
        observed?.bytes += length
        sink.write(.byteBuffer(buffer), flush: false, completion: nil)
        unflushedBytes += buffer.readableBytes
        if unflushedBytes >= 64 * 1024 { flushStream() }
    }

    func flushStream() {
        guard unflushedBytes > 0 else { return }
        unflushedBytes = 0
        if !cancelled { sink.flush() }
    }

    private func endStream() {
        if let gzip, !cancelled, headSent {
            endCompressedStream(gzip)
            return
        }
        guard !cancelled, headSent, chunked else { return }
        var buffer = sink.allocator.buffer(capacity: 5)
        buffer.writeStaticString("0\r\n\r\n")
        sink.write(.byteBuffer(buffer), flush: true, completion: nil)
        unflushedBytes = 0
    }

    /// The head is about to go. A streamed body the client withholds (it
    /// waits for a 100 Continue) or that went wrong cannot be skipped to
    /// reach the next request; and no 100 may follow a final response
    /// (RFC 9110 section 10.1.1).
    private func headStarts() {
        guard let stream = request.bodyStream else { return }
        if stream.bodyWithheld || stream.failure != nil { framing.keepAlive = false }
        stream.responseStarted()
    }

    private func writeInternalError() {
        headStarts()
        var buffer = sink.allocator.buffer(capacity: 0)
        let date = worker.dateHeader.current()
        PlainResponse.write(
            .internalServerError, sendsBody: !framing.isHead,
            connection: ConnectionHeader(keepAlive: framing.keepAlive, isHTTP10: framing.isHTTP10),
            date: observed?.requestHeader.map { date + $0 } ?? date, into: &buffer)
        observed?.status = 500
        observed?.bytes = framing.isHead ? 0 : ServerErrorResponse.internalServerError.message.utf8CodeUnitCount
        headSent = true
        logRequest(status: 500)
        sink.write(.byteBuffer(buffer), flush: false, completion: nil)
    }

    /// An error escaped the app's own handling (a stream that failed, a
    /// response that cannot be written): 500 if nothing was sent, else the
    /// connection closes so the client sees a truncated body.
    func fail(_ message: String) {
        worker.currentRequest = id
        // A stream's failure starts with "(route /p, handler app.lua:3)"
        // (server.lua): it reads as dispatch's "GET /p (route ...): ...".
        let separator = message.hasPrefix("(route ") ? " " : ": "
        let what =
            background.map { "error in \($0.label)" }
            ?? "error while handling \(request.head.method) \(request.head.uri)"
        worker.log(.error, Worker.oneRecord("\(what)\(separator)\(message)"))
        worker.observer?.metrics?.server.luaErrors.increment()
        if !headSent && !cancelled && background == nil {
            writeInternalError()
        } else {
            framing.keepAlive = false
            webSocket?.failed = true
            sink.responseFailed(message)
        }
        finish()
    }

    func finish() {
        guard !isFinished else { return }
        flushStream()
        state = .finished
        if let stream = request.bodyStream {
            worker.bodyStreams[id] = nil
            stream.onAvailable = nil
            stream.removeTempFiles()
        }
        worker.requestEnded(id)
        if !children.isEmpty || !subscriptions.isEmpty { closeOwned() }
        worker.releaseThread(thread, reference: threadReference)
        if observed != nil { recordFinished() }
        if let webSocket {
            webSocket.handlerFinished()
        } else {
            sink.requestFinished(keepAlive: framing.keepAlive && !cancelled)
        }
    }

    var isFinished: Bool {
        if case .finished = state { return true }
        return false
    }
}
