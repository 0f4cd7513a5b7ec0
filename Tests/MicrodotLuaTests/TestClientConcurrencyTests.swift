import Dispatch
import MicrodotLuaTesting
import XCTest

@testable import MicrodotLua

/// Issue 12: `MicrodotTestClient` never blocks a thread of Swift
/// concurrency, so clients whose scripts await an async Swift function at
/// their top level can be made in parallel on a small pool.
final class TestClientConcurrencyTests: XCTestCase {
    /// The async function runs on `pool` when given: it then needs one of
    /// the pool's threads, as a task of Swift's global pool needs one of its.
    private func app(_ index: Int, pool: FixedThreadPool? = nil) -> MicrodotApp {
        let module = LuaModule("slow").asyncFunction("value") { arguments in
            guard let pool else { return arguments.first ?? .nil }
            return try await withTaskExecutorPreference(pool) {
                try await Task.sleep(nanoseconds: 20_000_000)
                return arguments.first ?? .nil
            }
        }
        return MicrodotApp(
            source: """
                local microdot = require("microdot")
                local slow = require("slow")
                local loaded = slow.value(\(index))
                local app = microdot.Microdot()
                app:get("/", function(req) return tostring(loaded) .. "/" .. tostring(slow.value("r")) end)
                return app
                """, modules: [module])
    }

    func testEightClientsWithAsyncTopLevelCallsFinishInParallel() async throws {
        // Found on a 2-core machine: Swift's cooperative pool had 2 threads,
        // and clients that each blocked one waiting for a task that needed
        // one never finished. The clients and the async function share a
        // pool of exactly 2 threads here, whatever the machine. A watchdog
        // ends a hang.
        let pool = FixedThreadPool(threads: 2)
        defer { pool.stop() }
        let finished = DispatchSemaphore(value: 0)
        let watchdog = Thread {
            if finished.wait(timeout: .now() + 60) == .timedOut {
                fatalError("8 parallel MicrodotTestClients did not finish in 60 s: a blocked thread")
            }
        }
        watchdog.start()
        defer { finished.signal() }
        let apps = (1...8).map { (index: $0, app: app($0, pool: pool)) }
        let texts = try await withThrowingTaskGroup(of: (Int, String).self) { group in
            for (index, app) in apps {
                group.addTask(executorPreference: pool) {
                    let client = try await MicrodotTestClient(app: app)
                    return (index, try await client.get("/").text)
                }
            }
            var texts: [Int: String] = [:]
            for try await (index, text) in group { texts[index] = text }
            return texts
        }
        XCTAssertEqual(texts, Dictionary(uniqueKeysWithValues: (1...8).map { ($0, "\($0)/r") }))
    }

    func testTheBlockingInitializerRefusesToRunInATask() async throws {
        let app = self.app(1)
        let blocking: () throws -> MicrodotTestClient = { try MicrodotTestClient(app: app) }
        XCTAssertThrowsError(try blocking()) { error in
            XCTAssertTrue("\(error)".contains("try await MicrodotTestClient(app:)"), "\(error)")
        }
    }

    func testTheBlockingInitializerWorksOutsideTasks() throws {
        let client = try MicrodotTestClient(app: app(2))
        XCTAssertEqual(client.shared.capacity, SharedStore.defaultCapacity)
    }
}

/// A task executor with a fixed number of threads (a model of Swift's
/// cooperative pool on a small machine).
final class FixedThreadPool: TaskExecutor, @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var stopped = false

    init(threads: Int) {
        for _ in 0..<threads { Thread { [self] in run() }.start() }
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    private func run() {
        while true {
            condition.lock()
            while jobs.isEmpty && !stopped { condition.wait() }
            if jobs.isEmpty {
                condition.unlock()
                return
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}
