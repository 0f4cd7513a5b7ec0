/// RFC 9112 section 6.3 on a parsed head: how the body is delimited, and
/// llhttp's reading of Connection and Upgrade.
enum RequestFraming {
    /// Fills `head.framing`, `keepAlive` and `isUpgrade` from its fields.
    static func apply(to head: inout RequestHead, _ bytes: UnsafeRawBufferPointer) -> HeadError? {
        var length: UInt64?
        var transferEncoding = false
        var chunkedLast = false
        var close = false
        var keepAlive = false
        var connectionUpgrade = false
        var upgrade = false
        for field in head.fields {
            switch field.nameCount {
            case 7 where named(bytes, field, "upgrade"):
                upgrade = true
            case 10 where named(bytes, field, "connection"):
                forEachElement(bytes, field) { start, end in
                    if equals(bytes, start, end, "close") { close = true }
                    if equals(bytes, start, end, "keep-alive") { keepAlive = true }
                    if equals(bytes, start, end, "upgrade") { connectionUpgrade = true }
                }
            case 14 where named(bytes, field, "content-length"):
                // Rule 5: one length, digits only (a list of equal values too is refused).
                guard length == nil, let value = digits(bytes, field) else { return .invalidContentLength }
                length = value
            case 17 where named(bytes, field, "transfer-encoding"):
                transferEncoding = true
                forEachElement(bytes, field) { start, end in
                    chunkedLast = equals(bytes, start, end, "chunked")
                }
            default:
                break
            }
        }
        head.keepAlive = head.versionMinor == 0 ? keepAlive : !close
        head.isUpgrade = (upgrade && connectionUpgrade) || head.method == RequestMethods.connect
        if head.method == RequestMethods.connect {
            head.framing = .none
            return nil
        }
        if transferEncoding {
            // Rule 3: both is a smuggling risk; rule 4: chunked must be final.
            if length != nil { return .contentLengthWithTransferEncoding }
            guard chunkedLast else { return .invalidTransferEncoding }
            head.framing = .chunked
        } else if let length, length > 0 {
            head.framing = .length(length)
        } else {
            head.framing = .none
        }
        return nil
    }

    /// ASCII case-insensitive comparison of a field name with a lowercase name.
    @inline(__always)
    static func named(_ bytes: UnsafeRawBufferPointer, _ field: RequestHead.Field, _ name: StaticString) -> Bool {
        equals(bytes, field.nameStart, field.nameStart + field.nameCount, name)
    }

    @inline(__always)
    static func equals(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int, _ lowercase: StaticString) -> Bool {
        guard end - start == lowercase.utf8CodeUnitCount else { return false }
        for offset in 0..<(end - start) {
            let byte = bytes[start + offset]
            let folded = byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
            if folded != lowercase.utf8Start[offset] { return false }
        }
        return true
    }

    /// The elements of a comma-separated value, without their whitespace;
    /// empty elements are skipped (RFC 9110 section 5.6.1).
    private static func forEachElement(
        _ bytes: UnsafeRawBufferPointer, _ field: RequestHead.Field, _ body: (Int, Int) -> Void
    ) {
        let end = field.valueStart + field.valueCount
        var start = field.valueStart
        while start <= end {
            var stop = start
            while stop < end && bytes[stop] != UInt8(ascii: ",") { stop += 1 }
            var first = start
            var last = stop
            while first < last && (bytes[first] == .space || bytes[first] == .tab) { first += 1 }
            while last > first && (bytes[last - 1] == .space || bytes[last - 1] == .tab) { last -= 1 }
            if first < last { body(first, last) }
            start = stop + 1
        }
    }

    /// A Content-Length value: 1DIGIT, trailing whitespace allowed, at most 2^64 - 1.
    private static func digits(_ bytes: UnsafeRawBufferPointer, _ field: RequestHead.Field) -> UInt64? {
        var end = field.valueStart + field.valueCount
        while end > field.valueStart && (bytes[end - 1] == .space || bytes[end - 1] == .tab) { end -= 1 }
        guard end > field.valueStart else { return nil }
        var value: UInt64 = 0
        for index in field.valueStart..<end {
            guard let digit = CharacterClasses.digit(bytes[index]) else { return nil }
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(digit))
            if overflow1 || overflow2 { return nil }
            value = sum
        }
        return value
    }
}
