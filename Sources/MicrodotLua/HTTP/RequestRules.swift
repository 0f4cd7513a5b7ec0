import NIOHTTP1

/// The rules of RFC 9110 and RFC 9112 on a request head that NIO's parser
/// leaves to the server: the request target's form, Host, the transfer
/// codings and what HTTP/1.0 may use, expectations, and the requests this
/// server does not support (CONNECT, Upgrade), and the whitespace after a
/// field value, which the parser keeps. One pass over the headers.
///
/// The parser itself refuses what it cannot frame (a bad request line,
/// Content-Length with Transfer-Encoding, a bad chunk, an HTTP version other
/// than 1.0 and 1.1, which the connection answers with 505).
enum RequestRules {
    /// What becomes of a request.
    enum Verdict: Equatable {
        /// Served.
        case serve
        /// Served, then the connection closes: after a request that asks for
        /// another protocol (the parser reads nothing after it; RFC 9110
        /// section 7.8 lets the server ignore `Upgrade`), or whose
        /// `Connection` says `close` (RFC 9112 section 9.6).
        case serveThenClose
        /// Answered with this error without reaching the app; the connection
        /// closes after it.
        case refuse(ServerErrorResponse)
    }

    /// The verdict and what the connection needs from the head.
    struct Outcome: Equatable {
        var verdict: Verdict
        /// An HTTP/1.1 `Expect: 100-continue` (ignored in HTTP/1.0).
        var expectsContinue = false
        /// The Content-Length, when one was given.
        var declaredLength: Int?
    }

    /// Checks `head`; an absolute-form target becomes its path and query,
    /// and its authority replaces Host (RFC 9112 section 3.2.2).
    static func check(_ head: inout HTTPRequestHead) -> Outcome {
        var outcome = Outcome(verdict: .serve)
        let isHTTP10 = head.version.minor == 0
        var hostCount = 0
        var hostIsValid = true
        var hasTransferEncoding = false
        var codings = TransferCodings()
        var upgrade = false
        var hasTrailingWhitespace = false
        var asksToClose = false
        for (name, received) in head.headers {
            // RFC 9112 section 5.1: the whitespace around a field value is
            // not part of it (the parser drops the leading only).
            var value = received
            if endsWithWhitespace(received) {
                hasTrailingWhitespace = true
                value = withoutTrailingWhitespace(received)
            }
            switch name.utf8.count {
            case 4 where isNamed(name, "host"):
                hostCount += 1
                if !isValidHost(value) { hostIsValid = false }
            case 6 where isNamed(name, "expect"):
                if !isHTTP10, isNamed(value, "100-continue") { outcome.expectsContinue = true }
            case 7 where isNamed(name, "upgrade"):
                upgrade = true
            case 10 where isNamed(name, "connection"):
                if hasCloseOption(value) { asksToClose = true }
            case 14 where isNamed(name, "content-length"):
                // Digits past Int's range are a length over any limit.
                outcome.declaredLength =
                    Int(value) ?? (value.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } ? Int.max : nil)
            case 17 where isNamed(name, "transfer-encoding"):
                hasTransferEncoding = true
                codings.add(value)
            default:
                break
            }
        }
        if hasTrailingWhitespace {
            head.headers = HTTPHeaders(head.headers.map { ($0.name, withoutTrailingWhitespace($0.value)) })
        }
        // RFC 9112 section 3.2: one valid Host, required in HTTP/1.1.
        if hostCount > 1 || !hostIsValid || (hostCount == 0 && !isHTTP10) {
            outcome.verdict = .refuse(.badRequest)
            return outcome
        }
        // RFC 9110 section 9.3.6: tunnels are not served (501: the method is
        // not implemented); the connection closes, as tunnel bytes may follow.
        if head.method == .CONNECT {
            outcome.verdict = .refuse(.notImplemented)
            return outcome
        }
        if let refusal = codings.refusal(isHTTP10: isHTTP10, present: hasTransferEncoding) {
            outcome.verdict = .refuse(refusal)
            return outcome
        }
        if head.uri.utf8.first != UInt8(ascii: "/"), let refusal = rewriteTarget(&head) {
            outcome.verdict = .refuse(refusal)
            return outcome
        }
        // RFC 9112 section 9.3: "close" ends the connection after the
        // response whatever else Connection says (the parser's keep-alive
        // reading of HTTP/1.0 lets "keep-alive, close" stay open).
        if upgrade || asksToClose { outcome.verdict = .serveThenClose }
        return outcome
    }

    /// Whether a Connection value lists the `close` option (RFC 9110
    /// section 7.6.1: comma-separated, case-insensitive tokens).
    private static func hasCloseOption(_ value: String) -> Bool {
        value.utf8.split(separator: UInt8(ascii: ",")).contains { option in
            let trimmed = option.drop { $0 == 0x20 || $0 == 0x09 }.reversed().drop { $0 == 0x20 || $0 == 0x09 }
            return trimmed.count == 5 && trimmed.reversed().elementsEqual("close".utf8) { $0 | 0x20 == $1 }
        }
    }

    private static func endsWithWhitespace(_ value: String) -> Bool {
        let last = value.utf8.last
        return last == UInt8(ascii: " ") || last == UInt8(ascii: "\t")
    }

    private static func withoutTrailingWhitespace(_ value: String) -> String {
        guard endsWithWhitespace(value) else { return value }
        let bytes = value.utf8
        var end = bytes.endIndex
        while end > bytes.startIndex {
            let before = bytes.index(before: end)
            guard bytes[before] == UInt8(ascii: " ") || bytes[before] == UInt8(ascii: "\t") else { break }
            end = before
        }
        return String(decoding: bytes[..<end], as: UTF8.self)
    }

    // MARK: The request target (RFC 9112 section 3.2)

    /// A target that is not in origin-form: an absolute-form one becomes
    /// origin-form (section 3.2.2), `*` is for OPTIONS only (3.2.4); other
    /// forms are refused (authority-form is for CONNECT, 3.2.3).
    private static func rewriteTarget(_ head: inout HTTPRequestHead) -> ServerErrorResponse? {
        let target = head.uri
        if target == "*" { return head.method == .OPTIONS ? nil : .badRequest }
        let bytes = Array(target.utf8)
        let schemeLength: Int
        if hasPrefix(bytes, "http://") {
            schemeLength = 7
        } else if hasPrefix(bytes, "https://") {
            schemeLength = 8
        } else {
            return .badRequest
        }
        var end = schemeLength
        while end < bytes.count, bytes[end] != UInt8(ascii: "/"), bytes[end] != UInt8(ascii: "?"),
            bytes[end] != UInt8(ascii: "#")
        {
            end += 1
        }
        let authority = String(decoding: bytes[schemeLength..<end], as: UTF8.self)
        // An http(s) URI has a host (RFC 9110 section 4.2.1), with no userinfo.
        guard !authority.isEmpty, !authority.utf8.contains(UInt8(ascii: "@")), isValidHost(authority) else {
            return .badRequest
        }
        let rest = String(decoding: bytes[end...], as: UTF8.self)
        head.uri = rest.utf8.first == UInt8(ascii: "/") ? rest : "/" + rest
        head.headers.replaceOrAdd(name: "Host", value: authority)
        return nil
    }

    /// `uri-host [ ":" port ]` (RFC 9110 section 7.2, RFC 3986 section 3.2.2):
    /// a bracketed IP literal, or a name of unreserved, sub-delims and
    /// percent-encoded characters; empty is allowed.
    static func isValidHost(_ value: String) -> Bool {
        var bytes = value.utf8[...]
        if bytes.first == UInt8(ascii: "[") {
            guard let close = bytes.firstIndex(of: UInt8(ascii: "]")) else { return false }
            let literal = bytes[bytes.index(after: bytes.startIndex)..<close]
            guard !literal.isEmpty, literal.allSatisfy(isIPLiteralByte) else { return false }
            bytes = bytes[bytes.index(after: close)...]
        } else {
            let nameEnd = bytes.firstIndex(of: UInt8(ascii: ":")) ?? bytes.endIndex
            guard bytes[..<nameEnd].allSatisfy(isRegNameByte) else { return false }
            bytes = bytes[nameEnd...]
        }
        guard let colon = bytes.first else { return true }
        guard colon == UInt8(ascii: ":") else { return false }
        return bytes.dropFirst().allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }

    private static func isRegNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "-._~!$&'()*+,;=%".utf8.contains(byte)
        }
    }

    private static func isIPLiteralByte(_ byte: UInt8) -> Bool {
        isRegNameByte(byte) || byte == UInt8(ascii: ":")
    }

    // MARK: Transfer codings (RFC 9112 sections 6.1 and 6.3)

    /// The codings of every Transfer-Encoding line, in order.
    private struct TransferCodings {
        var chunkedCount = 0
        var lastIsChunked = false
        var hasOther = false

        mutating func add(_ value: String) {
            for element in value.utf8.split(separator: UInt8(ascii: ",")) {
                // A coding may have parameters; the list may have empty elements.
                let coding = element.prefix { $0 != UInt8(ascii: ";") }.filter { $0 != 32 && $0 != 9 }
                guard !coding.isEmpty else { continue }
                let isChunked = coding.count == 7 && isNamed(String(decoding: coding, as: UTF8.self), "chunked")
                if isChunked { chunkedCount += 1 } else { hasOther = true }
                lastIsChunked = isChunked
            }
        }

        func refusal(isHTTP10: Bool, present: Bool) -> ServerErrorResponse? {
            guard present else { return nil }
            // 6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing.
            if isHTTP10 { return .badRequest }
            // 6.3 rule 4: chunked must be the final coding, and (6.1) only once.
            if !lastIsChunked || chunkedCount > 1 { return .badRequest }
            // 6.1: a coding the server does not understand: 501.
            if hasOther { return .notImplemented }
            return nil
        }
    }

    // MARK: Bytes

    /// ASCII case-insensitive equality with a lowercase name.
    static func isNamed(_ value: String, _ lowercase: StaticString) -> Bool {
        guard value.utf8.count == lowercase.utf8CodeUnitCount else { return false }
        let expected = UnsafeBufferPointer(start: lowercase.utf8Start, count: lowercase.utf8CodeUnitCount)
        var index = 0
        for byte in value.utf8 {
            let folded = byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
            guard folded == expected[index] else { return false }
            index += 1
        }
        return true
    }

    private static func hasPrefix(_ bytes: [UInt8], _ lowercase: StaticString) -> Bool {
        let count = lowercase.utf8CodeUnitCount
        guard bytes.count >= count else { return false }
        return isNamed(String(decoding: bytes[0..<count], as: UTF8.self), lowercase)
    }
}
