#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) for Date headers and
/// cookies; the three forms RFC 9110 section 5.6.7 has recipients read.
enum HTTPDate {
    private static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// The seconds since the epoch an IMF-fixdate can show: years 1 to 9999
    /// (its year has four digits).
    static let representable: ClosedRange<Double> = -62_135_596_800...253_402_300_799

    static func format(epochSeconds: Int) -> String {
        var seconds = time_t(epochSeconds)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) "
            + "\(parts.tm_year + 1900) \(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }

    /// Seconds since the epoch of an HTTP-date in any of RFC 9110's three
    /// forms: IMF-fixdate, obsolete RFC 850 (`Sunday, 06-Nov-94 08:49:37
    /// GMT`; a two-digit year more than 50 years ahead is the century
    /// before) and asctime (`Sun Nov  6 08:49:37 1994`); nil for anything
    /// else (callers ignore such a field, as RFC 9110 section 13.1 says).
    static func parse<Bytes: Collection<UInt8>>(_ text: Bytes) -> Int? {
        let bytes = Array(text)
        guard let comma = bytes.firstIndex(of: UInt8(ascii: ",")) else { return parseAsctime(bytes) }
        guard Self.dayIndex(bytes[0..<comma], long: comma > 3) != nil else { return nil }
        var reader = DateReader(bytes: bytes, position: comma + 1)
        guard reader.skip(" ") else { return nil }
        if comma == 3 {
            // IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`
            guard let day = reader.digits(2), reader.skip(" "), let month = reader.month(), reader.skip(" "),
                let year = reader.digits(4), reader.skip(" "), let clock = reader.time(), reader.skip(" GMT"),
                reader.atEnd
            else { return nil }
            return epoch(year: year, month: month, day: day, time: clock)
        }
        // RFC 850: `Sunday, 06-Nov-94 08:49:37 GMT`
        guard let day = reader.digits(2), reader.skip("-"), let month = reader.month(), reader.skip("-"),
            let short = reader.digits(2), reader.skip(" "), let clock = reader.time(), reader.skip(" GMT"),
            reader.atEnd
        else { return nil }
        var parts = tm()
        var now = time_t(time(nil))
        gmtime_r(&now, &parts)
        var year = Int(parts.tm_year + 1900) / 100 * 100 + short
        if year > Int(parts.tm_year + 1900) + 50 { year -= 100 }
        return epoch(year: year, month: month, day: day, time: clock)
    }

    /// asctime: `Sun Nov  6 08:49:37 1994` (the day padded with a space).
    private static func parseAsctime(_ bytes: [UInt8]) -> Int? {
        guard bytes.count == 24, dayIndex(bytes[0..<3], long: false) != nil else { return nil }
        var reader = DateReader(bytes: bytes, position: 3)
        guard reader.skip(" "), let month = reader.month(), reader.skip(" ") else { return nil }
        if bytes[reader.position] == UInt8(ascii: " ") { reader.position += 1 }
        guard let day = reader.digits(bytes[8] == UInt8(ascii: " ") ? 1 : 2), reader.skip(" "),
            let clock = reader.time(), reader.skip(" "), let year = reader.digits(4), reader.atEnd
        else { return nil }
        return epoch(year: year, month: month, day: day, time: clock)
    }

    private static let longDays = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]

    private static func dayIndex(_ name: ArraySlice<UInt8>, long: Bool) -> Int? {
        (long ? longDays : days).firstIndex { $0.utf8.elementsEqual(name) }
    }

    fileprivate static func monthIndex(_ name: ArraySlice<UInt8>) -> Int? {
        months.firstIndex { $0.utf8.elementsEqual(name) }
    }

    /// Days from 1970-01-01 to the date (proleptic Gregorian), then seconds;
    /// nil for a day the month does not have.
    private static func epoch(year: Int, month: Int, day: Int, time: Int) -> Int? {
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let lengths = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard day >= 1, day <= lengths[month] else { return nil }
        // Howard Hinnant's days_from_civil.
        let y = month < 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let m = month < 2 ? month + 10 : month - 2
        let dayOfYear = (153 * m + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return (era * 146_097 + dayOfEra - 719_468) * 86_400 + time
    }
}

/// A cursor over the bytes of a date being parsed.
private struct DateReader {
    let bytes: [UInt8]
    var position: Int

    var atEnd: Bool { position == bytes.count }

    mutating func skip(_ text: StaticString) -> Bool {
        let count = text.utf8CodeUnitCount
        guard position + count <= bytes.count else { return false }
        for index in 0..<count where bytes[position + index] != text.utf8Start[index] { return false }
        position += count
        return true
    }

    mutating func digits(_ count: Int) -> Int? {
        guard position + count <= bytes.count else { return nil }
        var value = 0
        for byte in bytes[position..<position + count] {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        position += count
        return value
    }

    mutating func month() -> Int? {
        guard position + 3 <= bytes.count, let month = HTTPDate.monthIndex(bytes[position..<position + 3]) else {
            return nil
        }
        position += 3
        return month
    }

    /// `HH:MM:SS` as seconds into the day (a leap second, 60, is taken).
    mutating func time() -> Int? {
        guard let hour = digits(2), hour < 24, skip(":"), let minute = digits(2), minute < 60, skip(":"),
            let second = digits(2), second <= 60
        else { return nil }
        return hour * 3600 + minute * 60 + second
    }
}

/// The `Date: ...\r\n` line, formatted at most once a second per worker.
struct DateHeaderCache {
    private var second = -1
    private(set) var line: [UInt8] = []

    mutating func current() -> [UInt8] {
        let now = Int(time(nil))
        if now != second {
            second = now
            line = Array("Date: \(HTTPDate.format(epochSeconds: now))\r\n".utf8)
        }
        return line
    }
}
