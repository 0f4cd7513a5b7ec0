import Logging
import NIOPosix
import PostgresNIO

/// One worker's connections to one PostgreSQL server: at most `size` open
/// at once, opened when a call needs one and none is idle, dropped when
/// broken (the next call opens a new one). Nothing is retried: a call that
/// cannot connect fails with the reason.
///
/// postgres-nio's `PostgresClient` pools too, but retries failed connection
/// attempts with back-off for up to a minute while calls wait; the spec
/// wants each call to fail or reconnect at once, so the pool is ours and
/// the connections are postgres-nio's `PostgresConnection`s.
actor PostgresPool {
    let target: PostgresTarget
    let size: Int
    let connectTimeout: Double
    private let logger: Logger
    private var idle: [PostgresConnection] = []
    private var open = 0
    private var waiters: [(id: Int, continuation: CheckedContinuation<Void, Error>)] = []
    private var nextWaiter = 0
    private var nextConnectionID = 0
    private var closed = false

    init(target: PostgresTarget, size: Int, connectTimeout: Double, logger: Logger) {
        self.target = target
        self.size = size
        self.connectTimeout = connectTimeout
        self.logger = logger
    }

    /// A connection for one call (or one transaction); give it back with
    /// `release`. Waits while `size` are in use; the wait ends with the
    /// task's cancellation.
    func acquire() async throws -> PostgresConnection {
        while true {
            if closed { throw PostgresFailure.closed }
            while let connection = idle.popLast() {
                if !connection.isClosed { return connection }
                open -= 1
            }
            if open < size {
                open += 1
                do {
                    return try await connect()
                } catch {
                    open -= 1
                    wakeOne()
                    throw error
                }
            }
            try await waitForRelease()
        }
    }

    /// Takes a connection back; a broken one (or one closed meanwhile) is
    /// closed and no longer counts.
    func release(_ connection: PostgresConnection, broken: Bool) {
        if broken || closed || connection.isClosed {
            open -= 1
            Self.close(connection)
        } else {
            idle.append(connection)
        }
        wakeOne()
    }

    /// Closes the idle connections and fails the waiting calls; the ones in
    /// use close when released.
    func close() {
        closed = true
        for connection in idle { Self.close(connection) }
        open -= idle.count
        idle = []
        let waiting = waiters
        waiters = []
        for waiter in waiting { waiter.continuation.resume(throwing: PostgresFailure.closed) }
    }

    /// Closes `connection`, holding it until that is done (postgres-nio
    /// requires a connection to be closed before it goes away).
    nonisolated static func close(_ connection: PostgresConnection) {
        connection.close().whenComplete { _ in withExtendedLifetime(connection) {} }
    }

    private func connect() async throws -> PostgresConnection {
        nextConnectionID += 1
        return try await PostgresConnection.connect(
            on: MultiThreadedEventLoopGroup.singleton.next(),
            configuration: try target.configuration(connectTimeout: connectTimeout),
            id: nextConnectionID, logger: logger)
    }

    private func wakeOne() {
        guard !waiters.isEmpty else { return }
        waiters.removeFirst().continuation.resume()
    }

    private func waitForRelease() async throws {
        nextWaiter += 1
        let id = nextWaiter
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
                if Task.isCancelled {
                    continuation.resume(throwing: CancellationError())
                } else {
                    waiters.append((id, continuation))
                }
            }
        } onCancel: {
            Task { await self.cancelWait(id) }
        }
    }

    private func cancelWait(_ id: Int) {
        guard let index = waiters.firstIndex(where: { $0.id == id }) else { return }
        waiters.remove(at: index).continuation.resume(throwing: CancellationError())
    }
}
