import NIOCore
import NIOHTTP1

/// A request that has been read (whole, or its head when its body streams),
/// waiting for its turn on the connection.
struct ReceivedRequest {
    var head: HTTPRequestHead
    var body: ByteBuffer?
    /// The body, when the route reads it as it arrives (`req.stream`).
    var bodyStream: RequestBodyStream?
    /// The body went over `max_content_length` and was not kept.
    var bodyTooLarge = false
    /// Served, then the connection closes (`RequestRules.Verdict`).
    var closesConnection = false
    /// Not served: answered with this error, then the connection closes.
    var refusal: ServerErrorResponse?
}

extension ReceivedRequest {
    /// A request of the test clients, whose body is all there: the parts
    /// given (one for a `Content-Length` body, the chunks of a chunked
    /// one) become what a socket would have made of them, judged by
    /// `limits` as the connection does: a body read whole, one that
    /// streams (a chunked one once it grows past `max_body_length`, failing
    /// with 413 past `max_content_length`), or one refused with 413.
    static func inProcess(head: HTTPRequestHead, parts: [ByteBuffer], limits: RequestLimits) -> ReceivedRequest {
        var request = ReceivedRequest(head: head)
        let chunked = head.headers.contains(name: "transfer-encoding")
        let total = parts.reduce(0) { $0 + $1.readableBytes }
        if !chunked {
            switch limits.handling(ofLength: total) {
            case .tooLarge: request.bodyTooLarge = true
            case .stream: request.bodyStream = RequestBodyStream(complete: parts)
            case .whole where total > 0:
                var body = ByteBuffer()
                for var part in parts { body.writeBuffer(&part) }
                request.body = body
            case .whole: break
            }
            return request
        }
        var body = ByteBuffer()
        var stream: RequestBodyStream?
        for var part in parts {
            let length = (stream?.received ?? body.readableBytes) + part.readableBytes
            switch limits.handling(ofLength: length) {
            case .tooLarge:
                guard let stream else {
                    request.bodyTooLarge = true
                    return request
                }
                stream.fail(.tooLarge)
                request.bodyStream = stream
                return request
            case .stream where stream == nil:
                stream = RequestBodyStream()
                stream!.append(&body)
                stream!.append(&part)
            case .stream, .whole:
                if let stream { stream.append(&part) } else { body.writeBuffer(&part) }
            }
        }
        if let stream {
            stream.finish()
            request.bodyStream = stream
        } else if body.readableBytes > 0 {
            request.body = body
        }
        return request
    }
}
