/// The request methods llhttp (and so NIO's decoder) accepts, spelled as
/// they must be sent (RFC 9110 section 9.1: case-sensitive). Any other
/// method is refused with 400, as NIO's decoder refuses it.
public enum RequestMethods {
    public static let names: [StaticString] = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
        "COPY", "LOCK", "MKCOL", "MOVE", "PROPFIND", "PROPPATCH", "SEARCH", "UNLOCK", "BIND", "REBIND",
        "UNBIND", "ACL", "REPORT", "MKACTIVITY", "CHECKOUT", "MERGE", "M-SEARCH", "NOTIFY", "SUBSCRIBE",
        "UNSUBSCRIBE", "PURGE", "MKCALENDAR", "LINK", "UNLINK", "SOURCE", "QUERY",
    ]

    public static let get = 0
    public static let connect = 5

    /// The index of the method in `bytes[start..<start+count]`, or nil.
    @inline(__always)
    static func lookup(_ bytes: UnsafeRawBufferPointer, start: Int, count: Int) -> Int? {
        // The common ones first, without a loop.
        if count == 3 && bytes[start] == 0x47 && bytes[start + 1] == 0x45 && bytes[start + 2] == 0x54 { return get }
        for (index, name) in names.enumerated() where name.utf8CodeUnitCount == count {
            var equal = true
            for offset in 0..<count where bytes[start + offset] != name.utf8Start[offset] {
                equal = false
                break
            }
            if equal { return index }
        }
        return nil
    }
}
