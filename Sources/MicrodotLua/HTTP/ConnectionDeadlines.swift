import NIOCore

/// What a connection waits for from its client, and until when; and whether
/// a response is stuck because the client does not read it.
///
/// Read deadlines are values the worker loop's sweep compares with the clock
/// (`expired(now:)`), not scheduled tasks: arming a task per request would
/// cost more than the request. The write deadline is a task, armed only while
/// the channel cannot take more bytes, which a normal request never sees.
struct ConnectionDeadlines {
    /// What the connection is reading.
    enum ReadWait: Equatable {
        /// The first request's head, from accept on (a slow-headers attack).
        case requestHead
        /// The rest of a request whose head arrived: measured between reads.
        case body
        /// A next request on a kept-alive connection.
        case nextRequest
    }

    /// What to do with the write deadline task.
    enum WriteAction: Equatable {
        case none
        /// Schedule a task that closes the connection after this long.
        case armTimer(TimeAmount)
        /// Cancel the task scheduled by `armTimer`.
        case cancelTimer
    }

    private let timeouts: Timeouts
    private var reading: ReadWait?
    private var readDeadline = NIODeadline.distantFuture
    private var writeTimerArmed = false

    init(timeouts: Timeouts) {
        self.timeouts = timeouts
    }

    /// Starts (or restarts) waiting for `wait`; a timeout of 0 waits forever.
    mutating func startReading(_ wait: ReadWait, now: NIODeadline) {
        let seconds: Double
        switch wait {
        case .requestHead: seconds = timeouts.requestHead
        case .body: seconds = timeouts.body
        case .nextRequest: seconds = timeouts.idle
        }
        guard seconds > 0 else {
            reading = nil
            return
        }
        reading = wait
        readDeadline = now + .nanoseconds(Int64(seconds * 1e9))
    }

    /// The connection expects nothing from the client for now.
    mutating func stopReading() {
        reading = nil
    }

    /// The wait that ran out by `now`, reported once; nil while in time.
    mutating func expired(now: NIODeadline) -> ReadWait? {
        guard let wait = reading, now >= readDeadline else { return nil }
        reading = nil
        return wait
    }

    /// The channel's writability changed: a client that stops reading does
    /// not hold a response forever.
    mutating func writabilityChanged(isWritable: Bool) -> WriteAction {
        if isWritable {
            guard writeTimerArmed else { return .none }
            writeTimerArmed = false
            return .cancelTimer
        }
        guard !writeTimerArmed, timeouts.write > 0 else { return .none }
        writeTimerArmed = true
        return .armTimer(.nanoseconds(Int64(timeouts.write * 1e9)))
    }
}
