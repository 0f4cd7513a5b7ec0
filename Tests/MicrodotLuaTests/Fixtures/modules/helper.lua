local M = {}
function M.greet(name) return "hello from " .. name end
return M
