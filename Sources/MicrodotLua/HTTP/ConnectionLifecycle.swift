/// When a connection stops taking requests and when it closes: graceful
/// shutdown, `Connection: close`, a client that half-closed, a request that
/// cannot be read, a read deadline that ran out; and whether it lingers
/// (reads and drops what the client still sends) before it closes.
///
/// Events say how busy the connection is (`isIdle`: no request running or
/// waiting); the machine answers with what the connection must do.
struct ConnectionLifecycle {
    enum State: Equatable {
        /// Taking requests.
        case open
        /// Taking no more: closed once the running request (if any) is
        /// answered, or already closed.
        case closing
        /// The responses are written and the output closed; the input is
        /// read and dropped until the client closes its side or the
        /// lingering deadlines run out (nginx's lingering close).
        case lingering
    }

    enum Action: Equatable {
        case none
        /// Flush what was written and close.
        case close
        /// Answer the unreadable request with this error response, then
        /// close.
        case rejectAndClose(ServerErrorResponse)
        /// Drop the waiting requests; the running one is answered, then the
        /// connection closes.
        case closeAfterRunning
        /// Nothing to answer: read the next request if a read was held.
        case resumeReading
    }

    private var state = State.open
    /// The client sent all it will send (a TCP half-close).
    private var inputEnded = false
    /// A read deadline ran out: the client is not sending, or too slowly
    /// to be worth waiting for (a slowloris); the connection does not linger.
    private var timedOut = false

    var acceptsRequests: Bool { state == .open }
    var isLingering: Bool { state == .lingering }

    /// Graceful shutdown: an idle connection closes now, a busy one once its
    /// requests, and any being received, are answered.
    mutating func shutdownRequested(isIdle: Bool, isReceiving: Bool) -> Action {
        guard state == .open, isIdle, !isReceiving else { return .none }
        return close()
    }

    /// The client half-closed: answer what was asked, then close. A
    /// lingering connection has read all there is: it closes now.
    mutating func inputClosed(isIdle: Bool) -> Action {
        inputEnded = true
        if state == .lingering { return .close }
        guard state == .open, isIdle else { return .none }
        return close()
    }

    /// The last response is flushed and the connection is to close: true
    /// when it lingers first, because the client may still be sending (its
    /// input is open; its unread bytes would make the kernel answer with a
    /// reset that destroys the response before the client reads it). Not
    /// while the server shuts down, after a read timeout, nor when `lingers`
    /// (the configuration) is false.
    mutating func outputFlushed(isDraining: Bool, lingers: Bool) -> Bool {
        guard !inputEnded, !timedOut, !isDraining, lingers else { return false }
        state = .lingering
        return true
    }

    /// The request being received cannot be read whole (malformed, too long,
    /// too slow): answered at once when nothing is in flight, and the
    /// connection ends either way.
    /// While lingering, what the client sends is dropped unparsed: a parser
    /// error about bytes it had taken before (the parser reads its buffer
    /// when the lingering read is asked for) changes nothing.
    mutating func requestUnreadable(_ error: ServerErrorResponse, isIdle: Bool) -> Action {
        guard state != .lingering else { return .none }
        let answerNow = state == .open && isIdle
        state = .closing
        return answerNow ? .rejectAndClose(error) : .closeAfterRunning
    }

    /// A read deadline ran out: a kept-alive connection nobody uses closes
    /// quietly; a request that stalls is unreadable (408).
    mutating func readTimedOut(_ wait: ConnectionDeadlines.ReadWait, isIdle: Bool) -> Action {
        guard state == .open else { return .none }
        timedOut = true
        if wait == .nextRequest { return close() }
        return requestUnreadable(.requestTimeout, isIdle: isIdle)
    }

    /// The running request was answered. `keepAlive` is false when the
    /// response closes the connection; `isDraining` when the server shuts
    /// down; `hasMore` when a request waits or is being received.
    mutating func requestFinished(keepAlive: Bool, isDraining: Bool, hasMore: Bool) -> Action {
        if !keepAlive || state == .closing || (isDraining && !hasMore) { return close() }
        return .none
    }

    /// The queue ran out of requests to start.
    mutating func queueIdle() -> Action {
        guard state == .open else { return .none }
        return inputEnded ? close() : .resumeReading
    }

    /// The channel is gone (or going: lingering is over).
    mutating func channelClosed() {
        state = .closing
    }

    private mutating func close() -> Action {
        state = .closing
        return .close
    }
}
