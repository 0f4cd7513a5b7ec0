import Dispatch
import Logging

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `--reload`: polls the modification times of the script and of the Lua
/// files in its folder (the modules it may `require`), and calls `changed`
/// when any of them changes. Polling needs no platform file-watching API and
/// costs a few `stat` calls twice a second.
final class Reloader: @unchecked Sendable {
    private let root: String
    private let script: String
    private let timer: DispatchSourceTimer
    private var fingerprint: [String: timespec]

    /// Folders deeper than this, and more files than that, are not watched.
    private static let maxDepth = 4
    private static let maxFiles = 2000

    init(root: String, script: String, logger: Logger, changed: @escaping @Sendable () -> Void) {
        self.root = root
        self.script = script
        fingerprint = [:]
        timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "microdot-lua.reload"))
        fingerprint = currentFingerprint()
        timer.setEventHandler { [self] in
            let now = currentFingerprint()
            guard !Self.same(now, fingerprint) else { return }
            fingerprint = now
            logger.info("change detected, reloading")
            changed()
        }
        timer.schedule(deadline: .now() + .milliseconds(500), repeating: .milliseconds(500))
        timer.resume()
    }

    func stop() {
        timer.cancel()
    }

    private static func same(_ a: [String: timespec], _ b: [String: timespec]) -> Bool {
        a.count == b.count
            && a.allSatisfy { path, time in
                guard let other = b[path] else { return false }
                return other.tv_sec == time.tv_sec && other.tv_nsec == time.tv_nsec
            }
    }

    private func currentFingerprint() -> [String: timespec] {
        var files: [String: timespec] = [:]
        record(script, into: &files)
        scan(root, depth: 0, into: &files)
        return files
    }

    private func record(_ path: String, into files: inout [String: timespec]) {
        var info = stat()
        guard stat(path, &info) == 0 else { return }
        #if canImport(Darwin)
            files[path] = info.st_mtimespec
        #else
            files[path] = info.st_mtim
        #endif
    }

    private func scan(_ folder: String, depth: Int, into files: inout [String: timespec]) {
        guard depth <= Self.maxDepth, let directory = opendir(folder) else { return }
        defer { closedir(directory) }
        while files.count < Self.maxFiles, let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { bytes in
                String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard !name.hasPrefix(".") else { continue }
            let path = folder + "/" + name
            if entry.pointee.d_type == UInt8(DT_DIR) {
                scan(path, depth: depth + 1, into: &files)
            } else if name.hasSuffix(".lua") {
                record(path, into: &files)
            }
        }
    }
}
