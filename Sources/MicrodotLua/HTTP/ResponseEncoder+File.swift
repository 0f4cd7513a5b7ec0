import CLua
import NIOCore
import NIOHTTP1

/// App headers the server leaves out of a file response whose status it
/// changed (section 20 of the spec; what nginx drops).
struct HeaderOmission: OptionSet {
    let rawValue: UInt16

    static let contentType = HeaderOmission(rawValue: 1 << 0)
    static let contentEncoding = HeaderOmission(rawValue: 1 << 1)
    static let acceptRanges = HeaderOmission(rawValue: 1 << 2)
    static let etag = HeaderOmission(rawValue: 1 << 3)
    static let lastModified = HeaderOmission(rawValue: 1 << 4)
    static let cacheControl = HeaderOmission(rawValue: 1 << 5)
    static let expires = HeaderOmission(rawValue: 1 << 6)
    static let contentRange = HeaderOmission(rawValue: 1 << 7)

    /// A 304 keeps the validators, `Cache-Control`, `Vary` and the rest,
    /// not the body's own headers (RFC 9110 section 15.4.5, nginx).
    static let notModified: HeaderOmission = [.contentType, .contentEncoding, .acceptRanges, .contentRange]
    /// A 412 or 416 is a short text about the file, not the file: nothing
    /// of its representation or caching stays (nginx's error answers).
    static let fileError: HeaderOmission = [
        .contentType, .contentEncoding, .acceptRanges, .etag, .lastModified, .cacheControl, .expires, .contentRange,
    ]

    private static let names: [(HeaderOmission, [UInt8])] = [
        (.contentType, Array("content-type".utf8)), (.contentEncoding, Array("content-encoding".utf8)),
        (.acceptRanges, Array("accept-ranges".utf8)), (.etag, Array("etag".utf8)),
        (.lastModified, Array("last-modified".utf8)), (.cacheControl, Array("cache-control".utf8)),
        (.expires, Array("expires".utf8)), (.contentRange, Array("content-range".utf8)),
    ]

    /// Whether the header `name` (a token) is one of these.
    func contains(name: UnsafeRawBufferPointer) -> Bool {
        for (member, lowercase) in Self.names where contains(member) {
            if ResponseEncoder.equalsIgnoringASCIICase(name, lowercase: lowercase) { return true }
        }
        return false
    }
}

/// How a `send_file` answer of status 200 to a GET or HEAD goes out once
/// the request's conditions are applied.
struct FilePlan {
    let outcome: FileOutcome
    let file: OpenFile
    /// The validators compared: the app's `ETag` and `Last-Modified` when it
    /// set them, else the file's.
    let validators: FileValidators
    /// Which of `ETag`, `Last-Modified` and `Accept-Ranges` the app set
    /// (then not added).
    let appSet: HeaderOmission

    var status: Int {
        switch outcome {
        case .whole: return 200
        case .notModified: return 304
        case .preconditionFailed: return 412
        case .partial: return 206
        case .unsatisfiable: return 416
        }
    }

    var omission: HeaderOmission {
        switch outcome {
        case .whole: return []
        case .partial: return .contentRange
        case .notModified: return .notModified
        case .preconditionFailed, .unsatisfiable: return .fileError
        }
    }

    /// The short text body of a 412 or 416.
    var errorBody: StaticString? {
        switch outcome {
        case .preconditionFailed: return "Precondition failed"
        case .unsatisfiable: return "Range not satisfiable"
        case .whole, .notModified, .partial: return nil
        }
    }

    /// Reads the app's validators from the response table at `response` and
    /// applies `conditions`. With `compressing` (the `--gzip` of section
    /// 21, when it compresses this response) the ETag is to turn weak and
    /// ranges are off; nothing sets it yet.
    static func make(
        _ L: OpaquePointer, response: Int32, file: OpenFile, conditions: FileConditions, isGet: Bool,
        compressing: Bool = false
    ) -> FilePlan {
        var appSet: HeaderOmission = []
        var validators = FileValidators()
        var ranges = !compressing
        if LuaStack(L).rawField("headers", of: response) == LUA_TTABLE {
            let headers = lua_gettop(L)
            lua_pushnil(L)
            while lua_next(L, headers) != 0 {
                let name = LuaStack(L).withBytes(at: -2) { name -> HeaderOmission in
                    if HeaderOmission.etag.contains(name: name) { return .etag }
                    if HeaderOmission.lastModified.contains(name: name) { return .lastModified }
                    return HeaderOmission.acceptRanges.contains(name: name) ? .acceptRanges : []
                }
                if let name, !name.isEmpty {
                    // A value that is not a string (an array) is set, but compares with nothing.
                    let value = LuaStack(L).withBytes(at: -1) { Array($0) }
                    appSet.insert(name)
                    if name == .etag {
                        validators.etag = value
                    } else if name == .lastModified {
                        validators.lastModified = value.flatMap { HTTPDate.parse($0) }
                    } else if let value, EntityTags.trim(value[...]).elementsEqual("none".utf8) {
                        ranges = false
                    }
                }
                mdl_pop(L, 1)
            }
        }
        mdl_pop(L, 1)
        if !appSet.contains(.etag) { validators.etag = file.etag }
        if !appSet.contains(.lastModified) { validators.lastModified = file.modified }
        let outcome = conditions.outcome(validators: validators, size: file.size, isGet: isGet, ranges: ranges)
        return FilePlan(outcome: outcome, file: file, validators: validators, appSet: appSet)
    }

    /// The headers the server adds: the validators the app did not set
    /// (not on a 412 or 416), `Accept-Ranges` on a 200, `Content-Range` on
    /// a 206 or 416, and the text type of a 412 or 416 body.
    func writeHeaders(into buffer: inout ByteBuffer) {
        switch outcome {
        case .preconditionFailed, .unsatisfiable:
            buffer.writeStaticString("Content-Type: text/plain; charset=UTF-8\r\n")
            if outcome == .unsatisfiable { buffer.writeString("Content-Range: bytes */\(file.size)\r\n") }
            return
        case .whole, .notModified, .partial:
            break
        }
        if !appSet.contains(.etag) {
            buffer.writeStaticString("ETag: ")
            buffer.writeBytes(file.etag)
            buffer.writeStaticString("\r\n")
        }
        if !appSet.contains(.lastModified) {
            buffer.writeStaticString("Last-Modified: ")
            buffer.writeBytes(file.lastModified)
            buffer.writeStaticString("\r\n")
        }
        if case .partial(let range) = outcome {
            buffer.writeString("Content-Range: bytes \(range.lowerBound)-\(range.upperBound)/\(file.size)\r\n")
        } else if outcome == .whole, !appSet.contains(.acceptRanges) {
            buffer.writeStaticString("Accept-Ranges: bytes\r\n")
        }
    }
}
