/// The version of microdot-lua: the last release of CHANGELOG.md. Sent in
/// `microdot.http`'s `User-Agent`.
public enum MicrodotVersion {
    public static let string = "0.1.0"
}
