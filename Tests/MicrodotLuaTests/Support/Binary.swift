import XCTest

/// Runs the built `microdot-lua` binary (`.build/debug`, built by `make test`).
enum Binary {
    struct Result {
        var status: Int32
        var output: String
        var process: Process
        var pipe: Pipe

        /// Stops a process left running (SIGTERM) and returns everything it
        /// wrote after `output`, up to its exit.
        func terminateAndRead() -> String {
            process.terminate()
            let rest = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return String(decoding: rest, as: UTF8.self)
        }
    }

    /// Runs to the end, or (with `until`) returns once the output contains
    /// that text, leaving the process running.
    static func run(_ arguments: [String], until text: String? = nil) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestPaths.packageRoot + "/.build/debug/microdot-lua")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        if let text {
            var output = ""
            let deadline = Date().addingTimeInterval(20)
            while !output.contains(text), Date() < deadline, process.isRunning {
                output += String(decoding: pipe.fileHandleForReading.availableData, as: UTF8.self)
            }
            return Result(status: 0, output: output, process: process, pipe: pipe)
        }
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return Result(status: process.terminationStatus, output: output, process: process, pipe: pipe)
    }
}
