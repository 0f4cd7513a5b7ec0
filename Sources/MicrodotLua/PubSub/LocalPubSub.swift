import NIOConcurrencyHelpers

/// The in-process backend: receivers by channel, under a lock. A publish
/// takes the lock only to copy the channel's receivers.
final class LocalPubSub: PubSubBackend {
    private let receivers = NIOLockedValueBox<[[UInt8]: [ObjectIdentifier: PubSubReceiver]]>([:])

    func join(_ channel: [UInt8], _ receiver: PubSubReceiver) {
        receivers.withLockedValue { $0[channel, default: [:]][ObjectIdentifier(receiver)] = receiver }
    }

    func leave(_ channel: [UInt8], _ receiver: PubSubReceiver) {
        receivers.withLockedValue { receivers in
            receivers[channel]?[ObjectIdentifier(receiver)] = nil
            if receivers[channel]?.isEmpty == true { receivers[channel] = nil }
        }
    }

    func publish(_ channel: [UInt8], _ message: [UInt8]) {
        let targets = receivers.withLockedValue { $0[channel].map { Array($0.values) } ?? [] }
        for receiver in targets { receiver.receive(channel, message) }
    }
}
