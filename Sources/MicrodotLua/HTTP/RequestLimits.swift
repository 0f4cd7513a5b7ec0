import NIOHTTP1

/// The sizes a request may have: `microdot.Request.max_content_length`,
/// `max_body_length` and `max_readline`, as the script left them.
struct RequestLimits {
    var maxContentLength = 16 * 1024 * 1024
    var maxBodyLength = 16 * 1024 * 1024
    /// The longest request line or header line.
    var maxReadline = 8 * 1024

    /// Bodies are read whole before the route runs, so the smaller of the two
    /// body limits is the one that holds.
    var bodyLimit: Int { min(maxContentLength, maxBodyLength) }

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
