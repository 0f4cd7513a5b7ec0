import Logging

/// What `microdot-lua routes` and `microdot-lua check` read from an app
/// (as `flask routes` and `nginx -t` do): the script is loaded as a worker
/// loads it, and nothing listens.
public struct AppInspection: Sendable {
    /// One route, in matching order.
    public struct Route: Sendable, Equatable {
        /// The methods it was added with (HEAD and OPTIONS, answered for
        /// every GET route, are implicit and not listed).
        public let methods: [String]
        /// The whole pattern: a mounted app's routes with their prefix.
        public let pattern: String
        /// "app.lua:5", where the app's function behind the handler is
        /// defined (through wrappers such as `with_session` and `__call`);
        /// "static public/" for `app:static`'s.
        public let handler: String
    }

    /// The app's routes in the order they match.
    public let routes: [Route]
    /// Templates in the template folder that do not compile, each as
    /// "templates/page.html:3: message"; empty unless asked for.
    public let templateProblems: [String]
}

extension MicrodotApp {
    /// Loads the app as a worker would, without serving it, and reads its
    /// routes; with `compilingTemplates`, compiles every file in its
    /// template folder too. Throws `LuaError` (file:line) when the script
    /// does not load or does not give an app.
    public func inspect(logger: Logger = Logger(label: "microdot-lua"), compilingTemplates: Bool = false) throws
        -> AppInspection
    {
        let worker = try Worker(app: self, logger: logger)
        guard case .array(let rows) = try worker.inspectRoutes() else {
            return AppInspection(routes: [], templateProblems: try templateProblems(in: worker, compilingTemplates))
        }
        let routes = rows.map { row in
            AppInspection.Route(
                methods: row["methods"].arrayElements.compactMap(\.string),
                pattern: row["pattern"].string ?? "", handler: row["handler"].string ?? "?")
        }
        return AppInspection(routes: routes, templateProblems: try templateProblems(in: worker, compilingTemplates))
    }

    private func templateProblems(in worker: Worker, _ wanted: Bool) throws -> [String] {
        guard wanted else { return [] }
        let folder = try worker.templateFolder()
        return try Worker.files(under: folder.path).compactMap { try worker.templateProblem($0) }
    }
}

extension LuaValue {
    fileprivate var arrayElements: [LuaValue] {
        if case .array(let elements) = self { return elements }
        return []
    }
}
