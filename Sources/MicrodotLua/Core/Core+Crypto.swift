import CLua
import CLuaRuntime
import Crypto

/// Cryptography for the extensions (microdot.session's JWT cookies,
/// microdot.auth's Basic credentials), on swift-crypto:
/// `core.hmac_sha256(key, message)`, `core.hmac_sha256_verify(key, message,
/// mac)`, `core.b64url_encode(bytes)` and `core.a2b_base64(text)`. Lua
/// strings are bytes both ways.
enum CoreCrypto: CoreArea {
    static func register(in core: CoreTable) {
        core.set("hmac_sha256", hmac)
        core.set("hmac_sha256_verify", verify)
        core.set("b64url_encode", b64urlEncode)
        core.set("a2b_base64", a2bBase64)
    }

    /// The bytes of the string at `index`, or nil when it is not a string.
    private static func bytes(_ L: OpaquePointer, _ index: Int32) -> [UInt8]? {
        guard lua_type(L, index) == LUA_TSTRING else { return nil }
        return LuaStack(L).withBytes(at: index) { Array($0) }
    }

    private static func push(_ L: OpaquePointer, _ bytes: some Sequence<UInt8>) {
        let array = Array(bytes)
        array.withUnsafeBytes { LuaStack(L).push(bytes: $0) }
    }

    /// `core.hmac_sha256(key, message)`: the 32-byte HMAC-SHA256 of
    /// `message` under `key`.
    private static let hmac: mdl_SwiftFunction = { L in
        let L = L!
        guard let key = bytes(L, 1), let message = bytes(L, 2) else {
            return LuaStack(L).raise("hmac_sha256 expects two strings")
        }
        let code = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key))
        push(L, code)
        return 1
    }

    /// `core.hmac_sha256_verify(key, message, mac)`: whether `mac` is the
    /// HMAC-SHA256 of `message` under `key`, compared in constant time.
    private static let verify: mdl_SwiftFunction = { L in
        let L = L!
        guard let key = bytes(L, 1), let message = bytes(L, 2), let mac = bytes(L, 3) else {
            return LuaStack(L).raise("hmac_sha256_verify expects three strings")
        }
        let valid = HMAC<SHA256>.isValidAuthenticationCode(
            mac, authenticating: message, using: SymmetricKey(data: key))
        lua_pushboolean(L, valid ? 1 : 0)
        return 1
    }

    /// `core.b64url_encode(bytes)`: base64url (RFC 4648 section 5) without
    /// padding, as JWT segments are written.
    private static let b64urlEncode: mdl_SwiftFunction = { L in
        let L = L!
        guard let input = bytes(L, 1) else { return LuaStack(L).raise("b64url_encode expects a string") }
        LuaStack(L).push(Base64.urlEncode(input))
        return 1
    }

    /// `core.a2b_base64(text)`: the bytes of `text` decoded as Python's
    /// `binascii.a2b_base64` (not strict), or nil and a message when that
    /// raises.
    private static let a2bBase64: mdl_SwiftFunction = { L in
        let L = L!
        guard let input = bytes(L, 1) else { return LuaStack(L).raise("a2b_base64 expects a string") }
        switch Base64.a2b(input) {
        case .success(let decoded):
            push(L, decoded)
            return 1
        case .failure(let error):
            lua_pushnil(L)
            LuaStack(L).push(error.message)
            return 2
        }
    }
}

/// Base64 as the extensions need it: unpadded base64url for writing JWTs,
/// and Python's lenient `binascii.a2b_base64` for reading them (PyJWT's
/// `base64url_decode`) and Basic credentials (Microdot's `BasicAuth`).
enum Base64 {
    /// Why `a2b` failed: binascii.Error's text.
    struct DecodingError: Error, Equatable {
        /// The message Python gives.
        let message: String
    }

    private static let urlAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// `bytes` in base64url without `=` padding.
    static func urlEncode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index + 3 <= bytes.count {
            let n = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            out += [18, 12, 6, 0].map { urlAlphabet[Int((n >> $0) & 63)] }
            index += 3
        }
        switch bytes.count - index {
        case 1:
            let n = UInt32(bytes[index]) << 16
            out += [18, 12].map { urlAlphabet[Int((n >> $0) & 63)] }
        case 2:
            let n = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8
            out += [18, 12, 6].map { urlAlphabet[Int((n >> $0) & 63)] }
        default:
            break
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The value of a standard base64 character (`A-Z a-z 0-9 + /`), or nil.
    private static func value(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): byte - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): byte - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0") + 52
        case UInt8(ascii: "+"): 62
        case UInt8(ascii: "/"): 63
        default: nil
        }
    }

    /// Decodes as CPython 3.11's `binascii.a2b_base64(data, strict_mode=False)`:
    /// characters outside the alphabet are skipped; `=` after at least two
    /// data characters of a quantum counts as padding, and once the quantum
    /// is complete the rest of the input is ignored; a final quantum of one
    /// data character, or an unpadded one of two or three, is an error.
    static func a2b(_ input: [UInt8]) -> Result<[UInt8], DecodingError> {
        var out: [UInt8] = []
        out.reserveCapacity(input.count / 4 * 3 + 3)
        var quadPosition = 0
        var leftChar: UInt8 = 0
        var pads = 0
        var dataCharacters = 0
        for byte in input {
            if byte == UInt8(ascii: "=") {
                if quadPosition >= 2 {
                    pads += 1
                    if quadPosition + pads >= 4 { return .success(out) }
                }
                continue
            }
            guard let this = value(byte) else { continue }
            pads = 0
            dataCharacters += 1
            switch quadPosition {
            case 0:
                quadPosition = 1
                leftChar = this
            case 1:
                quadPosition = 2
                out.append(leftChar << 2 | this >> 4)
                leftChar = this & 0x0f
            case 2:
                quadPosition = 3
                out.append(leftChar << 4 | this >> 2)
                leftChar = this & 0x03
            default:
                quadPosition = 0
                out.append(leftChar << 6 | this)
                leftChar = 0
            }
        }
        if quadPosition == 1 {
            return .failure(
                DecodingError(
                    message: "Invalid base64-encoded string: number of data characters (\(dataCharacters))"
                        + " cannot be 1 more than a multiple of 4"))
        }
        if quadPosition != 0 { return .failure(DecodingError(message: "Incorrect padding")) }
        return .success(out)
    }
}
