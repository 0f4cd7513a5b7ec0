import NIOCore

/// The slices `HTTPConnectionHandler` cuts a large write into, to see its
/// progress.
extension IOData {
    /// The length of the last `progressSlice` of a sliced write: the whole
    /// of a small one.
    var lastSliceLength: Int {
        let size = readableBytes
        let slice = HTTPConnectionHandler.progressSlice
        guard size > slice else { return size }
        let rest = size % slice
        return rest == 0 ? slice : rest
    }

    /// The last slice (`lastSliceLength` bytes); self when it is whole.
    var lastSlice: IOData {
        let length = lastSliceLength
        guard length < readableBytes else { return self }
        switch self {
        case .byteBuffer(let buffer):
            return .byteBuffer(buffer.getSlice(at: buffer.writerIndex - length, length: length)!)
        case .fileRegion(let region):
            return .fileRegion(
                FileRegion(
                    fileHandle: region.fileHandle, readerIndex: region.endIndex - length, endIndex: region.endIndex))
        }
    }
}
