import NIOCore
import NIOHTTP1

/// What is known of a request once its response has ended (or the
/// connection was cut before it could be answered): the one record the
/// access log and the metrics are made from. Built where responses end —
/// `RequestTask.finish` for requests the app answered, the connection
/// handler for those it refused unread (400, 408, 414, 431...).
struct RequestRecord {
    /// The request's head; nil when it could not be read (a parse error, a
    /// timeout before the head ended): the log's request line is then `-`.
    var head: HTTPRequestHead?
    /// The matched route's pattern with its mount prefix (`/api/users/<int:id>`),
    /// empty when no route matched.
    var route: String
    var status: Int
    /// Body bytes sent (the head not counted), as nginx's `$body_bytes_sent`.
    var bytes: Int
    /// Seconds from the start of the request to the end of its response.
    var duration: Double
    /// Nil when the server does not log (ids are then made only on demand).
    var requestID: String?
    /// The client's address: the peer's, or the one `--trusted-proxy` gives.
    var client: String
}

/// The methods the metrics keep as labels (others count as `OTHER`, so a
/// client cannot grow the label set).
enum MetricMethod {
    static let known: Set<String> = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"]

    static func label(_ head: HTTPRequestHead?) -> String {
        guard let method = head?.method.rawValue else { return "" }
        return known.contains(method) ? method : "OTHER"
    }
}
