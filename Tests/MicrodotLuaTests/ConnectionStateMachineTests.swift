import NIOCore
import XCTest

@testable import MicrodotLua

/// The connection's decisions, one state machine at a time: events in,
/// actions out, time from a fake clock. No sockets, no sleeps.
final class ConnectionStateMachineTests: XCTestCase {
    /// Time that moves only when the test says so.
    private struct FakeClock {
        private(set) var now = NIODeadline.uptimeNanoseconds(1_000_000_000)

        mutating func advance(_ seconds: Double) {
            now = now + .nanoseconds(Int64(seconds * 1e9))
        }
    }

    private let timeouts = Timeouts(requestHead: 10, idle: 60, body: 30, write: 5)

    // MARK: Read deadlines

    func testTheFirstRequestHeadMustArriveWithinItsTimeout() {
        var clock = FakeClock()
        var deadlines = ConnectionDeadlines(timeouts: timeouts)
        deadlines.startReading(.requestHead, now: clock.now)
        clock.advance(9.9)
        XCTAssertNil(deadlines.expired(now: clock.now))
        clock.advance(0.1)
        XCTAssertEqual(deadlines.expired(now: clock.now), .requestHead)
        XCTAssertNil(deadlines.expired(now: clock.now), "an expiry is reported once")
    }

    func testEachBodyReadRestartsTheBodyTimeout() {
        var clock = FakeClock()
        var deadlines = ConnectionDeadlines(timeouts: timeouts)
        deadlines.startReading(.body, now: clock.now)
        clock.advance(20)
        deadlines.startReading(.body, now: clock.now)
        clock.advance(20)
        XCTAssertNil(deadlines.expired(now: clock.now), "40 s in, but only 20 s since the last read")
        clock.advance(10)
        XCTAssertEqual(deadlines.expired(now: clock.now), .body)
    }

    func testAKeptAliveConnectionWaitsTheIdleTimeoutForTheNextRequest() {
        var clock = FakeClock()
        var deadlines = ConnectionDeadlines(timeouts: timeouts)
        deadlines.startReading(.nextRequest, now: clock.now)
        clock.advance(59)
        XCTAssertNil(deadlines.expired(now: clock.now))
        clock.advance(1)
        XCTAssertEqual(deadlines.expired(now: clock.now), .nextRequest)
    }

    func testAWholeRequestStopsTheReadDeadline() {
        var clock = FakeClock()
        var deadlines = ConnectionDeadlines(timeouts: timeouts)
        deadlines.startReading(.body, now: clock.now)
        deadlines.stopReading()
        clock.advance(3600)
        XCTAssertNil(deadlines.expired(now: clock.now))
    }

    func testAZeroTimeoutWaitsForever() {
        var clock = FakeClock()
        var deadlines = ConnectionDeadlines(timeouts: Timeouts(requestHead: 0, idle: 0, body: 0, write: 0))
        deadlines.startReading(.requestHead, now: clock.now)
        deadlines.writabilityChanged(isWritable: false, now: clock.now)
        clock.advance(1e6)
        XCTAssertNil(deadlines.expired(now: clock.now))
        XCTAssertFalse(deadlines.writeExpired(now: clock.now))
    }

    // MARK: Write deadline

    func testAStuckResponseTimesOutAndWritabilityStopsTheClock() {
        var clock = FakeClock()
        var deadlines = ConnectionDeadlines(timeouts: timeouts)
        deadlines.writabilityChanged(isWritable: true, now: clock.now)
        clock.advance(100)
        XCTAssertFalse(deadlines.writeExpired(now: clock.now), "a writable channel has no write deadline")
        deadlines.writabilityChanged(isWritable: false, now: clock.now)
        clock.advance(4.9)
        XCTAssertFalse(deadlines.writeExpired(now: clock.now))
        deadlines.writabilityChanged(isWritable: true, now: clock.now)
        clock.advance(10)
        XCTAssertFalse(deadlines.writeExpired(now: clock.now), "the client took the bytes")
        deadlines.writabilityChanged(isWritable: false, now: clock.now)
        clock.advance(5)
        XCTAssertTrue(deadlines.writeExpired(now: clock.now))
        XCTAssertFalse(deadlines.writeExpired(now: clock.now), "reported once")
    }

    /// security/06: a download longer than the write timeout, read steadily.
    func testProgressKeepsASlowButSteadyDownloadGoing() {
        var clock = FakeClock()
        var deadlines = ConnectionDeadlines(timeouts: timeouts)
        deadlines.writabilityChanged(isWritable: false, now: clock.now)
        for _ in 0..<100 {
            clock.advance(1)
            deadlines.wroteSome(now: clock.now)
            XCTAssertFalse(deadlines.writeExpired(now: clock.now), "a part went out every second")
        }
        clock.advance(5)
        XCTAssertTrue(deadlines.writeExpired(now: clock.now), "then nothing for the write timeout")
    }

    func testProgressOnAWritableChannelArmsNothing() {
        var clock = FakeClock()
        var deadlines = ConnectionDeadlines(timeouts: timeouts)
        deadlines.wroteSome(now: clock.now)
        clock.advance(100)
        XCTAssertFalse(deadlines.writeExpired(now: clock.now))
    }

    // MARK: Lingering close

    private let lingering = Timeouts(write: 5, lingeringTime: 30, lingeringTimeout: 5)

    func testLingeringEndsWhenTheClientPausesForTheLingeringTimeout() {
        var clock = FakeClock()
        var deadlines = ConnectionDeadlines(timeouts: lingering)
        deadlines.startReading(.lingering, now: clock.now)
        clock.advance(4)
        XCTAssertTrue(deadlines.lingered(1000, now: clock.now))
        clock.advance(4)
        XCTAssertNil(deadlines.expired(now: clock.now), "a read restarted the lingering timeout")
        clock.advance(1)
        XCTAssertEqual(deadlines.expired(now: clock.now), .lingering)
    }

    func testLingeringEndsAfterTheLingeringTimeHoweverSteadyTheClient() {
        var clock = FakeClock()
        var deadlines = ConnectionDeadlines(timeouts: lingering)
        deadlines.startReading(.lingering, now: clock.now)
        for _ in 0..<29 {
            clock.advance(1)
            XCTAssertTrue(deadlines.lingered(10, now: clock.now))
            XCTAssertNil(deadlines.expired(now: clock.now))
        }
        clock.advance(0.5)
        XCTAssertNil(deadlines.expired(now: clock.now))
        clock.advance(0.5)
        XCTAssertEqual(deadlines.expired(now: clock.now), .lingering, "30 s in all")
        XCTAssertFalse(deadlines.lingered(10, now: clock.now))
    }

    func testLingeringEndsAfterTooManyBytes() {
        let clock = FakeClock()
        var deadlines = ConnectionDeadlines(timeouts: lingering)
        deadlines.startReading(.lingering, now: clock.now)
        XCTAssertTrue(deadlines.lingered(ConnectionDeadlines.lingeringByteLimit, now: clock.now))
        XCTAssertFalse(deadlines.lingered(1, now: clock.now))
    }

    func testLingeringCanBeTurnedOff() {
        XCTAssertTrue(ConnectionDeadlines(timeouts: lingering).lingers)
        XCTAssertFalse(ConnectionDeadlines(timeouts: Timeouts(lingeringTime: 0)).lingers)
        XCTAssertFalse(ConnectionDeadlines(timeouts: Timeouts(lingeringTimeout: 0)).lingers)
    }

    func testAClosingConnectionLingersOnlyWhileTheClientMaySend() {
        var open = ConnectionLifecycle()
        XCTAssertEqual(open.requestFinished(keepAlive: false, isDraining: false, hasMore: false), .close)
        XCTAssertTrue(open.outputFlushed(isDraining: false, lingers: true))
        XCTAssertTrue(open.isLingering)
        XCTAssertEqual(open.inputClosed(isIdle: true), .close, "the client closed: so does the server")

        var halfClosed = ConnectionLifecycle()
        _ = halfClosed.inputClosed(isIdle: false)
        _ = halfClosed.requestFinished(keepAlive: false, isDraining: false, hasMore: false)
        XCTAssertFalse(halfClosed.outputFlushed(isDraining: false, lingers: true), "nothing more can come")

        var draining = ConnectionLifecycle()
        _ = draining.shutdownRequested(isIdle: true, isReceiving: false)
        XCTAssertFalse(draining.outputFlushed(isDraining: true, lingers: true), "shutdown does not wait")

        var off = ConnectionLifecycle()
        XCTAssertFalse(off.outputFlushed(isDraining: false, lingers: false))

        var slow = ConnectionLifecycle()
        XCTAssertEqual(slow.readTimedOut(.requestHead, isIdle: true), .rejectAndClose(.requestTimeout))
        XCTAssertFalse(slow.outputFlushed(isDraining: false, lingers: true), "a slow client is not waited for")

        var idle = ConnectionLifecycle()
        XCTAssertEqual(idle.readTimedOut(.nextRequest, isIdle: true), .close)
        XCTAssertFalse(idle.outputFlushed(isDraining: false, lingers: true), "an idle one neither")
    }

    // MARK: Request queue

    private final class Task {
        let name: String
        init(_ name: String) { self.name = name }
    }

    func testPipelinedRequestsRunOneAtATimeInArrivalOrder() {
        var queue = RequestQueue<String, Task>()
        queue.append("first")
        queue.append("second")
        XCTAssertEqual(queue.next(), "first")
        queue.started(Task("first"))
        XCTAssertNil(queue.next(), "the second waits while the first runs")
        XCTAssertEqual(queue.running?.name, "first")
        queue.finished()
        XCTAssertEqual(queue.next(), "second")
        queue.started(Task("second"))
        queue.finished()
        XCTAssertNil(queue.next())
        XCTAssertTrue(queue.isIdle)
    }

    func testReadingPausesWhileARequestRunsOrWaitsAndResumesOnce() {
        var queue = RequestQueue<String, Task>()
        XCTAssertEqual(queue.readRequested(), .read, "an idle connection reads")
        queue.append("waiting")
        XCTAssertEqual(queue.readRequested(), .hold)
        XCTAssertFalse(queue.takeHeldRead(), "not while a request waits")
        _ = queue.next()
        queue.started(Task("running"))
        XCTAssertEqual(queue.readRequested(), .hold)
        XCTAssertFalse(queue.takeHeldRead(), "not while a request runs")
        queue.finished()
        XCTAssertTrue(queue.takeHeldRead())
        XCTAssertFalse(queue.takeHeldRead(), "a held read is issued once")
    }

    /// security/03: a client that pipelines and reads nothing.
    func testNothingStartsAndNothingIsReadWhileTheClientTakesNoResponse() {
        var queue = RequestQueue<String, Task>()
        queue.append("a")
        queue.append("b")
        XCTAssertEqual(queue.next(), "a")
        queue.started(Task("a"))
        queue.outputWritable(false)
        queue.finished()
        XCTAssertNil(queue.next(), "b waits until the client takes a's response")
        XCTAssertEqual(queue.readRequested(), .hold)
        queue.outputWritable(true)
        XCTAssertEqual(queue.next(), "b")
        queue.started(Task("b"))
        queue.finished()
        queue.outputWritable(false)
        XCTAssertEqual(queue.readRequested(), .hold, "idle, but the responses are not taken")
        XCTAssertFalse(queue.takeHeldRead())
        queue.outputWritable(true)
        XCTAssertTrue(queue.takeHeldRead())
    }

    func testDroppingTheWaitingRequestsKeepsTheRunningOne() {
        var queue = RequestQueue<String, Task>()
        queue.append("a")
        queue.append("b")
        _ = queue.next()
        queue.started(Task("a"))
        queue.dropWaiting()
        XCTAssertFalse(queue.hasWaiting)
        XCTAssertEqual(queue.running?.name, "a")
        queue.finished()
        XCTAssertNil(queue.next())
    }

    // MARK: Closing and draining

    func testShutdownClosesAnIdleConnectionAtOnce() {
        var lifecycle = ConnectionLifecycle()
        XCTAssertEqual(lifecycle.shutdownRequested(isIdle: true, isReceiving: false), .close)
        XCTAssertFalse(lifecycle.acceptsRequests)
    }

    func testShutdownLetsABusyConnectionFinishItsRequests() {
        var lifecycle = ConnectionLifecycle()
        XCTAssertEqual(lifecycle.shutdownRequested(isIdle: false, isReceiving: false), .none)
        XCTAssertEqual(lifecycle.shutdownRequested(isIdle: true, isReceiving: true), .none, "a request is arriving")
        XCTAssertTrue(lifecycle.acceptsRequests)
        XCTAssertEqual(
            lifecycle.requestFinished(keepAlive: true, isDraining: true, hasMore: true), .none,
            "the pipelined requests still get answers")
        XCTAssertEqual(lifecycle.requestFinished(keepAlive: true, isDraining: true, hasMore: false), .close)
    }

    func testAResponseThatIsNotKeptAliveClosesTheConnection() {
        var lifecycle = ConnectionLifecycle()
        XCTAssertEqual(lifecycle.requestFinished(keepAlive: true, isDraining: false, hasMore: false), .none)
        XCTAssertEqual(lifecycle.requestFinished(keepAlive: false, isDraining: false, hasMore: true), .close)
        XCTAssertFalse(lifecycle.acceptsRequests)
    }

    func testAHalfClosedClientGetsItsAnswersBeforeTheClose() {
        var lifecycle = ConnectionLifecycle()
        XCTAssertEqual(lifecycle.inputClosed(isIdle: false), .none)
        XCTAssertEqual(lifecycle.requestFinished(keepAlive: true, isDraining: false, hasMore: false), .none)
        XCTAssertEqual(lifecycle.queueIdle(), .close)
    }

    func testAnIdleOpenConnectionResumesReading() {
        var lifecycle = ConnectionLifecycle()
        XCTAssertEqual(lifecycle.queueIdle(), .resumeReading)
        XCTAssertEqual(lifecycle.inputClosed(isIdle: true), .close)
        XCTAssertEqual(lifecycle.queueIdle(), .none, "a closing connection reads nothing more")
    }

    func testAnUnreadableRequestIsAnsweredAtOnceWhenNothingIsInFlight() {
        var lifecycle = ConnectionLifecycle()
        XCTAssertEqual(lifecycle.requestUnreadable(.uriTooLong, isIdle: true), .rejectAndClose(.uriTooLong))
        XCTAssertFalse(lifecycle.acceptsRequests)
    }

    func testAnUnreadableRequestBehindAnotherOnlyEndsTheConnection() {
        var lifecycle = ConnectionLifecycle()
        XCTAssertEqual(lifecycle.requestUnreadable(.badRequest, isIdle: false), .closeAfterRunning)
        XCTAssertFalse(lifecycle.acceptsRequests)
        XCTAssertEqual(lifecycle.requestFinished(keepAlive: true, isDraining: false, hasMore: false), .close)
    }

    func testAParserErrorWhileLingeringChangesNothing() {
        var lifecycle = ConnectionLifecycle()
        XCTAssertEqual(lifecycle.requestFinished(keepAlive: false, isDraining: false, hasMore: false), .close)
        XCTAssertTrue(lifecycle.outputFlushed(isDraining: false, lingers: true))
        XCTAssertEqual(lifecycle.requestUnreadable(.badRequest, isIdle: true), .none)
        XCTAssertTrue(lifecycle.isLingering, "still reading and dropping")
    }

    func testAStalledRequestIsATimeoutAndAnUnusedConnectionClosesQuietly() {
        var stalled = ConnectionLifecycle()
        XCTAssertEqual(stalled.readTimedOut(.body, isIdle: true), .rejectAndClose(.requestTimeout))
        XCTAssertEqual(stalled.readTimedOut(.body, isIdle: true), .none, "already closing")

        var unused = ConnectionLifecycle()
        XCTAssertEqual(unused.readTimedOut(.nextRequest, isIdle: true), .close)
    }

    func testAClosedChannelTakesNoMoreRequests() {
        var lifecycle = ConnectionLifecycle()
        lifecycle.channelClosed()
        XCTAssertFalse(lifecycle.acceptsRequests)
        XCTAssertEqual(lifecycle.shutdownRequested(isIdle: true, isReceiving: false), .none)
    }
}
