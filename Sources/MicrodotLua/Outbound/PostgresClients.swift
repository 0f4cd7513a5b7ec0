import Logging
import NIOConcurrencyHelpers
import NIOCore
import PostgresNIO

/// One worker's `microdot.pg` state: a pool per URL and options, opened on
/// the first query, and the transactions under way (a leased connection
/// each). Calls run as Swift tasks, so the state is behind a lock.
final class PostgresClients: Sendable {
    /// What `pg.connect` checked: the pool's key and the per-call timeout.
    struct Options: Sendable, Hashable {
        var url: String
        var poolSize: Int
        var connectTimeout: Double
    }

    private struct State {
        var pools: [Options: PostgresPool] = [:]
        var transactions: [Int: (pool: PostgresPool, connection: PostgresConnection)] = [:]
        var nextTransaction = 1
        var closed = false
    }

    private let state = NIOLockedValueBox(State())
    private let logger: Logger

    init(logger: Logger) {
        var logger = logger
        logger.logLevel = .critical  // postgres-nio's own records are not the app's
        self.logger = logger
    }

    /// The pool for `options`, made now if there is none.
    func pool(_ options: Options) throws -> PostgresPool {
        let target = try PostgresTarget(url: options.url)
        return try state.withLockedValue { state in
            if state.closed { throw PostgresFailure.closed }
            if let pool = state.pools[options] { return pool }
            let pool = PostgresPool(
                target: target, size: options.poolSize, connectTimeout: options.connectTimeout, logger: logger)
            state.pools[options] = pool
            return pool
        }
    }

    /// Runs one statement on a connection of the pool; `timeout` seconds
    /// bound the wait for a connection and the statement together.
    func query(
        _ options: Options, sql: String, parameters: [PostgresParameter], timeout: Double
    ) async throws -> PostgresResult {
        let pool = try pool(options)
        let deadline = NIODeadline.now() + Self.amount(timeout)
        let connection = try await Self.acquire(pool, timeout: timeout)
        do {
            let result = try await Self.run(connection, sql, parameters, until: deadline, timeout: timeout)
            await pool.release(connection, broken: false)
            return result
        } catch {
            let failure = PostgresFailure(error)
            await pool.release(connection, broken: failure.broken)
            throw failure
        }
    }

    /// Leases a connection and runs BEGIN on it; returns the transaction's
    /// number for `transactionQuery` and `end`.
    func begin(_ options: Options, timeout: Double) async throws -> Int {
        let pool = try pool(options)
        let deadline = NIODeadline.now() + Self.amount(timeout)
        let connection = try await Self.acquire(pool, timeout: timeout)
        do {
            _ = try await Self.run(connection, "BEGIN", [], until: deadline, timeout: timeout)
        } catch {
            let failure = PostgresFailure(error)
            await pool.release(connection, broken: failure.broken)
            throw failure
        }
        let id = state.withLockedValue { state -> Int? in
            guard !state.closed else { return nil }
            defer { state.nextTransaction += 1 }
            state.transactions[state.nextTransaction] = (pool, connection)
            return state.nextTransaction
        }
        guard let id else {
            await pool.release(connection, broken: true)
            throw PostgresFailure.closed
        }
        return id
    }

    /// A statement inside transaction `id`.
    func transactionQuery(
        _ id: Int, sql: String, parameters: [PostgresParameter], timeout: Double
    ) async throws -> PostgresResult {
        guard let (_, connection) = state.withLockedValue({ $0.transactions[id] }) else {
            throw PostgresFailure(message: "the transaction has ended", sqlstate: "25000", broken: false)
        }
        let deadline = NIODeadline.now() + Self.amount(timeout)
        do {
            return try await Self.run(connection, sql, parameters, until: deadline, timeout: timeout)
        } catch {
            throw PostgresFailure(error)
        }
    }

    /// COMMIT or ROLLBACK, then gives the connection back (closed when that
    /// failed, so no transaction stays open on it).
    func end(_ id: Int, commit: Bool, timeout: Double) async throws {
        guard let (pool, connection) = state.withLockedValue({ $0.transactions.removeValue(forKey: id) }) else {
            return
        }
        let deadline = NIODeadline.now() + Self.amount(timeout)
        do {
            _ = try await Self.run(connection, commit ? "COMMIT" : "ROLLBACK", [], until: deadline, timeout: timeout)
            await pool.release(connection, broken: false)
        } catch {
            await pool.release(connection, broken: true)
            throw PostgresFailure(error)
        }
    }

    /// A transaction its request dropped (the coroutine was collected):
    /// its connection is closed, which rolls it back.
    func abandon(_ id: Int) {
        guard let (pool, connection) = state.withLockedValue({ $0.transactions.removeValue(forKey: id) }) else {
            return
        }
        Task { await pool.release(connection, broken: true) }
    }

    /// The worker stops: every pool closes, open transactions roll back.
    func close() {
        let (pools, transactions) = state.withLockedValue { state in
            state.closed = true
            defer {
                state.pools = [:]
                state.transactions = [:]
            }
            return (Array(state.pools.values), Array(state.transactions.values))
        }
        for (pool, connection) in transactions { Task { await pool.release(connection, broken: true) } }
        for pool in pools { Task { await pool.close() } }
    }

    static func amount(_ seconds: Double) -> TimeAmount {
        .nanoseconds(Int64(min(max(seconds, 0), 1e6) * 1e9))
    }

    /// A connection from `pool` within `timeout` seconds. A connection that
    /// comes after the time is up goes back to the pool.
    private static func acquire(_ pool: PostgresPool, timeout: Double) async throws -> PostgresConnection {
        try await withThrowingTaskGroup(of: PostgresConnection?.self) { group in
            group.addTask { try await pool.acquire() }
            group.addTask {
                try await Task.sleep(nanoseconds: UInt64(min(max(timeout, 0), 1e6) * 1e9))
                return nil
            }
            let first: Result<PostgresConnection?, Error>
            do {
                first = .success(try await group.next() ?? nil)
            } catch {
                first = .failure(error)
            }
            group.cancelAll()
            while let late = await group.nextResult() {
                if case .success(let connection?) = late { await pool.release(connection, broken: false) }
            }
            switch first {
            case .success(let connection?): return connection
            case .success(nil): throw PostgresFailure.timeout(timeout)
            case .failure(let error): throw PostgresFailure(error)
            }
        }
    }

    /// One statement on `connection`, closed when `deadline` passes first
    /// (a statement cannot be stopped otherwise; the pool then drops it).
    private static func run(
        _ connection: PostgresConnection, _ sql: String, _ parameters: [PostgresParameter],
        until deadline: NIODeadline, timeout: Double
    ) async throws -> PostgresResult {
        let timedOut = NIOLockedValueBox(false)
        let timer = connection.eventLoop.scheduleTask(deadline: deadline) {
            timedOut.withLockedValue { $0 = true }
            PostgresPool.close(connection)
        }
        defer { timer.cancel() }
        let query = PostgresQuery(unsafeSQL: sql, binds: PostgresParameter.bindings(parameters))
        do {
            let result = try await connection.query(query, logger: connection.logger).get()
            var columns: [String] = []
            var rows: [[PostgresValue]] = []
            rows.reserveCapacity(result.rows.count)
            for row in result.rows {
                if columns.isEmpty { columns = row.map(\.columnName) }
                rows.append(row.map { PostgresValue.decode(type: $0.dataType, format: $0.format, bytes: $0.bytes) })
            }
            return PostgresResult(
                columns: columns, rows: rows, command: result.metadata.command, affected: result.metadata.rows)
        } catch {
            if timedOut.withLockedValue({ $0 }) { throw PostgresFailure.timeout(timeout) }
            throw error
        }
    }
}
