/// Byte classes of RFC 9110 section 5.6.2 (token) and 5.5 (field values),
/// and the request-target bytes llhttp takes.
enum CharacterClasses {
    /// tchar: `!#$%&'*+-.^_`|~`, digits and letters, as two 64-bit masks
    /// (bytes 0-63 and 64-127); no table to load.
    private static let tokenLow: UInt64 = 0x03ff_6cfa_0000_0000
    private static let tokenHigh: UInt64 = 0x57ff_ffff_c7ff_fffe

    @inline(__always)
    static func isToken(_ byte: UInt8) -> Bool {
        if byte < 64 { return tokenLow >> UInt64(byte) & 1 == 1 }
        if byte < 128 { return tokenHigh >> UInt64(byte - 64) & 1 == 1 }
        return false
    }

    /// field-vchar, SP and HTAB; obs-text (0x80-0xFF) is kept as received.
    /// DEL and the other controls are refused.
    @inline(__always)
    static func isFieldValue(_ byte: UInt8) -> Bool {
        (byte >= 0x20 && byte != 0x7F) || byte == .tab
    }

    /// Visible ASCII, and bytes from 0x80 (llhttp lets them through; the
    /// app sees them percent-decoded or not as it likes).
    @inline(__always)
    static func isTarget(_ byte: UInt8) -> Bool {
        byte > 0x20 && byte != 0x7F
    }

    static let httpSlash: [UInt8] = Array("HTTP/".utf8)

    @inline(__always)
    static func digit(_ byte: UInt8) -> Int? {
        byte >= 0x30 && byte <= 0x39 ? Int(byte - 0x30) : nil
    }
}

extension UInt8 {
    static let cr = UInt8(ascii: "\r")
    static let lf = UInt8(ascii: "\n")
    static let space = UInt8(ascii: " ")
    static let tab = UInt8(ascii: "\t")
}
