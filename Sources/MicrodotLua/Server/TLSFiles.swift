import NIOSSL

#if canImport(Glibc)
    import Glibc
#endif

/// A TLS certificate or key file that cannot be used (`--tls-cert`,
/// `--tls-key`): missing, unreadable, not PEM, or a key that is not the
/// certificate's. `MicrodotServer.start` throws it; the binary prints it and
/// exits 1.
public struct TLSError: Error, CustomStringConvertible, Sendable {
    /// The file at fault, as given.
    public let path: String
    /// `--tls-cert` or `--tls-key`.
    public let flag: String
    /// One line naming the file and the problem, e.g. `cannot load the TLS
    /// certificate /etc/app/cert.pem: No such file or directory`.
    public let message: String
    /// The message.
    public var description: String { message }
}

/// Loads `--tls-cert` and `--tls-key` into the server's TLS context: TLS 1.2
/// or later, ALPN `http/1.1` (RFC 7301), the certificate file's whole chain
/// (leaf first) sent to clients.
package enum TLSFiles {
    /// The server context for `certificate` (PEM, one or more certificates)
    /// and `key` (PEM, unencrypted); throws `TLSError` naming the file at
    /// fault, or the key when it does not match the certificate.
    package static func context(certificate: String, key: String) throws(TLSError) -> NIOSSLContext {
        let certificateBytes = try read(certificate, flag: "--tls-cert", what: "TLS certificate")
        let keyBytes = try read(key, flag: "--tls-key", what: "TLS private key")
        let chain = (try? NIOSSLCertificate.fromPEMBytes(certificateBytes)) ?? []
        guard !chain.isEmpty else {
            throw TLSError(
                path: certificate, flag: "--tls-cert",
                message: "cannot load the TLS certificate \(certificate): not a PEM certificate "
                    + "(-----BEGIN CERTIFICATE-----)")
        }
        let privateKey: NIOSSLPrivateKey
        do {
            privateKey = try NIOSSLPrivateKey(bytes: keyBytes, format: .pem)
        } catch {
            throw TLSError(
                path: key, flag: "--tls-key",
                message: "cannot load the TLS private key \(key): not an unencrypted PEM private key "
                    + "(-----BEGIN PRIVATE KEY-----)")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(privateKey))
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = ["http/1.1"]
        do {
            // BoringSSL refuses a key that is not the leaf certificate's.
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw TLSError(
                path: key, flag: "--tls-key",
                message: "the TLS private key \(key) does not match the certificate \(certificate) (\(error))")
        }
    }

    /// The file's bytes; the error gives the system's reason (`No such file
    /// or directory`, `Permission denied`, `Is a directory`).
    private static func read(_ path: String, flag: String, what: String) throws(TLSError) -> [UInt8] {
        func failure(_ reason: String) -> TLSError {
            TLSError(path: path, flag: flag, message: "cannot load the \(what) \(path): \(reason)")
        }
        guard !path.isEmpty else { throw failure("the path is empty") }
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw failure(String(cString: strerror(errno))) }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count == 0 { break }
            if count < 0 {
                if errno == EINTR { continue }
                throw failure(String(cString: strerror(errno)))
            }
            bytes += chunk[0..<count]
            // Certificates and keys are a few KiB; a huge file is a mistake.
            if bytes.count > 16 * 1024 * 1024 { throw failure("larger than 16 MiB, not a PEM file") }
        }
        return bytes
    }
}
