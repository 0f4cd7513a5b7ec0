import NIOHTTP1

/// What a file response becomes under the request's preconditions and
/// range (RFC 9110 sections 13.2.2 and 14, as nginx applies them).
enum FileOutcome: Equatable {
    /// 200, the whole file.
    case whole
    /// 304: the client's copy is current.
    case notModified
    /// 412: an `If-Match` or `If-Unmodified-Since` failed.
    case preconditionFailed
    /// 206: these bytes of the file (`lowerBound...upperBound`, inclusive).
    case partial(ClosedRange<Int>)
    /// 416: the one range asked for starts past the end.
    case unsatisfiable
}

/// The validators of the response a condition is compared with: its
/// `ETag` (quotes and any `W/` included) and its `Last-Modified` in
/// seconds since the epoch; nil when it has none (or one that cannot be read).
struct FileValidators {
    var etag: [UInt8]?
    var lastModified: Int?
}

/// The conditional and range headers of a request, read once.
struct FileConditions {
    private var ifMatch: [UInt8]?
    private var ifNoneMatch: [UInt8]?
    private var ifModifiedSince: Int?
    private var ifUnmodifiedSince: Int?
    private var range: [UInt8]?
    private var ifRange: [UInt8]?

    /// Reads `headers`. A list header given on several lines is one list
    /// (RFC 9110 section 5.3); a date given twice, or that is no HTTP-date,
    /// is ignored (section 13.1.3).
    init(_ headers: HTTPHeaders) {
        var modifiedCount = 0
        var unmodifiedCount = 0
        for (name, value) in headers {
            let count = name.utf8.count
            guard count >= 5, count <= 19 else { continue }
            if Self.named(name, "if-match") {
                ifMatch = Self.joined(ifMatch, value)
            } else if Self.named(name, "if-none-match") {
                ifNoneMatch = Self.joined(ifNoneMatch, value)
            } else if Self.named(name, "if-modified-since") {
                modifiedCount += 1
                ifModifiedSince = modifiedCount == 1 ? HTTPDate.parse(value.utf8) : nil
            } else if Self.named(name, "if-unmodified-since") {
                unmodifiedCount += 1
                ifUnmodifiedSince = unmodifiedCount == 1 ? HTTPDate.parse(value.utf8) : nil
            } else if Self.named(name, "range") {
                // Two Range fields make no single range: ignored.
                range = range == nil ? Array(value.utf8) : Array("x".utf8)
            } else if Self.named(name, "if-range") {
                ifRange = ifRange == nil ? Array(value.utf8) : Array("x".utf8)
            }
        }
    }

    private static func named(_ name: String, _ lowercase: StaticString) -> Bool {
        let count = lowercase.utf8CodeUnitCount
        guard name.utf8.count == count else { return false }
        var index = 0
        for byte in name.utf8 {
            if byte | 0x20 != lowercase.utf8Start[index] { return false }
            index += 1
        }
        return true
    }

    private static func joined(_ list: [UInt8]?, _ value: String) -> [UInt8] {
        guard let list else { return Array(value.utf8) }
        return list + Array(",".utf8) + Array(value.utf8)
    }

    /// RFC 9110 section 13.2.2's order for a GET or HEAD whose answer would
    /// be 200: `If-Match`, else `If-Unmodified-Since` (412); `If-None-Match`,
    /// else `If-Modified-Since` (304, when the file is not newer: nginx's
    /// `if_modified_since before`); then, for a GET with `ranges`, `If-Range`
    /// and `Range`. A file of `size` bytes.
    func outcome(validators: FileValidators, size: Int, isGet: Bool, ranges: Bool) -> FileOutcome {
        if let ifMatch {
            if !EntityTags.match(ifMatch, validators.etag, weak: false) { return .preconditionFailed }
        } else if let ifUnmodifiedSince, let modified = validators.lastModified, modified > ifUnmodifiedSince {
            return .preconditionFailed
        }
        if let ifNoneMatch {
            if EntityTags.match(ifNoneMatch, validators.etag, weak: true) { return .notModified }
        } else if let ifModifiedSince, let modified = validators.lastModified, modified <= ifModifiedSince {
            return .notModified
        }
        guard isGet, ranges, let range, size > 0 else { return .whole }
        if let ifRange, !Self.ifRangeHolds(ifRange, validators) { return .whole }
        return ByteRange.outcome(range, size: size)
    }

    /// `If-Range` (RFC 9110 section 13.1.5): an entity-tag matching the
    /// current one strongly, or exactly the current `Last-Modified`.
    private static func ifRangeHolds(_ value: [UInt8], _ validators: FileValidators) -> Bool {
        if value.last == UInt8(ascii: "\"") {
            guard let etag = validators.etag else { return false }
            return EntityTags.match(value, etag, weak: false)
        }
        guard let modified = validators.lastModified, let date = HTTPDate.parse(value)
        else { return false }
        return date == modified
    }
}

/// Entity-tag lists (RFC 9110 section 8.8.3): `*`, or `"a", W/"b"`.
enum EntityTags {
    /// Whether the list `field` holds `etag` (`*` holds any current
    /// representation); `weak` compares the opaque tags only (section
    /// 8.8.3.2), else both must be strong and equal.
    static func match(_ field: [UInt8], _ etag: [UInt8]?, weak: Bool) -> Bool {
        let trimmed = trim(field[...])
        if trimmed.elementsEqual([UInt8(ascii: "*")]) { return true }
        guard let etag, let (etagWeak, opaque) = split(etag[...]) else { return false }
        if !weak && etagWeak { return false }
        var start = trimmed.startIndex
        while start < trimmed.endIndex {
            // An element ends at the comma after its closing quote.
            var end = start
            var quoted = false
            while end < trimmed.endIndex, quoted || trimmed[end] != UInt8(ascii: ",") {
                if trimmed[end] == UInt8(ascii: "\"") { quoted.toggle() }
                end += 1
            }
            if let (isWeak, tag) = split(trim(trimmed[start..<end])), weak || !isWeak, tag.elementsEqual(opaque) {
                return true
            }
            start = end + 1
        }
        return false
    }

    /// `W/"x"` as (true, `"x"`); nil when it is not an entity-tag.
    private static func split(_ tag: ArraySlice<UInt8>) -> (Bool, ArraySlice<UInt8>)? {
        var tag = tag
        var weak = false
        if tag.starts(with: [UInt8(ascii: "W"), UInt8(ascii: "/")]) {
            weak = true
            tag = tag.dropFirst(2)
        }
        guard tag.count >= 2, tag.first == UInt8(ascii: "\""), tag.last == UInt8(ascii: "\""),
            !tag.dropFirst().dropLast().contains(where: { $0 == UInt8(ascii: "\"") || $0 < 0x21 || $0 == 0x7F })
        else { return nil }
        return (weak, tag)
    }

    static func trim(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var bytes = bytes
        while let first = bytes.first, first == 0x20 || first == 0x09 { bytes = bytes.dropFirst() }
        while let last = bytes.last, last == 0x20 || last == 0x09 { bytes = bytes.dropLast() }
        return bytes
    }
}

/// A `Range` field (RFC 9110 section 14.2) against a file of `size` bytes.
enum ByteRange {
    /// One `bytes=a-b`, `bytes=a-` or `bytes=-n` (an end past the file is
    /// clamped): partial; `a` past the end or `-0`: unsatisfiable. Several
    /// ranges, another unit or a malformed field: whole (ignored, as RFC
    /// 9110 allows).
    static func outcome(_ field: [UInt8], size: Int) -> FileOutcome {
        let unit = Array("bytes=".utf8)
        guard field.count > unit.count, zip(field, unit).allSatisfy({ $0 | 0x20 == $1 }) else { return .whole }
        let specs = field[unit.count...].split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false)
            .map { EntityTags.trim($0) }.filter { !$0.isEmpty }
        guard specs.count == 1, let dash = specs[0].firstIndex(of: UInt8(ascii: "-")) else { return .whole }
        let first = specs[0][..<dash]
        let last = specs[0][(dash + 1)...]
        if first.isEmpty {
            guard let suffix = number(last) else { return .whole }
            return suffix == 0 ? .unsatisfiable : .partial(max(0, size - suffix)...(size - 1))
        }
        guard let start = number(first) else { return .whole }
        var end = size - 1
        if !last.isEmpty {
            guard let given = number(last), given >= start else { return .whole }
            end = min(given, size - 1)
        }
        return start >= size ? .unsatisfiable : .partial(start...end)
    }

    /// Decimal digits (at least one) as a number, saturating at Int.max.
    private static func number(_ digits: ArraySlice<UInt8>) -> Int? {
        guard !digits.isEmpty else { return nil }
        var value = 0
        for byte in digits {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            let (times, overflow) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times.addingReportingOverflow(Int(byte - UInt8(ascii: "0")))
            value = overflow || overflow2 ? Int.max : sum
        }
        return value
    }
}
