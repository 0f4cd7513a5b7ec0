import NIOCore
import NIOPosix

/// The `errno` behind a failed connection (`ECONNREFUSED`...): an `IOError`'s,
/// or the first one among the attempts a `NIOConnectionError` collects
/// (one per address tried). Nil for other errors.
func connectionErrno(of error: Error) -> Int32? {
    if let error = error as? IOError { return error.errnoCode }
    if let error = error as? NIOConnectionError {
        for attempt in error.connectionErrors {
            if let code = connectionErrno(of: attempt.error) { return code }
        }
    }
    return nil
}
