/// `redis://[[user]:password@]host[:port][/db]` read in Swift (for
/// `--shared`), by the same rules as `redis.connect` in redis.lua: the
/// scheme in any case, `%XX` escapes in user and password, IPv6 hosts in
/// brackets, port 6379 and database 0 by default, no query or fragment.
struct RedisURL {
    /// Why a URL was refused: "a port out of 1-65535", "no host"...
    struct Invalid: Error, CustomStringConvertible {
        let description: String
    }

    var host: String
    var port = 6379
    var user: String?
    var password: String?
    var database = 0

    init(_ url: String) throws(Invalid) {
        let bytes = Array(url.utf8)
        let scheme = Array("redis://".utf8)
        guard bytes.count >= scheme.count,
            zip(bytes, scheme).allSatisfy({ $0 | 0x20 == $1 | 0x20 })
        else { throw Invalid(description: "not a redis:// URL") }
        var rest = String(decoding: bytes[scheme.count...], as: UTF8.self)
        if rest.contains(where: { $0 == "?" || $0 == "#" }) { throw Invalid(description: "a query or fragment") }
        if let at = rest.lastIndex(of: "@") {
            let userinfo = rest[..<at]
            guard let colon = userinfo.firstIndex(of: ":") else {
                throw Invalid(description: "no ':' before the password")
            }
            let user = Self.unescape(userinfo[..<colon])
            self.user = user.isEmpty ? nil : user
            password = Self.unescape(userinfo[userinfo.index(after: colon)...])
            rest = String(rest[rest.index(after: at)...])
        }
        var hostPort = rest
        if let slash = rest.firstIndex(of: "/") {
            hostPort = String(rest[..<slash])
            let db = rest[rest.index(after: slash)...]
            if !db.isEmpty {
                guard db.allSatisfy({ $0.isASCII && $0.isNumber }), let number = Int(db) else {
                    throw Invalid(description: "a database that is not a number")
                }
                database = number
            }
        }
        var portText = ""
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else { throw Invalid(description: "no host") }
            host = String(hostPort[hostPort.index(after: hostPort.startIndex)..<close])
            let after = hostPort[hostPort.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw Invalid(description: "a port that is not a number") }
                portText = String(after.dropFirst())
            }
        } else if let colon = hostPort.firstIndex(of: ":") {
            host = String(hostPort[..<colon])
            portText = String(hostPort[hostPort.index(after: colon)...])
        } else {
            host = hostPort
        }
        if host.isEmpty { throw Invalid(description: "no host") }
        if !portText.isEmpty {
            guard portText.allSatisfy({ $0.isASCII && $0.isNumber }), let number = Int(portText) else {
                throw Invalid(description: "a port that is not a number")
            }
            guard (1...65535).contains(number) else { throw Invalid(description: "a port out of 1-65535") }
            port = number
        }
    }

    /// The endpoint with pool and timeouts as `redis.connect`'s defaults.
    func endpoint(poolSize: Int = 10, connectTimeout: Double = 5, timeout: Double = 10) -> RedisEndpoint {
        RedisEndpoint(
            host: host, port: port, user: user, password: password, database: database, poolSize: poolSize,
            connectTimeout: connectTimeout, timeout: timeout)
    }

    private static func unescape(_ text: Substring) -> String {
        var bytes: [UInt8] = []
        var index = text.utf8.startIndex
        let utf8 = text.utf8
        while index < utf8.endIndex {
            let byte = utf8[index]
            if byte == UInt8(ascii: "%"), let first = utf8.index(index, offsetBy: 1, limitedBy: utf8.endIndex),
                let second = utf8.index(first, offsetBy: 1, limitedBy: utf8.endIndex), second < utf8.endIndex,
                let value = UInt8(String(decoding: [utf8[first], utf8[second]], as: UTF8.self), radix: 16)
            {
                bytes.append(value)
                index = utf8.index(after: second)
            } else {
                bytes.append(byte)
                index = utf8.index(after: index)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
