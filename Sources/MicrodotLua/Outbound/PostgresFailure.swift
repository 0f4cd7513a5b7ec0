import NIOCore
import PostgresNIO

/// Why a `db:query` failed: what `pg.PostgresError` carries. Errors of the
/// server keep its SQLSTATE; the client's own use PostgreSQL's codes for the
/// same conditions: 08001 cannot connect, 08006 connection lost, 57014
/// timed out (as `statement_timeout` reports it).
struct PostgresFailure: Error, Sendable {
    var message: String
    var sqlstate: String?
    var detail: String?
    var hint: String?
    /// Whether the connection can no longer be used.
    var broken: Bool

    static let closed = PostgresFailure(message: "the server is shutting down", sqlstate: "08006", broken: true)

    init(message: String, sqlstate: String?, detail: String? = nil, hint: String? = nil, broken: Bool) {
        self.message = message
        self.sqlstate = sqlstate
        self.detail = detail
        self.hint = hint
        self.broken = broken
    }

    static func timeout(_ seconds: Double) -> PostgresFailure {
        PostgresFailure(message: "timeout after \(Seconds(seconds)) s", sqlstate: "57014", broken: true)
    }

    /// The failure for an error postgres-nio threw.
    init(_ error: Error) {
        if let failure = error as? PostgresFailure {
            self = failure
            return
        }
        guard let error = error as? PSQLError else {
            self.init(message: "\(error)", sqlstate: nil, broken: true)
            return
        }
        if error.code == .server, let info = error.serverInfo {
            self.init(
                message: info[.message] ?? "error", sqlstate: info[.sqlState], detail: info[.detail],
                hint: info[.hint], broken: false)
            return
        }
        switch error.code {
        case .connectionError:
            self.init(message: Self.connectMessage(error.underlying), sqlstate: "08001", broken: true)
        case .serverClosedConnection, .clientClosedConnection, .uncleanShutdown:
            self.init(message: "connection lost", sqlstate: "08006", broken: true)
        default:
            self.init(message: "\(error.code)", sqlstate: nil, broken: true)
        }
    }

    private static func connectMessage(_ underlying: Error?) -> String {
        guard let underlying else { return "cannot connect" }
        if connectionErrno(of: underlying) == ECONNREFUSED { return "connection refused" }
        if case .some(.connectTimeout) = underlying as? ChannelError { return "connect timeout" }
        return "cannot connect: \(underlying)"
    }

}

/// What one statement gave: its rows, column names in order, and the
/// command tag read as `{command =, affected =}`.
struct PostgresResult: Sendable {
    var columns: [String]
    var rows: [[PostgresValue]]
    var command: String
    var affected: Int?
}
