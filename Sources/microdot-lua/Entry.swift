import ArgumentParser

/// `microdot-lua app.lua [flags]` serves; `microdot-lua routes ...` and
/// `microdot-lua check ...` inspect. Only a first argument spelled exactly
/// `routes` or `check` is a subcommand: a script of that name is given as
/// `./routes`.
@main
enum Entry {
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        switch arguments.first {
        case "routes": RoutesCommand.main(Array(arguments.dropFirst()))
        case "check": CheckCommand.main(Array(arguments.dropFirst()))
        default: MicrodotLuaCommand.main(arguments)
        }
    }
}
