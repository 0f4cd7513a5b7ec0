import Foundation
import PostgresNIO

/// A `pg.connect` URL, `postgres[ql]://user:pw@host[:port]/db[?sslmode=disable|require]`
/// (libpq's URI form, fewer options), read into what a connection needs.
struct PostgresTarget: Sendable, Hashable {
    var host: String
    var port: Int
    var user: String
    var password: String?
    var database: String
    /// `sslmode=require`: TLS, the certificate not checked (libpq's
    /// `require` does not check it either; `verify-full` is not offered).
    var tls: Bool

    /// `host:port/db`, the `server` of errors.
    var description: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "\(shownHost):\(port)/\(database)"
    }

    struct Invalid: Error, CustomStringConvertible {
        let description: String
    }

    /// Reads `url`; throws `Invalid` saying what is wrong (the password
    /// never appears in the message).
    init(url: String) throws {
        guard let components = URLComponents(string: url) else {
            throw Invalid(description: "invalid PostgreSQL URL (expected postgres://user:pw@host[:port]/db)")
        }
        guard let scheme = components.scheme?.lowercased(), scheme == "postgres" || scheme == "postgresql" else {
            throw Invalid(description: "a PostgreSQL URL starts with postgres:// or postgresql://")
        }
        guard let host = components.host, !host.isEmpty else {
            throw Invalid(description: "the PostgreSQL URL has no host")
        }
        guard let user = components.user, !user.isEmpty else {
            throw Invalid(description: "the PostgreSQL URL has no user (postgres://user:pw@host/db)")
        }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty, !database.contains("/") else {
            throw Invalid(description: "the PostgreSQL URL has no database (postgres://user:pw@host/db)")
        }
        var tls = false
        for item in components.queryItems ?? [] {
            switch (item.name, item.value) {
            case ("sslmode", "disable"): tls = false
            case ("sslmode", "require"): tls = true
            case ("sslmode", let value):
                throw Invalid(description: "sslmode must be disable or require, got \(value ?? "nothing")")
            default:
                throw Invalid(description: "unknown PostgreSQL URL parameter \(item.name) (only sslmode is read)")
            }
        }
        self.host = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        self.port = components.port ?? 5432
        self.user = user.removingPercentEncoding ?? user
        self.password = components.password.map { $0.removingPercentEncoding ?? $0 }
        self.database = database.removingPercentEncoding ?? database
        self.tls = tls
        guard (1...65535).contains(port) else { throw Invalid(description: "port must be from 1 to 65535") }
    }

    /// What `PostgresConnection.connect` takes.
    func configuration(connectTimeout: Double) throws -> PostgresConnection.Configuration {
        var configuration = PostgresConnection.Configuration(
            host: host, port: port, username: user, password: password, database: database,
            tls: tls ? .require(try Self.tlsContext()) : .disable)
        configuration.options.connectTimeout = .nanoseconds(Int64(min(connectTimeout, 1e6) * 1e9))
        return configuration
    }

    private static func tlsContext() throws -> NIOSSLContext {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateVerification = .none
        return try NIOSSLContext(configuration: tls)
    }
}
