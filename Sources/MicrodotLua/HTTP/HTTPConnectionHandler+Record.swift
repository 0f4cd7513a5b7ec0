import NIOCore
import NIOHTTP1

extension HTTPConnectionHandler {
    /// A request refused unread (400, 408, 414, 431, 501, 505) ends here:
    /// its record goes to the access log and the metrics, with its head
    /// when one was read. Returns the response's `Date` line, followed by
    /// the request id's header while logging.
    func recordCut(_ error: ServerErrorResponse, head: HTTPRequestHead?, date: [UInt8]) -> [UInt8] {
        guard let observer = worker.observer else { return date }
        let id = observer.logs ? (head.map { RequestID.make($0.headers) } ?? RequestID.random()) : nil
        let client = head.map { worker.trustedProxies.client(peer: clientAddress, headers: $0.headers).host }
        let record = RequestRecord(
            head: head, route: "", status: error.status, bytes: error.message.utf8CodeUnitCount, duration: 0,
            requestID: id, client: client ?? clientAddress.host)
        observer.recordEnded(record)
        return id.map { date + RequestID.headerLine($0) } ?? date
    }
}
