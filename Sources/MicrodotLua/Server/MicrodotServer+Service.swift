import ServiceLifecycle

/// A started server is a swift-service-lifecycle `Service`: a Swift program
/// runs it in a `ServiceGroup` beside its other services, and the group's
/// signals (`gracefulShutdownSignals: [.sigterm]`) stop it gracefully.
extension MicrodotServer: Service {
    /// Serves until the server has stopped, then returns. Graceful shutdown
    /// of the group (a signal it handles, `triggerGracefulShutdown()`) and
    /// cancelling the task both call `shutdown()`: no new connections,
    /// requests under way finish (up to `shutdownTimeout` seconds), and
    /// `run()` returns once they have. `app:shutdown()` in Lua and
    /// `shutdown()` end it too; a `ServiceGroup` takes such an early return
    /// as the service failing unless it is configured with
    /// `successTerminationBehavior: .gracefullyShutdownGroup`.
    public func run() async throws {
        try await withTaskCancellationHandler {
            try await withGracefulShutdownHandler {
                try await waitUntilStopped()
            } onGracefulShutdown: { [self] in
                shutdown()
            }
        } onCancel: { [self] in
            shutdown()
        }
    }
}
