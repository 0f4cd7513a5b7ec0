import NIOHTTP1

/// When `--gzip` compresses a response (section 21 of the spec): the
/// request's `Accept-Encoding`, the response's status, type and size.
enum GzipRules {
    /// Complete bodies shorter than this go out as they are: the gzip
    /// header and trailer alone are 18 bytes.
    static let minimumLength = 256
    /// zlib's level 6, its default: nginx's `gzip_comp_level` is 1, but 6
    /// costs little more time on small bodies and saves bytes.
    static let level: Int32 = 6

    /// Whether `Accept-Encoding` (RFC 9110 section 12.5.3) takes gzip: a
    /// `gzip` (or `x-gzip`, section 8.4.1.3) element with a q-value above
    /// 0, else a `*` one. An absent header, `gzip;q=0`, or `*;q=0` without
    /// `gzip`: no. `identity` says nothing about gzip; when gzip is not
    /// taken the body goes uncompressed even if identity is refused (nginx
    /// does the same; RFC 9110 allows it). An element whose q-value is not
    /// a qvalue counts as refused.
    static func accepts(_ headers: HTTPHeaders) -> Bool {
        var gzip: Bool?
        var star: Bool?
        for value in headers["Accept-Encoding"] {
            for element in Array(value.utf8).split(separator: UInt8(ascii: ",")) {
                let parts = element.split(separator: UInt8(ascii: ";"), omittingEmptySubsequences: false)
                let coding = trim(parts[0])
                let isGzip = equalsLowercased(coding, "gzip") || equalsLowercased(coding, "x-gzip")
                let isStar = coding.count == 1 && coding.first == UInt8(ascii: "*")
                guard isGzip || isStar else { continue }
                var taken = true
                for parameter in parts.dropFirst() {
                    let pair = parameter.split(separator: UInt8(ascii: "="), maxSplits: 1)
                    guard pair.count == 2, equalsLowercased(trim(pair[0]), "q") else { continue }
                    taken = (quality(trim(pair[1])) ?? 0) > 0
                }
                // Of several elements for one coding, a refusal wins.
                if isGzip { gzip = (gzip ?? true) && taken } else { star = (star ?? true) && taken }
            }
        }
        return gzip ?? star ?? false
    }

    /// A qvalue (`0`, `0.5`, `1.000`) in thousandths; nil when it is not one.
    static func quality(_ text: ArraySlice<UInt8>) -> Int? {
        guard let first = text.first, first == UInt8(ascii: "0") || first == UInt8(ascii: "1") else { return nil }
        var value = Int(first - UInt8(ascii: "0")) * 1000
        let rest = text.dropFirst()
        guard !rest.isEmpty else { return value }
        guard rest.first == UInt8(ascii: "."), rest.count <= 4 else { return nil }
        var scale = 100
        for digit in rest.dropFirst() {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(digit) else { return nil }
            value += Int(digit - UInt8(ascii: "0")) * scale
            scale /= 10
        }
        return value <= 1000 ? value : nil
    }

    /// The statuses whose body may be compressed: not 1xx, 204 and 304
    /// (no body), nor 206 (a part of the uncompressed representation).
    static func allows(status: Int) -> Bool {
        status >= 200 && status != 204 && status != 206 && status != 304
    }

    private static let textPrefix = Array("text/".utf8)
    private static let types = [
        "application/json", "application/javascript", "application/xml", "image/svg+xml",
    ].map { Array($0.utf8) }
    private static let eventStream = Array("text/event-stream".utf8)

    /// Whether a `Content-Type` value names a type worth compressing:
    /// `text/*` but server-sent events, JSON, JavaScript, XML and SVG.
    /// Parameters (`; charset=utf-8`) and case do not matter.
    static func compresses(contentType: UnsafeRawBufferPointer) -> Bool {
        let end = contentType.firstIndex(of: UInt8(ascii: ";")) ?? contentType.count
        let type = trim(ArraySlice(contentType[0..<end]))
        if type.count > textPrefix.count, equalsLowercased(type.prefix(textPrefix.count), textPrefix) {
            return !equalsLowercased(type, eventStream)
        }
        return types.contains { equalsLowercased(type, $0) }
    }

    static func trim(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var slice = bytes
        while let first = slice.first, first == 0x20 || first == 0x09 { slice = slice.dropFirst() }
        while let last = slice.last, last == 0x20 || last == 0x09 { slice = slice.dropLast() }
        return slice
    }

    /// ASCII case-insensitive equality with a lower-case `name`.
    static func equalsLowercased(_ bytes: ArraySlice<UInt8>, _ name: [UInt8]) -> Bool {
        guard bytes.count == name.count else { return false }
        return zip(bytes, name).allSatisfy { pair in
            let byte = pair.0
            let lower = (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte | 0x20 : byte
            return lower == pair.1
        }
    }

    static func equalsLowercased(_ bytes: ArraySlice<UInt8>, _ name: StaticString) -> Bool {
        equalsLowercased(bytes, Array(UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)))
    }
}
