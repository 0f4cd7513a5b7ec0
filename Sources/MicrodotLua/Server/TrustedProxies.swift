import NIOHTTP1

/// `--trusted-proxy`: the networks whose forwarding headers are believed.
/// From a peer inside one, `Forwarded` (RFC 7239), else `X-Forwarded-For`,
/// names the client: hops are read right to left, trusted ones skipped, and
/// the first untrusted one is the client (nginx's `real_ip_recursive on`); a
/// hop that is not an IP address (`unknown`, `_hidden`) stops the walk at
/// the last address reached. The scheme is the chosen element's `proto`,
/// else the last `X-Forwarded-Proto`; only `http` and `https` count. A
/// malformed header is ignored, and so is every header from other peers.
struct TrustedProxies: Sendable {
    let networks: [IPNetwork]
    /// The connection's own scheme: `https` under `--tls-cert`.
    let scheme: String

    init(_ networks: [IPNetwork] = [], scheme: String = "http") {
        self.networks = networks
        self.scheme = scheme
    }

    /// What `req.client_addr` and `req.scheme` say for a request from `peer`.
    struct Client: Equatable {
        var host: String
        var port: Int
        var scheme: String
    }

    func client(peer: (host: String, port: Int), headers: HTTPHeaders) -> Client {
        let direct = Client(host: peer.host, port: peer.port, scheme: scheme)
        guard !networks.isEmpty, let address = IPAddress(peer.host), trusts(address) else { return direct }
        var client = direct
        var proto: String?
        if let elements = Self.forwardedElements(Self.lines(headers, "forwarded")) {
            var chosen: [String: Substring]?
            for element in elements.reversed() {
                guard let node = element["for"].flatMap(Self.node) else { break }
                (client.host, client.port) = (node.address.text, node.port)
                chosen = element
                if !trusts(node.address) { break }
            }
            proto = chosen?["proto"].map { String($0) }
        } else if let hops = Self.forwardedFor(Self.lines(headers, "x-forwarded-for")) {
            for hop in hops.reversed() {
                guard let address = IPAddress(hop) else { break }
                (client.host, client.port) = (address.text, 0)
                if !trusts(address) { break }
            }
        }
        if proto == nil {
            proto = Self.lines(headers, "x-forwarded-proto").last?.split(separator: ",").last.map { String($0) }
        }
        if let scheme = proto?.trimmed().lowercased(), scheme == "http" || scheme == "https" {
            client.scheme = scheme
        }
        return client
    }

    func trusts(_ address: IPAddress) -> Bool {
        networks.contains { $0.contains(address) }
    }

    // MARK: Header grammar

    private static func lines(_ headers: HTTPHeaders, _ name: String) -> [Substring] {
        headers[name].map { Substring($0) }
    }

    /// The elements of `Forwarded` (all its lines, as one list), each a map
    /// of lower-cased parameter names to values, quotes removed; nil when
    /// absent or malformed (RFC 7239 section 4; whitespace around `,` and
    /// `;` is allowed, as senders add it; a repeated parameter is malformed).
    static func forwardedElements(_ lines: [Substring]) -> [[String: Substring]]? {
        guard !lines.isEmpty else { return nil }
        var elements: [[String: Substring]] = []
        var element: [String: Substring] = [:]
        for line in lines {
            var rest = line.utf8[...]
            while true {
                rest = rest.drop { $0 == 0x20 || $0 == 0x09 }
                if let separator = rest.first, separator == UInt8(ascii: ",") || separator == UInt8(ascii: ";") {
                    if separator == UInt8(ascii: ",") {
                        elements.append(element)
                        element = [:]
                    }
                    rest = rest.dropFirst()
                    continue
                }
                guard !rest.isEmpty else { break }
                let name = rest.prefix(while: isTokenByte)
                rest = rest.dropFirst(name.count)
                guard !name.isEmpty, rest.first == UInt8(ascii: "=") else { return nil }
                rest = rest.dropFirst()
                let value: Substring
                if rest.first == UInt8(ascii: "\"") {
                    guard let quoted = quotedString(rest) else { return nil }
                    value = quoted.value
                    rest = quoted.rest
                } else {
                    let token = rest.prefix(while: isTokenByte)
                    guard !token.isEmpty else { return nil }
                    value = Substring(String(decoding: token, as: UTF8.self))
                    rest = rest.dropFirst(token.count)
                }
                let key = String(decoding: name, as: UTF8.self).lowercased()
                guard element[key] == nil else { return nil }
                element[key] = value
                let next = rest.drop { $0 == 0x20 || $0 == 0x09 }
                guard next.isEmpty || next.first == UInt8(ascii: ",") || next.first == UInt8(ascii: ";") else {
                    return nil
                }
            }
            elements.append(element)
            element = [:]
        }
        // An empty element between commas (`a, , b`) is allowed by the list
        // rule (RFC 9110 section 5.6.1) and carries nothing.
        elements.removeAll { $0.isEmpty }
        return elements.isEmpty ? nil : elements
    }

    /// A quoted-string at the start of `text`: its content with `\`
    /// escapes resolved, and what follows; nil when it does not end.
    private static func quotedString(_ text: Substring.UTF8View) -> (value: Substring, rest: Substring.UTF8View)? {
        var bytes: [UInt8] = []
        var index = text.index(after: text.startIndex)
        while index < text.endIndex {
            let byte = text[index]
            if byte == UInt8(ascii: "\"") {
                return (Substring(decoding: bytes, as: UTF8.self), text[text.index(after: index)...])
            }
            if byte == UInt8(ascii: "\\") {
                index = text.index(after: index)
                guard index < text.endIndex else { return nil }
            } else if byte < 0x20 && byte != 0x09 || byte == 0x7F {
                return nil
            }
            bytes.append(text[index])
            index = text.index(after: index)
        }
        return nil
    }

    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }

    /// A `for` node (RFC 7239 section 6): `192.0.2.1`, `192.0.2.1:80`,
    /// `[2001:db8::1]`, `[2001:db8::1]:80`, an obfuscated port (`_p`) being
    /// port 0. Nil for `unknown`, obfuscated names and anything else.
    static func node(_ text: Substring) -> (address: IPAddress, port: Int)? {
        var host = text
        var portText: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            let after = text[text.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { return nil }
                portText = after.dropFirst()
            }
            guard host.contains(":"), let address = IPAddress(host) else { return nil }
            guard let port = nodePort(portText) else { return nil }
            return (address, port)
        }
        if let colon = text.firstIndex(of: ":") {
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        // IPv6 must be bracketed (RFC 7239 section 6).
        guard !host.contains(":"), let address = IPAddress(host), let port = nodePort(portText) else { return nil }
        return (address, port)
    }

    private static func nodePort(_ text: Substring?) -> Int? {
        guard let text else { return 0 }
        if text.hasPrefix("_") { return text.count > 1 ? 0 : nil }
        guard (1...5).contains(text.utf8.count), text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let port = Int(text),
            port <= 65535
        else { return nil }
        return port
    }

    /// The hops of `X-Forwarded-For` (all its lines, as one list), trimmed;
    /// nil when absent or malformed (an empty hop, a control character). A
    /// bracketed IPv6 hop loses its brackets.
    static func forwardedFor(_ lines: [Substring]) -> [Substring]? {
        guard !lines.isEmpty else { return nil }
        var hops: [Substring] = []
        for line in lines {
            for part in line.split(separator: ",", omittingEmptySubsequences: false) {
                var hop = part.trimmed()
                guard !hop.isEmpty, !hop.utf8.contains(where: { $0 <= 0x20 || $0 >= 0x7F }) else { return nil }
                if hop.hasPrefix("["), hop.hasSuffix("]") { hop = hop.dropFirst().dropLast() }
                hops.append(hop)
            }
        }
        return hops
    }
}

extension Substring {
    /// Without leading and trailing spaces and tabs (HTTP's OWS).
    fileprivate func trimmed() -> Substring {
        let start = firstIndex { $0 != " " && $0 != "\t" } ?? endIndex
        let end = lastIndex { $0 != " " && $0 != "\t" }.map { index(after: $0) } ?? start
        return self[start..<Swift.max(start, end)]
    }
}

extension String {
    fileprivate func trimmed() -> String { String(Substring(self).trimmed()) }
}

extension Worker {
    /// This worker, believing the forwarding headers of `configuration`'s
    /// trusted proxies (the test client's peer is 127.0.0.1).
    func trusting(_ configuration: Configuration) -> Worker {
        trustedProxies = configuration.trustedNetworks
        return self
    }
}
