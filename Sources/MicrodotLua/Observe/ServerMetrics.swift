import NIOCore
import Prometheus

/// The process's metrics (`--metrics`, spec section 21), in a
/// swift-prometheus registry. Counting on the hot path is the library's
/// atomics (counters, gauges) and an uncontended lock per histogram; each
/// worker keeps its own map from labels to those objects
/// (`WorkerMetrics`), so a request takes no registry lock. Values read at
/// scrape time (Lua memory, pub/sub subscriptions) are set when scraped.
final class ServerMetrics: Sendable {
    let registry: PrometheusCollectorRegistry
    /// Requests whose response has not ended.
    let inFlight: Gauge
    /// HTTP connections open (WebSockets included until they close).
    let connections: Gauge
    let webSockets: Gauge
    let subscriptions: Gauge
    /// Lua errors: ones a route raised (answered 500 by the app's error
    /// handling) and ones the host caught (a stream that failed).
    let luaErrors: Counter

    /// `http_request_duration_seconds`' upper bounds, in seconds.
    static let buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    init() {
        let registry = PrometheusCollectorRegistry()
        self.registry = registry
        func gauge(_ name: String, _ help: String) -> Gauge {
            registry.makeGauge(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help))
        }
        inFlight = gauge("http_requests_in_flight", "Requests whose response has not ended.")
        connections = gauge("http_connections_open", "HTTP connections open.")
        webSockets = gauge("websocket_connections_open", "WebSocket connections open.")
        subscriptions = gauge("pubsub_subscriptions", "microdot.pubsub subscriptions open.")
        luaErrors = registry.makeCounter(
            descriptor: MetricNameDescriptor(
                metricName: "lua_errors", unitName: "total", helpText: "Errors raised by Lua code."))
    }

    func requests(method: String, route: String, status: Int) -> Counter {
        registry.makeCounter(
            descriptor: MetricNameDescriptor(
                metricName: "http_requests", unitName: "total", helpText: "Requests answered."),
            labels: [("method", method), ("route", route), ("status", String(status))])
    }

    func durations(method: String, route: String) -> ValueHistogram {
        registry.makeValueHistogram(
            descriptor: MetricNameDescriptor(
                metricName: "http_request_duration", unitName: "seconds",
                helpText: "From the request's head to the end of its response."),
            labels: [("method", method), ("route", route)], buckets: Self.buckets)
    }

    func luaMemory(worker: Int) -> Gauge {
        registry.makeGauge(
            descriptor: MetricNameDescriptor(
                metricName: "lua_memory", unitName: "bytes", helpText: "Bytes each worker's Lua state holds."),
            labels: [("worker", String(worker))])
    }

    /// The text exposition after reading each loop's Lua memory on that
    /// loop; `subscriptions` is the server's count now.
    func scrape(loops: [WorkerLoop], subscriptions count: Int, on eventLoop: EventLoop) -> EventLoopFuture<[UInt8]> {
        subscriptions.set(Double(count))
        let reads = loops.map { loop in
            loop.eventLoop.submit { (loop.worker.index, Int(loop.worker.lua.context.pointee.used)) }
        }
        return EventLoopFuture.whenAllSucceed(reads, on: eventLoop).map { [self] memory in
            for (worker, bytes) in memory { luaMemory(worker: worker).set(Double(bytes)) }
            return registry.emitToBuffer()
        }
    }
}

/// One worker's labelled metrics, by labels: found without the registry's
/// lock. Used on the worker's loop only.
final class WorkerMetrics {
    let server: ServerMetrics
    private struct CountKey: Hashable {
        let method: String
        let route: String
        let status: Int
    }
    private struct RouteKey: Hashable {
        let method: String
        let route: String
    }
    private var counters: [CountKey: Counter] = [:]
    private var histograms: [RouteKey: ValueHistogram] = [:]

    init(server: ServerMetrics) {
        self.server = server
    }

    func record(_ record: RequestRecord) {
        let method = MetricMethod.label(record.head)
        let key = CountKey(method: method, route: record.route, status: record.status)
        if let counter = counters[key] {
            counter.increment()
        } else {
            let counter = server.requests(method: method, route: record.route, status: record.status)
            counters[key] = counter
            counter.increment()
        }
        let routeKey = RouteKey(method: method, route: record.route)
        if let histogram = histograms[routeKey] {
            histogram.record(record.duration)
        } else {
            let histogram = server.durations(method: method, route: record.route)
            histograms[routeKey] = histogram
            histogram.record(record.duration)
        }
    }
}
