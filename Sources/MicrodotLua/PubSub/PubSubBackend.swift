/// How `microdot.pubsub` messages travel between the workers that
/// subscribe: in this process (`LocalPubSub`), or, later, through Redis to
/// other processes (section 21 of the spec). Channels and messages are
/// bytes. Delivery is at most once; messages one thread publishes on a
/// channel reach each receiver in the order published.
protocol PubSubBackend: AnyObject, Sendable {
    /// From now on `receiver` gets every message published on `channel`,
    /// until it leaves. Joining twice is joining once.
    func join(_ channel: [UInt8], _ receiver: PubSubReceiver)
    func leave(_ channel: [UInt8], _ receiver: PubSubReceiver)
    /// Hands `message` to every receiver of `channel`; waits for none.
    func publish(_ channel: [UInt8], _ message: [UInt8])
    /// Calls `completion` (on any thread) once messages published on every
    /// one of `channels`, joined before, reach the receivers: with nil, or
    /// why they cannot (the Redis server is unreachable).
    func whenSubscribed(_ channels: [[UInt8]], _ completion: @escaping @Sendable (String?) -> Void)
}

extension PubSubBackend {
    /// In-process: a joined receiver gets messages at once.
    func whenSubscribed(_ channels: [[UInt8]], _ completion: @escaping @Sendable (String?) -> Void) {
        completion(nil)
    }
}

/// What a backend delivers to: one worker's subscriptions. Called on any
/// thread; the receiver moves the message to its own.
protocol PubSubReceiver: AnyObject, Sendable {
    func receive(_ channel: [UInt8], _ message: [UInt8])
}
