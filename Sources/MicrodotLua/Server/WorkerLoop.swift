import NIOCore

/// What one event loop owns: the worker whose Lua state takes new requests
/// (a reload replaces it; requests under way finish on the old one) and the
/// connections open on the loop, so that shutdown can drain them.
///
/// `@unchecked Sendable`: everything but `eventLoop` is read and changed only
/// on `eventLoop` (the methods run there); other threads only hand the
/// reference over to it.
final class WorkerLoop: @unchecked Sendable {
    let eventLoop: EventLoop
    var worker: Worker {
        didSet { worker.eventLoop = eventLoop }
    }

    private var connections: [ObjectIdentifier: any LoopConnection] = [:]
    private(set) var isDraining = false
    private var drained: EventLoopPromise<Void>?

    /// What clients get to send requests and read responses.
    let timeouts: Timeouts

    init(eventLoop: EventLoop, worker: Worker, timeouts: Timeouts = Timeouts()) {
        self.eventLoop = eventLoop
        self.timeouts = timeouts
        self.worker = worker
        worker.eventLoop = eventLoop
    }

    func add(_ connection: any LoopConnection) {
        connections[ObjectIdentifier(connection)] = connection
    }

    func remove(_ connection: any LoopConnection) {
        connections[ObjectIdentifier(connection)] = nil
        if isDraining && connections.isEmpty { drained?.succeed() }
    }

    /// Closes idle connections now and the others once their requests are
    /// answered; the future completes when none is left.
    func drain() -> EventLoopFuture<Void> {
        eventLoop.preconditionInEventLoop()
        if let drained { return drained.futureResult }
        let promise = eventLoop.makePromise(of: Void.self)
        drained = promise
        isDraining = true
        for connection in connections.values { connection.drain() }
        if connections.isEmpty { promise.succeed() }
        // Pending timers are dropped; runs under way get the same grace.
        let background = worker.background.retire(on: eventLoop)
        return promise.futureResult.and(background).map { _ in }
    }

    private var timeoutSweep: RepeatedTask?

    /// Checks the connections' read, write and lingering deadlines a few times per shortest
    /// timeout (at most every 250 ms): one task per loop, not one per request.
    func startTimeoutSweep() {
        eventLoop.preconditionInEventLoop()
        let timeouts = self.timeouts
        guard timeoutSweep == nil,
            let shortest = [
                timeouts.requestHead, timeouts.idle, timeouts.body, timeouts.write, timeouts.lingeringTimeout,
            ].filter({ $0 > 0 }).min()
        else {
            return
        }
        let period = TimeAmount.nanoseconds(Int64(min(max(shortest / 4, 0.01), 0.25) * 1e9))
        timeoutSweep = eventLoop.scheduleRepeatedTask(initialDelay: period, delay: period) { [weak self] _ in
            guard let self else { return }
            let now = NIODeadline.now()
            for connection in Array(self.connections.values) { connection.checkTimeouts(now: now) }
        }
    }

    /// The grace period is over: close whatever is still open.
    func closeAll() {
        for connection in connections.values { connection.forceClose() }
        worker.background.closeRunning()
        worker.pubsub.closeUnowned()
    }

    /// `--reload` loaded `worker`: the old state's pending timers are
    /// dropped, and its runs under way get `grace` seconds before they are
    /// closed, with the subscriptions they opened. The new one starts serving.
    func replace(with worker: Worker, grace: Double) {
        eventLoop.preconditionInEventLoop()
        let old = self.worker
        self.worker = worker
        let closing = eventLoop.scheduleTask(in: .nanoseconds(Int64(max(0, grace) * 1e9))) {
            old.background.closeRunning()
            old.pubsub.closeUnowned()
        }
        old.background.retire(on: eventLoop).whenSuccess {
            closing.cancel()
            old.pubsub.closeUnowned()
        }
        worker.background.startServing()
    }
}

/// A connection a loop keeps: an HTTP one, or a WebSocket after its upgrade.
protocol LoopConnection: AnyObject {
    /// Called by the loop's sweep.
    func checkTimeouts(now: NIODeadline)
    /// The server is shutting down: finish what is under way, then close.
    func drain()
    /// The grace period is over.
    func forceClose()
}
