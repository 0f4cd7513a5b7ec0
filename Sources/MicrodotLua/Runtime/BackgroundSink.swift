import NIOCore

/// Where a background run's "response" goes: nowhere. A timer or spawned
/// coroutine returns nothing; its end is all the scheduler needs.
final class BackgroundSink: ResponseSink {
    var onFinish: (() -> Void)?

    var isWritable: Bool { true }
    var allocator: ByteBufferAllocator { ByteBufferAllocator() }
    var clientAddress: (host: String, port: Int) { ("", 0) }
    var isDraining: Bool { false }
    func write(_ data: IOData, flush: Bool, completion: ((Result<Void, Error>) -> Void)?) {
        completion?(.success(()))
    }
    func flush() {}
    func requestFinished(keepAlive: Bool) {
        let onFinish = self.onFinish
        self.onFinish = nil
        onFinish?()
    }
}
