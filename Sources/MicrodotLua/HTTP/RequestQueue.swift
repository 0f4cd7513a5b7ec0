import NIOCore

/// The requests of one connection, answered one at a time in arrival order:
/// pipelined requests wait their turn, and reading from the socket pauses
/// while one runs or waits, so a client cannot queue without bound. While the
/// client does not take the responses (the channel is not writable), no
/// request starts and nothing is read: a connection holds at most one
/// response beyond what the socket takes, whatever a client pipelines.
///
/// `Request` is what was read, `Running` what answers it (the connection
/// uses `ReceivedRequest` and `RequestTask`).
struct RequestQueue<Request, Running: AnyObject> {
    /// What to do with a read the channel asks for.
    enum ReadAction: Equatable {
        /// Read from the socket now.
        case read
        /// Hold the read until the queue is empty (`takeHeldRead`).
        case hold
    }

    private var waiting = CircularBuffer<Request>()
    /// The request being answered.
    private(set) var running: Running?
    private var readHeld = false
    /// The channel cannot take more: responses are not being read.
    private var outputBlocked = false

    /// Nothing is being answered and nothing waits.
    var isIdle: Bool { running == nil && waiting.isEmpty }
    var hasWaiting: Bool { !waiting.isEmpty }

    /// Whether a request read now could start at once: nothing runs or
    /// waits, and the client takes what is written.
    var startsAtOnce: Bool { running == nil && !outputBlocked && waiting.isEmpty }

    /// A request read whole joins the end of the queue.
    mutating func append(_ request: Request) {
        waiting.append(request)
    }

    /// The next request to answer, or nil while one runs (or none waits).
    /// Call `started` with what answers it.
    mutating func next() -> Request? {
        guard running == nil, !outputBlocked else { return nil }
        return waiting.popFirst()
    }

    mutating func started(_ task: Running) {
        running = task
    }

    /// The running request was answered.
    mutating func finished() {
        running = nil
    }

    /// The connection takes no more requests: the waiting ones are dropped.
    mutating func dropWaiting() {
        waiting.removeAll()
    }

    mutating func readRequested() -> ReadAction {
        guard isIdle, !outputBlocked else {
            readHeld = true
            return .hold
        }
        return .read
    }

    /// The channel's writability changed. Once it takes bytes again the
    /// connection dispatches the waiting requests (`next`) and then takes
    /// a held read (`takeHeldRead`).
    mutating func outputWritable(_ isWritable: Bool) {
        outputBlocked = !isWritable
    }

    /// Whether a held read is due now: true once, when the queue is idle
    /// and the client takes what is written.
    mutating func takeHeldRead() -> Bool {
        guard isIdle, !outputBlocked, readHeld else { return false }
        readHeld = false
        return true
    }
}
