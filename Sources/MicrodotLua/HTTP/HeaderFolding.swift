/// A request header sent more than once reaches the app as one value: the
/// values in arrival order, joined with `, ` (RFC 9110 section 5.3), or with
/// `; ` for Cookie (RFC 9113 section 8.2.3, the way browsers join cookies).
enum HeaderFolding {
    /// `previous` and `value` of the header `name`, joined. Called only when
    /// a name repeats, so a request without repeats makes no String here.
    static func joined(_ previous: String, _ value: String, name: String) -> String {
        previous + (isCookie(name) ? "; " : ", ") + value
    }

    /// ASCII case-insensitive, without lower-casing a copy (`| 0x20` maps
    /// only `C` and `c` to `c`, and likewise for the other letters).
    private static func isCookie(_ name: String) -> Bool {
        name.utf8.count == 6 && name.utf8.elementsEqual("cookie".utf8) { $0 | 0x20 == $1 }
    }
}
