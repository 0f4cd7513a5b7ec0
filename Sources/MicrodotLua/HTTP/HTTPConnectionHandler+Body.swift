import NIOCore

/// The body path of a connection: a body read whole before its route runs,
/// one over `max_body_length` that streams to its route as it arrives
/// (`RequestBodyStream`, lua-api section 19, as Microdot 2.7's
/// `Request.create`), 413 for one over `max_content_length`, and
/// 100 Continue (RFC 9110 section 10.1.1).
extension HTTPConnectionHandler {
    /// Answers 413 through the app now and closes afterwards: the unread
    /// body cannot be skipped on a kept-alive connection.
    func bodyTooLarge() {
        guard var request = receiving.take() else { return }
        discardingBody = true
        request.body = nil
        request.bodyTooLarge = true
        request.head.headers.replaceOrAdd(name: "connection", value: "close")
        queue.append(request)
        dispatch()
    }

    /// RFC 9110 section 10.1.1: 100 Continue for the request being received,
    /// once every response before it is written (responses go in order) and
    /// while its body has not started.
    func sendContinueIfDue() {
        guard continuePending, let context, let request = receiving, request.body == nil, queue.isIdle,
            lifecycle.acceptsRequests
        else {
            return
        }
        continuePending = false
        var buffer = context.channel.allocator.buffer(capacity: 25)
        buffer.writeStaticString("HTTP/1.1 100 Continue\r\n\r\n")
        context.writeAndFlush(wrapOutboundOut(.byteBuffer(buffer)), promise: nil)
    }

    /// The body of the request being received goes to its route as it
    /// arrives: the request is queued now, with what came so far. A
    /// 100 Continue it asks for is sent at the route's first read, and the
    /// body clock waits for it (the client is waiting for the server).
    func startStreaming(expectsContinue: Bool) {
        guard var request = receiving else { return }
        let stream = RequestBodyStream(expectsContinue: expectsContinue)
        if var body = request.body.take() { stream.append(&body) }
        stream.onDemand = { [weak self, weak stream] in
            guard let self, let stream else { return }
            self.streamDemanded(stream)
        }
        request.bodyStream = stream
        receiving = request
        if expectsContinue { deadlines.stopReading() }
        queue.append(request)
        dispatch()
    }

    /// A part of a streamed body arrived.
    func received(_ part: inout ByteBuffer, into stream: RequestBodyStream) {
        if stream.isDiscarding {
            // The route has answered: counted and dropped, up to the limit.
            stream.append(&part)
            if worker.limits.handling(ofLength: stream.received) == .tooLarge { forceClose() }
            return
        }
        deadlines.startReading(.body, now: .now())
        if worker.limits.handling(ofLength: stream.received + part.readableBytes) == .tooLarge {
            streamFailed(.tooLarge)
            return
        }
        stream.append(&part)
    }

    /// The streamed body of the request being received cannot go on: its
    /// route's reads raise (413, 408, 400), the rest of it is dropped, and
    /// the connection closes after the response (`RequestTask.respond`).
    func streamFailed(_ failure: RequestBodyStream.Failure) {
        guard let stream = receiving?.bodyStream else { return }
        receiving = nil
        discardingBody = true
        streamReadHeld = false
        deadlines.stopReading()
        if !stream.isDiscarding { stream.fail(failure) }
    }

    /// The streamed body ended. When its route has answered already, the
    /// connection goes on with the next request.
    func streamEnded(_ stream: RequestBodyStream) {
        streamReadHeld = false
        stream.finish()
        guard stream.isDiscarding, queue.running == nil else { return }
        if !queue.hasWaiting { deadlines.startReading(.nextRequest, now: .now()) }
        dispatch()
    }

    /// The channel asks to read while a body streams: read while its route
    /// keeps up, else hold (backpressure) and stop the body clock, since
    /// the client is not the one who is slow.
    func readForStream(_ stream: RequestBodyStream) {
        if stream.wantsMore {
            context?.read()
        } else {
            streamReadHeld = true
            deadlines.stopReading()
        }
    }

    /// The route read some of its body, or first asked for it: send the
    /// 100 Continue it is owed, and read again if reading was held. Called
    /// from inside Lua: a write and a read request, neither of which calls
    /// back into the handler's reading.
    func streamDemanded(_ stream: RequestBodyStream) {
        guard let context, receiving?.bodyStream === stream, lifecycle.acceptsRequests else { return }
        if stream.continuePending {
            stream.continueSent()
            var buffer = context.channel.allocator.buffer(capacity: 25)
            buffer.writeStaticString("HTTP/1.1 100 Continue\r\n\r\n")
            context.writeAndFlush(wrapOutboundOut(.byteBuffer(buffer)), promise: nil)
            deadlines.startReading(.body, now: .now())
        }
        if streamReadHeld && stream.wantsMore {
            streamReadHeld = false
            deadlines.startReading(.body, now: .now())
            context.read()
        }
    }

    /// The route answered without reading all of its body, and the
    /// connection stays open: the rest is read and dropped before the next
    /// request, within `--body-timeout` in all (else it closes).
    func dropUnreadBody() {
        guard let stream = receiving?.bodyStream, !stream.isComplete else { return }
        stream.discardRest()
        deadlines.startReading(.bodyRest, now: .now())
        if streamReadHeld {
            streamReadHeld = false
            context?.read()
        }
    }
}
