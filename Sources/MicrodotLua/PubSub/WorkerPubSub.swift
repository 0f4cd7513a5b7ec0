import NIOConcurrencyHelpers
import NIOCore

/// One worker's `microdot.pubsub` subscriptions: their channels, their
/// queues of unread messages (at most `maxQueued`, the oldest dropped and
/// counted) and the request each belongs to. Messages come from the
/// backend on any thread and are queued on the worker's loop, where a
/// waiting `sub:receive` is woken (`Worker.wake`, the subscription's id
/// being its key).
///
/// `@unchecked Sendable`: apart from `loop`, under its lock, everything is
/// touched on the worker's loop only.
final class WorkerPubSub: PubSubReceiver, @unchecked Sendable {
    static let maxQueued = 1000

    let hub: PubSubHub
    weak var worker: Worker?
    /// The loop deliveries go to, known from the first subscription on.
    private let loop = NIOLockedValueBox<EventLoop?>(nil)

    private struct Subscription {
        let channels: [[UInt8]]
        var queue = CircularBuffer<(channel: [UInt8], message: [UInt8])>()
        var dropped = 0
        /// The request whose end closes it; nil: open until closed.
        var owner: RequestTask?
    }
    private var subscriptions: [Int: Subscription] = [:]
    private var byChannel: [[UInt8]: Set<Int>] = [:]

    init(hub: PubSubHub) {
        self.hub = hub
    }

    /// A new subscription `id` to `channels`, closed with `owner` if given.
    func subscribe(_ id: Int, to channels: [[UInt8]], owner: RequestTask?, on eventLoop: EventLoop?) {
        if let eventLoop { loop.withLockedValue { $0 = eventLoop } }
        subscriptions[id] = Subscription(channels: channels, owner: owner)
        owner?.subscriptions.insert(id)
        hub.opened()
        for channel in channels {
            if byChannel[channel, default: []].isEmpty { hub.backend.join(channel, self) }
            byChannel[channel, default: []].insert(id)
        }
    }

    enum Received {
        case message(channel: [UInt8], message: [UInt8])
        case empty
        case closed
    }

    /// The oldest unread message of `id`.
    func receive(_ id: Int) -> Received {
        guard subscriptions[id] != nil else { return .closed }
        guard let next = subscriptions[id]?.queue.popFirst() else { return .empty }
        return .message(channel: next.channel, message: next.message)
    }

    /// The channels of subscription `id` (none once closed).
    func channels(of id: Int) -> [[UInt8]] {
        subscriptions[id]?.channels ?? []
    }

    func dropped(_ id: Int) -> Int {
        subscriptions[id]?.dropped ?? 0
    }

    /// Ends `id` (again: nothing); a coroutine waiting on it is woken.
    func close(_ id: Int) {
        guard let subscription = subscriptions.removeValue(forKey: id) else { return }
        subscription.owner?.subscriptions.remove(id)
        hub.closed()
        for channel in subscription.channels {
            byChannel[channel]?.remove(id)
            if byChannel[channel]?.isEmpty == true {
                byChannel[channel] = nil
                hub.backend.leave(channel, self)
            }
        }
        worker?.wake(id)
    }

    /// Closes the subscriptions no request owns (a reload or a shutdown
    /// retires the worker's timers and `on_start` runs).
    func closeUnowned() {
        for (id, subscription) in subscriptions where subscription.owner == nil { close(id) }
    }

    func receive(_ channel: [UInt8], _ message: [UInt8]) {
        // Subscribed without a loop (a test script): one thread, deliver now.
        guard let eventLoop = loop.withLockedValue({ $0 }) else { return deliver(channel, message) }
        eventLoop.execute { self.deliver(channel, message) }
    }

    private func deliver(_ channel: [UInt8], _ message: [UInt8]) {
        guard let ids = byChannel[channel] else { return }
        for id in ids {
            subscriptions[id]?.queue.append((channel, message))
            if let count = subscriptions[id]?.queue.count, count > Self.maxQueued {
                _ = subscriptions[id]?.queue.popFirst()
                subscriptions[id]?.dropped += 1
            }
            worker?.wake(id)
        }
    }
}
