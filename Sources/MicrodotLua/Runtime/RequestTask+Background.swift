import CLua
import NIOHTTP1

/// The driver running background work (section 18 of the spec): a timer's
/// run, `on_start`, a `microdot.spawn` coroutine. The Lua side is
/// `microdot.background.run(id)`, which calls the job's function; what it
/// yields is handled as a request's suspensions are.
extension RequestTask {
    /// A task for `run`, writing nowhere; `finished` is called once it ends.
    static func background(
        _ run: BackgroundRun, worker: Worker, finished: @escaping (RequestTask) -> Void
    ) -> RequestTask {
        let sink = BackgroundSink()
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/")
        let task = RequestTask(worker: worker, sink: sink, request: ReceivedRequest(head: head), background: run)
        sink.onFinish = { [unowned task] in finished(task) }
        return task
    }

    func startBackground(_ run: BackgroundRun) {
        lua_rawgeti(thread, mdl_registryindex(), lua_Integer(worker.backgroundFunction))
        lua_pushinteger(thread, lua_Integer(run.id))
        resume(arguments: 1)
    }

    /// `microdot.spawn`: starts background run `id` now; it runs until its
    /// first suspension (or its end) before this task goes on.
    func spawn(_ id: Int) {
        worker.background.spawn(id, from: self)
    }

    /// This task's scope ended: close the coroutines it spawned and its
    /// pub/sub subscriptions.
    func closeOwned() {
        let spawned = children
        children = [:]
        for child in spawned.values { child.close() }
        let opened = subscriptions
        subscriptions = []
        for subscription in opened { worker.pubsub.close(subscription) }
    }

    /// Stops the task: a suspended coroutine is woken with "request
    /// cancelled" (its to-be-closed variables run as it unwinds); one that
    /// catches that and waits again is closed (`lua_resetthread`) as it is.
    func close() {
        cancel()
        guard !isFinished else { return }
        switch state {
        case .sleeping(let scheduled): scheduled.cancel()
        case .awaiting(let call): call.cancel()
        case .waiting(let key, let timeout):
            timeout?.cancel()
            worker.unregisterWaiter(key, self)
        case .waitingForBody(let stream): stream.onAvailable = nil
        case .webSocket: (webSocket ?? spawnedIn?.webSocket)?.forget(self)
        case .running, .waitingForWritable, .sendingFile, .finished: return
        }
        state = .running
        _ = worker.lua.runProtected(on: thread) { lua_resetthread(thread) }
        finish()
    }
}
