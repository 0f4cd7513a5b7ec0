import NIOCore

/// What a connection waits for from its client, and until when; whether a
/// response is stuck because the client does not read it; and how long a
/// closing connection keeps draining what its client still sends.
///
/// Deadlines are values the worker loop's sweep compares with the clock
/// (`expired(now:)`, `writeExpired(now:)`), not scheduled tasks: arming a
/// task per request would cost more than the request.
struct ConnectionDeadlines {
    /// What the connection is reading.
    enum ReadWait: Equatable {
        /// The first request's head, from accept on (a slow-headers attack).
        case requestHead
        /// The rest of a request whose head arrived: measured between reads.
        case body
        /// The rest of a streamed body its route left unread, read and
        /// dropped after the response: measured from the response, in all.
        case bodyRest
        /// A next request on a kept-alive connection.
        case nextRequest
        /// Nothing: the response is written and the output closed; what the
        /// client still sends is read and dropped (lingering close).
        case lingering
    }

    /// The most a lingering close reads and drops before it gives up on a
    /// client that keeps sending: 64 MiB.
    static let lingeringByteLimit = 64 * 1024 * 1024

    private let timeouts: Timeouts
    private var reading: ReadWait?
    private var readDeadline = NIODeadline.distantFuture
    /// The end of lingering, however much the client sends.
    private var lingeringEnd = NIODeadline.distantFuture
    private var lingeredBytes = 0
    /// Set while a response waits for the client to take more of it.
    private var writeDeadline: NIODeadline?

    init(timeouts: Timeouts) {
        self.timeouts = timeouts
    }

    private static func after(_ seconds: Double, _ now: NIODeadline) -> NIODeadline {
        now + .nanoseconds(Int64(seconds * 1e9))
    }

    /// Starts (or restarts) waiting for `wait`; a timeout of 0 waits forever.
    mutating func startReading(_ wait: ReadWait, now: NIODeadline) {
        let seconds: Double
        switch wait {
        case .requestHead: seconds = timeouts.requestHead
        case .body, .bodyRest: seconds = timeouts.body
        case .nextRequest: seconds = timeouts.idle
        case .lingering:
            startLingering(now: now)
            return
        }
        guard seconds > 0 else {
            reading = nil
            return
        }
        reading = wait
        readDeadline = Self.after(seconds, now)
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

    // MARK: Lingering close

    /// Whether a closing connection lingers at all (both limits above 0).
    var lingers: Bool { timeouts.lingeringTime > 0 && timeouts.lingeringTimeout > 0 }

    /// The output is closed: drain the input until `lingeringTimeout` passes
    /// without a read, `lingeringTime` in all, or too many bytes.
    private mutating func startLingering(now: NIODeadline) {
        reading = .lingering
        lingeredBytes = 0
        lingeringEnd = Self.after(timeouts.lingeringTime, now)
        readDeadline = min(Self.after(timeouts.lingeringTimeout, now), lingeringEnd)
    }

    /// `count` bytes were read and dropped while lingering; false when the
    /// connection has taken enough and closes now.
    mutating func lingered(_ count: Int, now: NIODeadline) -> Bool {
        guard reading == .lingering else { return false }
        lingeredBytes += count
        guard lingeredBytes <= Self.lingeringByteLimit, now < lingeringEnd else {
            reading = nil
            return false
        }
        readDeadline = min(Self.after(timeouts.lingeringTimeout, now), lingeringEnd)
        return true
    }

    // MARK: Write deadline

    /// The channel's writability changed: the clock runs while the client
    /// takes nothing, and restarts at each sign of progress (the connection
    /// took bytes: it became writable again, or a part of a response went
    /// out). A client that reads steadily is never cut, however long the
    /// response; one that stops is, `write` seconds later.
    mutating func writabilityChanged(isWritable: Bool, now: NIODeadline) {
        if isWritable {
            writeDeadline = nil
        } else if timeouts.write > 0 {
            writeDeadline = Self.after(timeouts.write, now)
        }
    }

    /// A part of a response went out while the channel was not writable:
    /// progress, so the write clock restarts.
    mutating func wroteSome(now: NIODeadline) {
        guard writeDeadline != nil else { return }
        writeDeadline = Self.after(timeouts.write, now)
    }

    /// Whether the client took nothing for the write timeout; reported once.
    mutating func writeExpired(now: NIODeadline) -> Bool {
        guard let deadline = writeDeadline, now >= deadline else { return false }
        writeDeadline = nil
        return true
    }
}
