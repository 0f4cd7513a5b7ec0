import NIOConcurrencyHelpers
import NIOCore

/// `r:subscribe(channel, ...)`: a connection of its own in subscriber
/// mode, its messages queued until `receive` takes them, as
/// `microdot.pubsub` subscriptions behave (API contract section 16): past
/// 1,000 unread the oldest are dropped and counted; one waiter at a time.
///
/// The connection lives on `loop`; Lua takes messages from the worker's
/// thread (the same thread, unless the subscription blocks): the queue is
/// behind a lock.
final class RedisSubscription: @unchecked Sendable {
    static let maxUnread = 1000

    let endpoint: RedisEndpoint
    let loop: EventLoop
    private let lock = NIOLock()
    private var messages = CircularBuffer<(message: [UInt8], channel: [UInt8])>()
    private var dropped = 0
    private var closed = false
    private var failure: RedisFailure?
    private var connection: RedisConnection?
    /// The waiting `receive`: called with true when there is something to
    /// take (a message, the close, a failure), false at its timeout.
    private var waiter: ((Bool) -> Void)?
    private var waiterTimer: Scheduled<Void>?

    init(endpoint: RedisEndpoint, loop: EventLoop) {
        self.endpoint = endpoint
        self.loop = loop
    }

    /// Connects and subscribes; `completion` runs on `loop` once the server
    /// confirmed every channel (so a message published after it arrives).
    func start(channels: [String], completion: @escaping (Result<Void, RedisFailure>) -> Void) {
        let pool = RedisPool(endpoint: endpoint, loop: loop)
        var completion = Optional(completion)
        let finish = { (result: Result<Void, RedisFailure>) in
            completion?(result)
            completion = nil
        }
        let timer = loop.scheduleTask(in: RedisPool.timeAmount(endpoint.timeout)) { [self] in
            finish(.failure(RedisFailure(description: "timeout after \(RedisPool.seconds(endpoint.timeout)) s")))
            close()
        }
        pool.connect().whenComplete { [self] result in
            switch result {
            case .failure(let error):
                timer.cancel()
                finish(.failure(error as? RedisFailure ?? RedisFailure(description: RedisPool.describe(error))))
            case .success(let connection):
                var confirmed = 0
                let isClosed = lock.withLock { () -> Bool in
                    self.connection = connection
                    return closed
                }
                if isClosed { connection.close() }
                connection.onClose = { [self] failure in
                    timer.cancel()
                    finish(.failure(failure))
                    lost(failure)
                }
                connection.onPush = { [self] reply in
                    if reply.isPush("message") {
                        received(reply)
                    } else if reply.isPush("subscribe") {
                        confirmed += 1
                        if confirmed == channels.count {
                            timer.cancel()
                            finish(.success(()))
                        }
                    } else if reply.isError {
                        timer.cancel()
                        let failure = RedisFailure(description: reply.text ?? "error")
                        finish(.failure(failure))
                        connection.close(failure)
                    }
                }
                var command = ByteBufferAllocator().buffer(capacity: 64)
                RedisCommand.append(["SUBSCRIBE"] + channels, into: &command)
                connection.write(command)
            }
        }
    }

    private func received(_ reply: RedisReply) {
        let channel = Array((RedisReply.text(of: reply.element(1)) ?? "").utf8)
        let message = RedisReply.bytes(of: reply.element(2))
        let wake = lock.withLock { () -> ((Bool) -> Void)? in
            if messages.count >= Self.maxUnread {
                messages.removeFirst()
                dropped += 1
            }
            messages.append((message, channel))
            return takeWaiter()
        }
        wake?(true)
    }

    private func lost(_ failure: RedisFailure) {
        let wake = lock.withLock { () -> ((Bool) -> Void)? in
            if !closed { self.failure = failure }
            return takeWaiter()
        }
        wake?(true)
    }

    /// Called with the lock held.
    private func takeWaiter() -> ((Bool) -> Void)? {
        let waiter = self.waiter
        self.waiter = nil
        waiterTimer?.cancel()
        waiterTimer = nil
        return waiter
    }

    enum Taken {
        case message([UInt8], channel: [UInt8])
        case empty
        case closed
        case failed(RedisFailure)
    }

    /// The oldest unread message, or why there is none.
    func take() -> Taken {
        lock.withLock {
            if let next = messages.popFirst() { return .message(next.message, channel: next.channel) }
            if closed { return .closed }
            if let failure { return .failed(failure) }
            return .empty
        }
    }

    var droppedCount: Int { lock.withLock { dropped } }

    /// Calls `wake(true)` when there is something to take, `wake(false)`
    /// after `timeout` seconds (nil: none); false at once when another
    /// `receive` already waits.
    func wait(timeout: Double?, wake: @escaping (Bool) -> Void) {
        loop.execute { [self] in
            let ready = lock.withLock { () -> Bool? in
                if !messages.isEmpty || closed || failure != nil { return true }
                if waiter != nil { return nil }
                waiter = wake
                if let timeout {
                    waiterTimer = loop.scheduleTask(in: RedisPool.timeAmount(timeout)) { [self] in
                        let expired = lock.withLock { takeWaiter() }
                        expired?(false)
                    }
                }
                return false
            }
            switch ready {
            case true?: wake(true)
            case nil: wake(false)
            default: break
            }
        }
    }

    /// Closes the connection; a waiting `receive` gets `nil, "closed"`.
    func close() {
        let (wake, connection) = lock.withLock { () -> (((Bool) -> Void)?, RedisConnection?) in
            closed = true
            messages.removeAll()
            return (takeWaiter(), self.connection)
        }
        if let connection { loop.execute { connection.close() } }
        wake?(true)
    }
}
