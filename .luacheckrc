-- luacheck (Debian's lua-check): `make lint` runs it over every Lua file.
std = "lua54"
-- Handlers take (req, ...), hooks (req, res) and methods self, used or not;
-- a hook inside a handler names its request req again.
ignore = {"212", "43[12]/req"}
max_line_length = 140
max_cyclomatic_complexity = 20
exclude_files = {
  ".build*/**",
  -- The Python tools' virtual environment (matplotlib ships Lua files).
  ".venv/**",
  "examples/embed/.build/**",
  -- Deliberately broken scripts the start-up tests load.
  "Tests/MicrodotLuaTests/Fixtures/syntax_error.lua",
}
