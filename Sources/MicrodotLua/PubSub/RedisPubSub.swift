import NIOConcurrencyHelpers
import NIOCore

/// The `--shared` backend: channels are Redis channels of the same name
/// (spec section 21), so other processes and other clients may publish.
/// One connection per process in subscriber mode carries every channel
/// some worker listens to (SUBSCRIBE when a channel gets its first
/// receiver, UNSUBSCRIBE after its last) and hands each message to the
/// receivers. A lost connection is opened again within a second while any
/// channel has receivers; messages published meanwhile are missed (at
/// most once). Publishing from Lua goes through the worker's own pool
/// (pubsub.lua), so that it waits for Redis and fails at the caller.
///
/// `@unchecked Sendable`: `receivers` is under its lock; everything else is
/// touched on `loop` only.
final class RedisPubSub: PubSubBackend, @unchecked Sendable {
    let endpoint: RedisEndpoint
    let loop: EventLoop
    private let receivers = NIOLockedValueBox<[[UInt8]: [ObjectIdentifier: PubSubReceiver]]>([:])
    private var connection: RedisConnection?
    private var connecting = false
    private var confirmed: Set<[UInt8]> = []
    private var waiters: [Waiter] = []
    private var retry: Scheduled<Void>?
    /// For `publish` from Swift (fire and forget).
    private lazy var pool = RedisPool(endpoint: endpoint, loop: loop)

    private final class Waiter: @unchecked Sendable {
        let channels: Set<[UInt8]>
        let completion: @Sendable (RedisFailure?) -> Void
        var timer: Scheduled<Void>?

        init(channels: Set<[UInt8]>, completion: @escaping @Sendable (RedisFailure?) -> Void) {
            self.channels = channels
            self.completion = completion
        }
    }

    init(endpoint: RedisEndpoint, loop: EventLoop = RedisClients.blockingLoop) {
        self.endpoint = endpoint
        self.loop = loop
    }

    func join(_ channel: [UInt8], _ receiver: PubSubReceiver) {
        let first = receivers.withLockedValue { receivers -> Bool in
            let first = receivers[channel]?.isEmpty ?? true
            receivers[channel, default: [:]][ObjectIdentifier(receiver)] = receiver
            return first
        }
        if first { loop.execute { self.subscribe([channel]) } }
    }

    func leave(_ channel: [UInt8], _ receiver: PubSubReceiver) {
        let last = receivers.withLockedValue { receivers -> Bool in
            receivers[channel]?[ObjectIdentifier(receiver)] = nil
            guard receivers[channel]?.isEmpty == true else { return false }
            receivers[channel] = nil
            return true
        }
        if last { loop.execute { self.unsubscribe(channel) } }
    }

    func publish(_ channel: [UInt8], _ message: [UInt8]) {
        var command = ByteBufferAllocator().buffer(capacity: 32 + channel.count + message.count)
        RedisCommand.append(bytes: [Array("PUBLISH".utf8), channel, message], into: &command)
        loop.execute { [command] in self.pool.execute(command, replies: 1) { _ in } }
    }

    func whenSubscribed(_ channels: [[UInt8]], _ completion: @escaping @Sendable (String?) -> Void) {
        loop.execute {
            let waiter = Waiter(channels: Set(channels)) { completion($0?.description) }
            if waiter.channels.isSubset(of: self.confirmed) { return waiter.completion(nil) }
            self.waiters.append(waiter)
            waiter.timer = self.loop.scheduleTask(in: RedisPool.timeAmount(self.endpoint.timeout)) {
                let seconds = RedisPool.seconds(self.endpoint.timeout)
                self.finish(waiter, RedisFailure(description: "timeout after \(seconds) s"))
            }
            if self.connection == nil { self.connect() }
        }
    }

    private func finish(_ waiter: Waiter, _ failure: RedisFailure?) {
        guard let index = waiters.firstIndex(where: { $0 === waiter }) else { return }
        waiters.remove(at: index)
        waiter.timer?.cancel()
        waiter.completion(failure)
    }

    private var wanted: [[UInt8]] { receivers.withLockedValue { Array($0.keys) } }

    private func subscribe(_ channels: [[UInt8]]) {
        guard let connection else { return connect() }
        let live = receivers.withLockedValue { receivers in channels.filter { receivers[$0] != nil } }
        guard !live.isEmpty else { return }
        var command = ByteBufferAllocator().buffer(capacity: 64)
        RedisCommand.append(bytes: [Array("SUBSCRIBE".utf8)] + live, into: &command)
        connection.write(command)
    }

    private func unsubscribe(_ channel: [UInt8]) {
        guard receivers.withLockedValue({ $0[channel] == nil }) else { return }
        confirmed.remove(channel)
        guard let connection else { return }
        var command = ByteBufferAllocator().buffer(capacity: 64)
        RedisCommand.append(bytes: [Array("UNSUBSCRIBE".utf8), channel], into: &command)
        connection.write(command)
    }

    private func connect() {
        guard !connecting, connection == nil else { return }
        connecting = true
        retry?.cancel()
        retry = nil
        RedisPool(endpoint: endpoint, loop: loop).connect().whenComplete { result in
            self.connecting = false
            switch result {
            case .failure(let error):
                self.lost(error as? RedisFailure ?? RedisFailure(description: RedisPool.describe(error)))
            case .success(let connection):
                self.connection = connection
                connection.onClose = { failure in self.lost(failure) }
                connection.onPush = { [weak connection] reply in
                    if let connection { self.pushed(reply, on: connection) }
                }
                self.subscribe(self.wanted)
            }
        }
    }

    private func pushed(_ reply: RedisReply, on connection: RedisConnection) {
        if reply.isPush("message") {
            let channel = RedisReply.bytes(of: reply.element(1))
            let message = RedisReply.bytes(of: reply.element(2))
            let targets = receivers.withLockedValue { $0[channel].map { Array($0.values) } ?? [] }
            for receiver in targets { receiver.receive(channel, message) }
        } else if reply.isPush("subscribe") {
            confirmed.insert(RedisReply.bytes(of: reply.element(1)))
            for waiter in waiters where waiter.channels.isSubset(of: confirmed) { finish(waiter, nil) }
        } else if reply.isError {
            connection.close(RedisFailure(description: reply.text ?? "error"))
        }
    }

    /// The connection failed or closed: waiters fail; while channels have
    /// receivers, a new connection is tried a second later.
    private func lost(_ failure: RedisFailure) {
        connection = nil
        confirmed = []
        for waiter in waiters { finish(waiter, failure) }
        guard retry == nil, !wanted.isEmpty else { return }
        retry = loop.scheduleTask(in: .seconds(1)) {
            self.retry = nil
            if !self.wanted.isEmpty { self.connect() }
        }
    }
}
