import NIOHTTP1

/// The sizes a request may have: `microdot.Request.max_content_length`,
/// `max_body_length` and `max_readline`, as the script left them.
struct RequestLimits {
    var maxContentLength = 16 * 1024 * 1024
    var maxBodyLength = 16 * 1024 * 1024
    /// The longest request line or header line.
    var maxReadline = 8 * 1024

    /// What a body of `length` bytes gets, as Microdot 2.7's `Request.create`
    /// and `dispatch_request`: over `max_content_length` a 413; over
    /// `max_body_length` (but within the other) it is not read before the
    /// route, which reads it as it arrives (`req.stream`); else it is read
    /// whole. A chunked body is judged as it grows.
    func handling(ofLength length: Int) -> BodyHandling {
        if length > maxContentLength { return .tooLarge }
        if length > maxBodyLength { return .stream }
        return .whole
    }

    enum BodyHandling: Equatable {
        case whole
        case stream
        case tooLarge
    }

    /// The most header lines a request may have (Apache's default).
    static let maxHeaderCount = 100
    /// All header lines together.
    var maxHeaderListSize: Int { max(64 * 1024, maxReadline) }

    /// The parser bounds each line by the whole head's limit; the connection
    /// checks `maxReadline` on the parsed head, to answer 414 or 431.
    var decoderLimits: NIOHTTPDecoderLimitConfiguration {
        var configuration = NIOHTTPDecoderLimitConfiguration()
        configuration.maxHeaderFieldSize = maxHeaderListSize
        configuration.maxHeaderListSize = maxHeaderListSize
        configuration.maxHeaderFieldCount = Self.maxHeaderCount
        return configuration
    }
}
