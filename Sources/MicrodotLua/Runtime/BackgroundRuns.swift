import NIOCore

/// One run of background work: job `id` of `microdot.background` (Lua),
/// which holds its function and arguments.
struct BackgroundRun {
    let id: Int
    /// How the log names it: `timer (app.lua:3)`.
    let label: String
    /// A `microdot.spawn` coroutine: its end wakes whoever waits on `id`.
    let spawned: Bool
}

/// A worker's timers (`microdot.timer.at/every`), `on_start` runs and
/// spawned coroutines (section 18 of the spec; OpenResty's `ngx.timer` and
/// `ngx.thread.spawn`). Each run is a `RequestTask` with a background entry,
/// so it sleeps, waits and is stopped by the time budget as a request is.
/// Only the worker's loop touches it.
final class BackgroundRuns {
    /// Past this many timers waiting to run, `timer.at/every` refuse more.
    static let maxPending = 1024

    private unowned let worker: Worker
    private struct Timer {
        /// `every`'s interval; nil for `at`.
        let interval: Double?
        let label: String
        var scheduled: Scheduled<Void>?
        var run: RequestTask?
    }
    private var timers: [Int: Timer] = [:]
    /// Timers scheduled and not yet running.
    private(set) var pendingCount = 0
    /// Every run under way: timers, `on_start`, spawned coroutines.
    private var running: [ObjectIdentifier: RequestTask] = [:]
    /// Spawned coroutines under way, by job id.
    private var spawned: [Int: RequestTask] = [:]
    /// Set once the worker serves: timers need a serving worker.
    private(set) var serving = false
    /// Shutdown or reload: pending timers are dropped, no new ones run.
    private(set) var stopping = false
    private var idle: EventLoopPromise<Void>?

    init(worker: Worker) {
        self.worker = worker
    }

    var runningCount: Int { running.count }

    /// The worker serves: its `on_start` functions run (background run 0
    /// makes each a timer of no delay).
    func startServing() {
        guard !serving, worker.eventLoop != nil else { return }
        serving = true
        launch(BackgroundRun(id: 0, label: "on_start", spawned: false), spawnedIn: nil)
    }

    /// `timer.at` (`interval` nil) and `timer.every`: schedules job `id`;
    /// returns the error to raise, or nil. While stopping, the timer is
    /// dropped at once, as pending ones are.
    func startTimer(_ id: Int, delay: Double, interval: Double?, label: String) -> String? {
        guard serving, let loop = worker.eventLoop else { return "microdot.timer: use microdot.on_start" }
        if stopping { return nil }
        guard pendingCount < Self.maxPending else {
            return "microdot.timer: too many pending timers (\(Self.maxPending) on this worker)"
        }
        timers[id] = Timer(interval: interval, label: label)
        schedule(id, after: delay, on: loop)
        return nil
    }

    private func schedule(_ id: Int, after delay: Double, on loop: EventLoop) {
        pendingCount += 1
        let delay = TimeAmount.nanoseconds(Int64(min(max(delay, 0), 1e9) * 1e9))
        timers[id]?.scheduled = loop.assumeIsolated().scheduleTask(in: delay) { [self] in fire(id) }
    }

    private func fire(_ id: Int) {
        guard let timer = timers[id], timer.scheduled != nil else { return }
        pendingCount -= 1
        timers[id]?.scheduled = nil
        launch(BackgroundRun(id: id, label: "timer (\(timer.label))", spawned: false), spawnedIn: nil) { task in
            self.timers[id]?.run = task
        }
    }

    /// `handle:cancel()` from `current` (the task whose Lua calls it):
    /// drops the timer's pending run and stops one under way (later, on the
    /// loop: Lua is running now), unless it is the caller's own. True when
    /// a run was left to stop.
    func cancelTimer(_ id: Int, from current: RequestTask?) -> Bool {
        guard let timer = timers.removeValue(forKey: id) else { return false }
        var stopped = timer.interval != nil
        if let scheduled = timer.scheduled {
            scheduled.cancel()
            pendingCount -= 1
            stopped = true
        }
        if let run = timer.run, run !== current {
            stopped = true
            worker.eventLoop?.assumeIsolated().execute { run.close() }
        }
        return stopped
    }

    /// `microdot.spawn` in `parent`: job `id` starts now. It is closed when
    /// the parent's request ends (or, outside a request, the parent's run).
    func spawn(_ id: Int, from parent: RequestTask) {
        launch(BackgroundRun(id: id, label: "a spawned coroutine", spawned: true), spawnedIn: parent.scope ?? parent)
    }

    /// `thread:cancel()`: stops spawned coroutine `id` (on the loop, as for
    /// a timer). True when it was running.
    func cancelSpawned(_ id: Int, from current: RequestTask?) -> Bool {
        guard let task = spawned[id], task !== current else { return false }
        worker.eventLoop?.assumeIsolated().execute { task.close() }
        return true
    }

    /// Starts `run`; `prepare` sees its task before it runs (it may end at once).
    private func launch(_ run: BackgroundRun, spawnedIn owner: RequestTask?, prepare: (RequestTask) -> Void = { _ in })
    {
        let task = RequestTask.background(run, worker: worker) { [unowned self] in finished($0) }
        running[ObjectIdentifier(task)] = task
        if run.spawned { spawned[run.id] = task }
        if let owner {
            task.spawnedIn = owner
            owner.children[ObjectIdentifier(task)] = task
        }
        prepare(task)
        task.start()
    }

    private func finished(_ task: RequestTask) {
        running[ObjectIdentifier(task)] = nil
        if let owner = task.spawnedIn {
            owner.children[ObjectIdentifier(task)] = nil
            task.spawnedIn = nil
        }
        if let run = task.background {
            if run.spawned {
                spawned[run.id] = nil
                worker.wake(run.id)
            } else if let timer = timers[run.id], timer.run === task {
                timers[run.id]?.run = nil
                if let interval = timer.interval, !stopping, let loop = worker.eventLoop {
                    schedule(run.id, after: interval, on: loop)
                } else {
                    timers[run.id] = nil
                }
            }
        }
        if running.isEmpty, let idle {
            self.idle = nil
            idle.succeed()
        }
    }

    /// Shutdown or reload: drops the pending timers; the future completes
    /// once the runs under way have ended (`closeRunning` ends them).
    func retire(on loop: EventLoop) -> EventLoopFuture<Void> {
        stopping = true
        for timer in timers.values { timer.scheduled?.cancel() }
        timers = timers.filter { $0.value.run != nil }
        pendingCount = 0
        if running.isEmpty { return loop.makeSucceededVoidFuture() }
        if let idle { return idle.futureResult }
        let promise = loop.makePromise(of: Void.self)
        idle = promise
        return promise.futureResult
    }

    /// The shutdown timeout is over: closes every run still under way.
    func closeRunning() {
        for task in Array(running.values) { task.close() }
    }
}
