import NIOCore
import NIOHTTP1

/// A request that has been read whole, waiting for its turn on the connection.
struct ReceivedRequest {
    var head: HTTPRequestHead
    var body: ByteBuffer?
    /// The body went over `max_content_length` and was not kept.
    var bodyTooLarge = false
    /// Served, then the connection closes (`RequestRules.Verdict`).
    var closesConnection = false
    /// Not served: answered with this error, then the connection closes.
    var refusal: ServerErrorResponse?
}
