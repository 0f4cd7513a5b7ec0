import NIOConcurrencyHelpers

/// `microdot.pubsub` for one server: the backend every worker publishes to
/// and receives from, and the number of open subscriptions (the
/// `pubsub_subscriptions` gauge, `MicrodotServer.pubsubSubscriptions`).
final class PubSubHub: Sendable {
    let backend: PubSubBackend
    /// The `--shared` Redis server, which `microdot.shared` uses too; nil:
    /// both are the process's own.
    let remote: RedisEndpoint?
    private let count = NIOLockedValueBox(0)

    init(backend: PubSubBackend = LocalPubSub(), remote: RedisEndpoint? = nil) {
        self.backend = backend
        self.remote = remote
    }

    /// Subscriptions open in every worker of the process.
    var subscriptions: Int { count.withLockedValue { $0 } }

    func opened() { count.withLockedValue { $0 += 1 } }
    func closed() { count.withLockedValue { $0 -= 1 } }
}
