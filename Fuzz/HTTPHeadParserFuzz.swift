// libFuzzer entry for the HTTPHeadParser target (`make fuzz`): compiled with
// its sources by `swiftc -sanitize=fuzzer,address`, no NIO. Each input is
// read as requests on one connection, the way `RequestDecoder` reads them,
// once whole and once in pieces; the invariants below must hold, and both
// readings must give the same parts (the socket may cut bytes anywhere).

/// A part read from the input, with copies of its bytes.
enum Part: Equatable {
    case head(method: Int, target: [UInt8], minor: Int, fields: [[UInt8]], framing: RequestHead.Framing)
    case body([UInt8])
    case end(trailers: Int)
    case failed(HeadError)
}

func check(_ condition: Bool, _ message: StaticString) {
    if !condition { fatalError("invariant: \(message)") }
}

/// Reads `input` arriving in pieces that end at `cuts` (offsets, ascending).
func read(_ input: [UInt8], cuts: [Int]) -> [Part] {
    let limits = HeadLimits(maxCountedBytes: 1024, maxFieldCount: 16)
    var parser = RequestHeadParser(limits: limits)
    var body = BodyDecoder(framing: .chunked)
    enum Phase { case head, body, trailers, stopped }
    var phase = Phase.head
    var parts: [Part] = []
    var reader = 0
    var bodyLeft: UInt64 = 0
    for end in cuts + [input.count] where end > reader {
        input[reader..<end].withUnsafeBytes { _ in }
        var progress = true
        while progress && phase != .stopped {
            progress = false
            input[reader..<end].withUnsafeBytes { bytes in
                switch phase {
                case .head, .trailers:
                    let result = parser.parse(bytes)
                    switch result {
                    case .needMore:
                        break
                    case .failed(let error):
                        parts.append(.failed(error))
                        phase = .stopped
                    case .complete:
                        let head = parser.head
                        check(head.length > 0 && head.length <= bytes.count, "head length within the bytes")
                        for field in head.fields {
                            check(field.nameCount > 0, "names are not empty")
                            check(
                                field.nameStart >= 0 && field.valueStart >= field.nameStart + field.nameCount,
                                "a value follows its name")
                            check(field.valueStart + field.valueCount <= head.length, "fields within the head")
                            for index in field.nameStart..<field.nameStart + field.nameCount {
                                check(bytes[index] != 0x3A && bytes[index] > 0x20, "names are tokens")
                            }
                            for index in field.valueStart..<field.valueStart + field.valueCount {
                                check(
                                    bytes[index] != 0x0D && bytes[index] != 0x0A && bytes[index] != 0,
                                    "values hold no CR, LF or NUL")
                            }
                        }
                        check(head.fields.count <= limits.maxFieldCount, "the field limit holds")
                        let fields = head.fields.map {
                            Array(bytes[$0.nameStart..<$0.valueStart + $0.valueCount])
                        }
                        if phase == .trailers {
                            parts.append(.end(trailers: fields.count))
                            phase = .head
                        } else {
                            check(
                                head.targetCount > 0 && head.targetStart + head.targetCount < head.length,
                                "the target within the request line")
                            check(head.versionMinor == 0 || head.versionMinor == 1, "HTTP/1.0 or 1.1")
                            check(head.method < RequestMethods.names.count, "a known method")
                            let target = Array(bytes[head.targetStart..<head.targetStart + head.targetCount])
                            check(!target.contains(0x20) && !target.contains(0x0D), "no SP or CR in the target")
                            parts.append(
                                .head(
                                    method: head.method, target: target, minor: head.versionMinor, fields: fields,
                                    framing: head.framing))
                            switch head.framing {
                            case .none:
                                parts.append(.end(trailers: 0))
                                phase = head.isUpgrade || !head.keepAlive ? .stopped : .head
                            case .length(let length):
                                bodyLeft = length
                                body = BodyDecoder(framing: head.framing)
                                phase = .body
                            case .chunked:
                                body = BodyDecoder(framing: head.framing)
                                phase = .body
                            }
                            if phase == .head { parser.reset() }
                        }
                        if phase == .head { parser.reset() }
                        reader += head.length
                        progress = true
                    }
                case .body:
                    switch body.decode(bytes) {
                    case .data(let start, let count):
                        check(start >= 0 && count > 0 && start + count <= bytes.count, "data within the bytes")
                        if bodyLeft > 0 {
                            check(UInt64(count) <= bodyLeft, "no more data than Content-Length")
                            bodyLeft -= UInt64(count)
                        }
                        if case .body(let previous) = parts.last {
                            parts[parts.count - 1] = .body(previous + bytes[start..<start + count])
                        } else {
                            parts.append(.body(Array(bytes[start..<start + count])))
                        }
                        reader += start + count
                        progress = true
                    case .needMore(let consumed):
                        check(consumed >= 0 && consumed <= bytes.count, "consumed within the bytes")
                        reader += consumed
                    case .trailers(let consumed):
                        check(consumed > 0 && consumed <= bytes.count, "consumed within the bytes")
                        reader += consumed
                        parser.resetForTrailers()
                        phase = .trailers
                        progress = true
                    case .end(let consumed):
                        check(consumed >= 0 && consumed <= bytes.count, "consumed within the bytes")
                        check(bodyLeft == 0, "a Content-Length body ends after its length")
                        reader += consumed
                        parts.append(.end(trailers: 0))
                        parser.reset()
                        phase = .head
                        progress = true
                    case .failed(let error):
                        parts.append(.failed(error))
                        phase = .stopped
                    }
                case .stopped:
                    break
                }
            }
        }
    }
    return parts
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    // Where the input is cut comes from its bytes, so that the seeds are
    // requests as they are sent.
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    let seed = (size &* 31 &+ Int(input[size / 2]) &+ Int(input[size - 1])) % 251
    var cuts: [Int] = []
    if seed != 0 {
        var offset = 0
        var step = seed % 7 + 1
        while offset + step < input.count {
            offset += step
            cuts.append(offset)
            step = (step * 5 + seed) % 13 + 1
        }
    }
    let whole = read(input, cuts: [])
    let pieces = read(input, cuts: cuts)
    check(whole == pieces, "the same parts however the bytes are cut")
    return 0
}
