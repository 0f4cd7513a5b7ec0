import NIOHTTP1

#if canImport(Glibc)
    import Glibc
#endif

/// A line of the access log: nginx's `combined` format with the request id
/// at the end (spec section 21):
/// `127.0.0.1 - ada [30/Nov/2026:14:03:05 +0000] "GET /u/7 HTTP/1.1" 200 14 "-" "curl/8.0" 9f86...`.
enum AccessLogLine {
    /// The line for `record` ending at `time` (seconds since the epoch,
    /// written in local time), with its newline.
    static func format(_ record: RequestRecord, time: Int) -> [UInt8] {
        var line: [UInt8] = []
        line.reserveCapacity(256)
        line += record.client.isEmpty ? Array("-".utf8) : Array(record.client.utf8)
        line += Array(" - ".utf8)
        line += basicUser(record.head).map { escaped(Array($0)) } ?? [UInt8(ascii: "-")]
        line += Array(" [".utf8)
        line += localTime(time)
        line += Array("] ".utf8)
        if let head = record.head {
            line.append(UInt8(ascii: "\""))
            line += escaped(Array(requestLine(head).utf8))
            line.append(UInt8(ascii: "\""))
        } else {
            line.append(UInt8(ascii: "-"))
        }
        line += Array(" \(record.status) \(record.bytes) ".utf8)
        line += quoted(record.head?.headers.first(name: "referer"))
        line.append(UInt8(ascii: " "))
        line += quoted(record.head?.headers.first(name: "user-agent"))
        line.append(UInt8(ascii: " "))
        line += Array((record.requestID ?? "-").utf8)
        line.append(UInt8(ascii: "\n"))
        return line
    }

    /// The request line as received: method, target, version.
    static func requestLine(_ head: HTTPRequestHead) -> String {
        "\(head.method.rawValue) \(head.uri) HTTP/\(head.version.major).\(head.version.minor)"
    }

    /// `"value"` escaped, or `"-"` when absent (nginx writes `"-"` too).
    private static func quoted(_ value: String?) -> [UInt8] {
        guard let value, !value.isEmpty else { return Array("\"-\"".utf8) }
        return [UInt8(ascii: "\"")] + escaped(Array(value.utf8)) + [UInt8(ascii: "\"")]
    }

    /// `"`, `\` and bytes outside 0x20-0x7e as `\xHH`, as nginx escapes
    /// variables in its log, so a line cannot be split or forged.
    static func escaped(_ bytes: [UInt8]) -> [UInt8] {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        for byte in bytes {
            if byte < 0x20 || byte > 0x7e || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                out += [UInt8(ascii: "\\"), UInt8(ascii: "x"), hex[Int(byte >> 4)], hex[Int(byte & 0xf)]]
            } else {
                out.append(byte)
            }
        }
        return out
    }

    /// The user of `Authorization: Basic ...` (before the first colon), or nil.
    static func basicUser(_ head: HTTPRequestHead?) -> ArraySlice<UInt8>? {
        guard let value = head?.headers.first(name: "authorization") else { return nil }
        let parts = value.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "basic",
            case .success(let decoded) = Base64.a2b(Array(parts[1].utf8))
        else { return nil }
        let user = decoded.prefix { $0 != UInt8(ascii: ":") }
        return user.isEmpty ? nil : user
    }

    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// `30/Nov/2026:14:03:05 +0000` in the process's time zone (`TZ`).
    static func localTime(_ seconds: Int) -> [UInt8] {
        var time = time_t(seconds)
        var parts = tm()
        localtime_r(&time, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let offset = Int(parts.tm_gmtoff) / 60
        let sign = offset < 0 ? "-" : "+"
        let zone = two(Int32(abs(offset) / 60)) + two(Int32(abs(offset) % 60))
        let text =
            "\(two(parts.tm_mday))/\(months[Int(parts.tm_mon)])/\(parts.tm_year + 1900):"
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) \(sign)\(zone)"
        return Array(text.utf8)
    }
}
