#if canImport(Glibc)
    import Glibc
#endif

/// The number of CPUs this process may run on (`taskset`, cpusets), read
/// from the `Cpus_allowed` mask in /proc/self/status; nil where there is none.
/// (Declaring `sched_getaffinity` needs `_GNU_SOURCE`, which would make the
/// C module's system headers differ from NIO's.)
enum CPUAffinity {
    static var allowedCPUCount: Int? {
        #if os(Linux)
            guard let file = fopen("/proc/self/status", "r") else { return nil }
            defer { fclose(file) }
            var line = [CChar](repeating: 0, count: 4096)
            while fgets(&line, Int32(line.count), file) != nil {
                let text = line.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
                guard text.hasPrefix("Cpus_allowed:") else { continue }
                let mask = text.dropFirst("Cpus_allowed:".count)
                let count = mask.reduce(0) { total, character in
                    total + (character.hexDigitValue?.nonzeroBitCount ?? 0)
                }
                return count > 0 ? count : nil
            }
            return nil
        #else
            return nil
        #endif
    }
}
