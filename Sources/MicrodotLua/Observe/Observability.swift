import Logging
import NIOCore

#if canImport(Glibc)
    import Glibc
#endif

/// What a server records of the requests it answers: the access log
/// (`--access-log`) and the metrics (`--metrics`), each optional. One per
/// server; each worker reaches it through its `WorkerObserver`.
final class Observability: Sendable {
    let accessLog: AccessLog?
    let metrics: ServerMetrics?

    /// Nil when neither is asked for: the hot path then checks one optional.
    static func make(_ configuration: Configuration, logger: Logger) throws(AccessLogError) -> Observability? {
        guard configuration.accessLog != nil || configuration.metrics != nil else { return nil }
        let log = try configuration.accessLog.map { path throws(AccessLogError) in
            try AccessLog(path: path, logger: logger)
        }
        return Observability(accessLog: log, metrics: configuration.metrics != nil ? ServerMetrics() : nil)
    }

    private init(accessLog: AccessLog?, metrics: ServerMetrics?) {
        self.accessLog = accessLog
        self.metrics = metrics
    }
}

/// One worker's side of `Observability`: takes each `RequestRecord` on the
/// worker's loop. Not shared between loops.
final class WorkerObserver {
    let accessLog: AccessLog?
    let metrics: WorkerMetrics?
    /// Whether requests get ids from the host (the access log writes them
    /// and responses carry them back).
    var logs: Bool { accessLog != nil }
    /// The route patterns Lua hands back, by the address of Lua's string:
    /// a pattern lives as long as its route, so one conversion per route.
    var routeNames: [UnsafeRawPointer: String] = [:]

    init(_ observability: Observability) {
        accessLog = observability.accessLog
        metrics = observability.metrics.map(WorkerMetrics.init)
    }

    /// A request has started (`http_requests_in_flight`).
    func started() {
        metrics?.server.inFlight.increment()
    }

    /// A started request's response has ended.
    func finished(_ record: RequestRecord) {
        metrics?.server.inFlight.decrement()
        recordEnded(record)
    }

    /// A response ended; `recordEnded` alone for a request refused unread,
    /// which never counted as in flight.
    func recordEnded(_ record: RequestRecord) {
        metrics?.record(record)
        accessLog?.append(AccessLogLine.format(record, time: time(nil)))
    }
}
