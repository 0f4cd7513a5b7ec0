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
    /// The app's `Vary`, when `--gzip` writes it merged (`GzipPlan`).
    static let vary = HeaderOmission(rawValue: 1 << 8)

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
        (.vary, Array("vary".utf8)),
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
    /// `--gzip` compresses the file: its ETag is weak (the bytes differ
    /// from the file's), and it has no ranges (as nginx's gzip module).
    let compressing: Bool

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
        case .whole: return compressing ? Self.compressedOmission(appSet) : []
        case .partial: return .contentRange
        case .notModified: return compressing ? Self.compressedOmission(appSet).union(.notModified) : .notModified
        case .preconditionFailed, .unsatisfiable: return .fileError
        }
    }

    /// Compressed, the app's strong ETag is written weak by `writeHeaders`,
    /// and its `Accept-Ranges` goes.
    private static func compressedOmission(_ appSet: HeaderOmission) -> HeaderOmission {
        appSet.contains(.etag) ? [.etag, .acceptRanges] : .acceptRanges
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
    /// 21, when it compresses this response) the ETag turns weak (`W/`, so
    /// `If-Match` never matches and `If-None-Match` still does, RFC 9110
    /// section 8.8.3.2) and `Range` is ignored: the whole file goes out
    /// compressed with a 200, as nginx's gzip module answers.
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
        if compressing, let etag = validators.etag, !etag.starts(with: "W/".utf8) {
            validators.etag = Array("W/".utf8) + etag
        }
        let outcome = conditions.outcome(validators: validators, size: file.size, isGet: isGet, ranges: ranges)
        return FilePlan(
            outcome: outcome, file: file, validators: validators, appSet: appSet, compressing: compressing)
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
        if !appSet.contains(.etag) || compressing, let etag = validators.etag {
            buffer.writeStaticString("ETag: ")
            buffer.writeBytes(etag)
            buffer.writeStaticString("\r\n")
        }
        if !appSet.contains(.lastModified) {
            buffer.writeStaticString("Last-Modified: ")
            buffer.writeBytes(file.lastModified)
            buffer.writeStaticString("\r\n")
        }
        if case .partial(let range) = outcome {
            buffer.writeString("Content-Range: bytes \(range.lowerBound)-\(range.upperBound)/\(file.size)\r\n")
        } else if outcome == .whole, !appSet.contains(.acceptRanges), !compressing {
            buffer.writeStaticString("Accept-Ranges: bytes\r\n")
        }
    }
}
