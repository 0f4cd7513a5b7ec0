import NIOCore

/// Text for PostgreSQL binary values that Lua gets as strings: numeric as
/// PostgreSQL prints it, uuid in lower case, dates and times in ISO 8601
/// (`2024-05-01`, `13:45:00.25`, `2024-05-01T13:45:00`, timestamptz in UTC
/// with `Z`), intervals as PostgreSQL's default style prints them.
enum PostgresText {
    /// Microseconds in a day.
    private static let day: Int64 = 86_400_000_000

    /// numeric: digit count, weight (of the first digit, in powers of
    /// 10000), sign, display scale, then base-10000 digits.
    static func numeric(_ buffer: inout ByteBuffer) -> String? {
        guard let count = buffer.readInteger(as: Int16.self), let weight = buffer.readInteger(as: Int16.self),
            let sign = buffer.readInteger(as: UInt16.self), let scale = buffer.readInteger(as: UInt16.self),
            count >= 0
        else { return nil }
        switch sign {
        case 0xC000: return "NaN"
        case 0xD000: return "Infinity"
        case 0xF000: return "-Infinity"
        case 0x0000, 0x4000: break
        default: return nil
        }
        var digits: [Int16] = []
        for _ in 0..<count {
            guard let digit = buffer.readInteger(as: Int16.self) else { return nil }
            digits.append(digit)
        }
        func digit(_ index: Int) -> Int16 { index >= 0 && index < digits.count ? digits[index] : 0 }
        var text = sign == 0x4000 ? "-" : ""
        if weight < 0 {
            text += "0"
        } else {
            for index in 0...Int(weight) {
                let group = String(digit(index))
                text += index == 0 ? group : String(repeating: "0", count: 4 - group.count) + group
            }
        }
        if scale > 0 {
            var fraction = ""
            var index = Int(weight) + 1
            while fraction.count < Int(scale) {
                let group = String(digit(index))
                fraction += String(repeating: "0", count: 4 - group.count) + group
                index += 1
            }
            text += "." + fraction.prefix(Int(scale))
        }
        return text
    }

    static func uuid(_ buffer: inout ByteBuffer) -> String? {
        guard buffer.readableBytes == 16, let bytes = buffer.readBytes(length: 16) else { return nil }
        let hex = bytes.map { String($0 >> 4, radix: 16) + String($0 & 15, radix: 16) }
        return [0..<4, 4..<6, 6..<8, 8..<10, 10..<16].map { hex[$0].joined() }.joined(separator: "-")
    }

    /// `days` after 2000-01-01.
    static func date(days: Int32) -> String {
        if days == Int32.max { return "infinity" }
        if days == Int32.min { return "-infinity" }
        let (year, month, day) = civil(daysSince1970: Int64(days) + 10957)
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
    }

    /// `microseconds` after midnight: `HH:MM:SS`, and a fraction when there
    /// is one (trailing zeros dropped, as PostgreSQL prints it).
    static func time(microseconds: Int64) -> String {
        let seconds = microseconds / 1_000_000
        let fraction = microseconds % 1_000_000
        var text = "\(pad(seconds / 3600, 2)):\(pad(seconds / 60 % 60, 2)):\(pad(seconds % 60, 2))"
        if fraction != 0 {
            var digits = pad(fraction, 6)
            while digits.hasSuffix("0") { digits.removeLast() }
            text += "." + digits
        }
        return text
    }

    /// `microseconds` after 2000-01-01T00:00:00; `utc` adds the `Z`.
    static func timestamp(_ microseconds: Int64, utc: Bool) -> String {
        if microseconds == Int64.max { return "infinity" }
        if microseconds == Int64.min { return "-infinity" }
        var days = microseconds / day
        var rest = microseconds % day
        if rest < 0 {
            days -= 1
            rest += day
        }
        let (year, month, dayOfMonth) = civil(daysSince1970: days + 10957)
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(dayOfMonth, 2))T\(time(microseconds: rest))\(utc ? "Z" : "")"
    }

    /// `+02:00`, `-05:30`, `+00:00`.
    static func offset(secondsEast: Int) -> String {
        let sign = secondsEast < 0 ? "-" : "+"
        let minutes = abs(secondsEast) / 60
        return "\(sign)\(pad(minutes / 60, 2)):\(pad(minutes % 60, 2))"
    }

    /// PostgreSQL's `postgres` interval style: `1 year 2 mons 3 days 04:05:06`.
    static func interval(microseconds: Int64, days: Int32, months: Int32) -> String {
        var parts: [String] = []
        let years = months / 12
        let mons = months % 12
        if years != 0 { parts.append("\(years) year\(abs(years) == 1 ? "" : "s")") }
        if mons != 0 { parts.append("\(mons) mon\(abs(mons) == 1 ? "" : "s")") }
        if days != 0 { parts.append("\(days) day\(abs(days) == 1 ? "" : "s")") }
        if microseconds != 0 || parts.isEmpty {
            let clock = time(microseconds: abs(microseconds))
            parts.append(microseconds < 0 ? "-" + clock : clock)
        }
        return parts.joined(separator: " ")
    }

    /// Year, month and day of a day count from 1970-01-01 in the proleptic
    /// Gregorian calendar (the civil-from-days algorithm by H. Hinnant).
    private static func civil(daysSince1970: Int64) -> (Int64, Int64, Int64) {
        let z = daysSince1970 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    private static func pad<T: BinaryInteger>(_ value: T, _ width: Int) -> String {
        let text = String(value.magnitude)
        let padded = String(repeating: "0", count: max(0, width - text.count)) + text
        return value < 0 ? "-" + padded : padded
    }
}
