-- wrk: every request uploads a 1 MiB body (POST, Content-Length).
wrk.method = "POST"
wrk.body = string.rep("x", 1024 * 1024)
wrk.headers["Content-Type"] = "application/octet-stream"

dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "report.lua")
